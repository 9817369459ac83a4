// A device's upload loop in its own process, for the kill -9 test
// (test_sync_kill.cpp): opens the journal and uploads batches until the backlog is
// empty. Usage: sync_upload_child URL CA CERT KEY JOURNAL DEVICE_ID BATCH_ROWS
#include "src/sync/sync_client.hpp"

#include <cstdio>
#include <cstdlib>

using namespace cp;

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: sync_upload_child URL CA CERT KEY JOURNAL DEVICE_ID BATCH_ROWS\n");
        return 2;
    }
    sync::HttpsConfig h;
    h.base_url = argv[1];
    h.ca_path = argv[2];
    h.cert_path = argv[3];
    h.key_path = argv[4];
    h.connect_timeout_s = 5;
    h.transfer_timeout_s = 30;
    journal::JournalOptions jo;
    jo.device_id = argv[6];
    jo.disk_floor_bytes = 0;
    auto j = journal::ScanJournal::open(argv[5], jo);
    if (!j) {
        std::fprintf(stderr, "journal: %s\n", j.error().describe().c_str());
        return 1;
    }
    auto http = sync::HttpsClient::create(h);
    if (!http) {
        std::fprintf(stderr, "https: %s\n", http.error().describe().c_str());
        return 1;
    }
    auto list = status::open_sqlite_status_list(std::string(argv[5]) + ".status");
    if (!list) return 1;
    crypto::TrustStore none;
    sync::SyncConfig sc;
    sc.device_id = argv[6];
    sc.batch_rows = static_cast<std::size_t>(std::strtoul(argv[7], nullptr, 10));
    sync::SyncClient client(sc, std::move(*http), **j, **list, none);
    for (int i = 0; i < 10'000; ++i) {  // bounded
        auto r = client.upload_once();
        if (!r) {
            std::fprintf(stderr, "upload: %s\n", r.error().describe().c_str());
            return 1;
        }
        if (r->sent == 0) return 0;
    }
    return 3;
}
