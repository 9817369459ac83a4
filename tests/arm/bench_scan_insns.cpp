// A fixed, single-threaded scan workload for instruction counting (tools/bench-arm):
// N scans of one synthetic 1280x720 camera frame holding a signed CP1 pass, each
// scan running the firmware's path decode -> verify -> status lookup, with what
// the tree has of it (stages print as compiled in). Everything that varies from
// run to run is fixed: the pass, its certificate and "now" come from a fixture
// directory, the decoder's time budget is out of reach, OpenCV runs one thread.
//
//   bench_scan_insns --write-fixture DIR       make the fixture (random key, once)
//   bench_scan_insns --fixture DIR --scans N [--stage all|decode|verify|lookup]
//
// The fixture: pass.txt (the QR text), issuer.pem (its certificate), and, when
// src/status is built, status.list (a signed list of 10,000 passes, the scanned
// one among them) that every run imports into a fresh SQLite store before scanning.
//
// tools/bench-arm runs it with two values of N under callgrind (x86-64) and
// qemu-aarch64 with an instruction-counting plugin (aarch64); the difference of
// the totals divided by the difference of N is the per-scan instruction count.
#include "src/cli/args.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/decode/decoder.hpp"
#include "src/pass/issuer.hpp"
#include "src/pass/verifier.hpp"
#if CHECKPOINT_BENCH_STATUS
#include "src/status/list_format.hpp"
#include "src/status/store.hpp"
#endif

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <opencv2/core.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr int kWidth = 1280;
constexpr int kHeight = 720;
constexpr std::int64_t kIssuedAt = 1'780'000'000;  // fixed clock: the pass is valid at kNow
constexpr std::int64_t kNow = kIssuedAt + 3600;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_scan_insns: %s\n", what.c_str());
    std::exit(1);
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) die("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void spit(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out) die("cannot write " + p.string());
}

int write_fixture(const fs::path& dir) {
    fs::create_directories(dir);
    auto key = cp::crypto::PrivateKey::generate_p256();
    if (!key) die("key: " + key.error().describe());
    auto cert = key->self_signed_certificate("Checkpoint bench issuer", kIssuedAt - 86400, 3650);
    if (!cert) die("certificate: " + cert.error().describe());
    cp::pass::Pass p;
    p.issuer = "CP-BENCH";
    p.issued_at = kIssuedAt;
    p.expires_at = kIssuedAt + 30LL * 86400;
    p.kind = cp::pass::Kind::resident;
    p.name = "J*** D***";
    p.grid = "AB-1234";
    for (std::size_t i = 0; i < p.id.size(); ++i) p.id[i] = static_cast<std::uint8_t>(i * 17 + 3);
    auto text = cp::pass::issue_cp1(p, *key, cp::crypto::kid_of(*cert));
    if (!text) die("issue: " + text.error().describe());
    spit(dir / "pass.txt", *text);
    spit(dir / "issuer.pem", cp::crypto::certificate_pem(*cert));
#if CHECKPOINT_BENCH_STATUS
    std::vector<cp::status::ListEntry> entries(10'000);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        for (std::size_t b = 0; b < p.id.size(); ++b)
            entries[i].id[b] = static_cast<std::uint8_t>((i * 2654435761U) >> (b % 4 * 8));
        entries[i].id[0] = static_cast<std::uint8_t>(i);
        entries[i].id[1] = static_cast<std::uint8_t>(i >> 8);
        entries[i].id[15] = 0xee;  // never equal to the pass id (its byte 15 is 0x00)
        entries[i].op = i % 7 == 0 ? cp::status::Op::red : cp::status::Op::green;
        entries[i].since = static_cast<std::uint32_t>(kIssuedAt);
    }
    entries[0].id = p.id;
    entries[0].op = cp::status::Op::green;
    cp::status::ListHeader h;
    h.version = 1;
    h.created_at = kIssuedAt;
    h.reasons = {"none", "isolation"};
    h.issuer = "CP-BENCH";
    auto list = cp::status::build_list(h, std::move(entries), *key, cp::crypto::kid_of(*cert));
    if (!list) die("status list: " + list.error().describe());
    spit(dir / "status.list", std::string(list->begin(), list->end()));
#endif
    std::printf("fixture in %s (%zu characters of QR text)\n", dir.string().c_str(), text->size());
    return 0;
}

// The pass as a camera would see it: black modules on white, 4 px per module,
// centred in a mid-grey frame.
std::vector<std::uint8_t> render_frame(const std::string& text) {
    ZXing::MultiFormatWriter writer(ZXing::BarcodeFormat::QRCode);
    writer.setMargin(4);
    const ZXing::BitMatrix m = writer.encode(std::wstring(text.begin(), text.end()), 0, 0);
    const int scale = 4;
    std::vector<std::uint8_t> frame(static_cast<std::size_t>(kWidth) * kHeight, 128);
    const int w = m.width() * scale, h = m.height() * scale;
    if (w > kWidth || h > kHeight) die("QR too large for the frame");
    const int x0 = (kWidth - w) / 2, y0 = (kHeight - h) / 2;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            frame[static_cast<std::size_t>(y0 + y) * kWidth + static_cast<std::size_t>(x0 + x)] =
                m.get(x / scale, y / scale) ? 0 : 255;
    return frame;
}

}  // namespace

int main(int argc, char** argv) {
    fs::path fixture;
    std::string write_to;
    long scans = 1;
    std::string stage = "all";
    CLI::App app{"instructions per scan stage (run under an instruction counter)", "bench_scan_insns"};
    cp::cli::configure(app);
    auto* write = app.add_option("--write-fixture", write_to, "write the fixture to DIR and exit")->type_name("DIR");
    app.add_option("--fixture", fixture, "the fixture written before")->type_name("DIR")->excludes(write);
    cp::cli::add_int(&app, "--scans", scans, 0, 100'000'000, "scans to run")->default_str("1");
    app.add_option("--stage", stage, "the stage to run")->check(CLI::IsMember({"all", "decode", "verify", "lookup"}));
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    if (!write_to.empty()) return write_fixture(write_to);
    if (fixture.empty()) die("usage: bench_scan_insns (--write-fixture DIR | --fixture DIR --scans N [--stage S])");
    cv::setNumThreads(0);  // one thread: counts are repeatable and add up

    const std::string text = slurp(fixture / "pass.txt");
    cp::crypto::TrustStore store;
    if (auto s = store.add_pem_or_der(cp::as_bytes(slurp(fixture / "issuer.pem"))); !s.ok())
        die("issuer.pem: " + s.error().describe());
    const cp::pass::PassVerifier verifier(store);
    const std::vector<std::uint8_t> frame = render_frame(text);

    cp::decode::DecoderOptions opt;
    opt.budget_ms = 1'000'000;  // no time-dependent cut-off: the same tries on every machine
    cp::decode::QrDecoder decoder(opt);
    const cp::decode::ImageView view{frame.data(), kWidth, kHeight, kWidth, cp::decode::PixelFormat::gray8};

#if CHECKPOINT_BENCH_STATUS
    const std::string stages = "decode verify lookup";
    const fs::path db = fs::temp_directory_path() / ("cp-bench-status-" + std::to_string(::getpid()) + ".db");
    auto list = cp::status::open_sqlite_status_list(db.string());
    if (!list) die("status store: " + list.error().describe());
    if (auto info = (*list)->import_bytes(cp::as_bytes(slurp(fixture / "status.list")), store); !info)
        die("status import: " + info.error().describe());
    struct Cleanup {
        fs::path db;
        ~Cleanup() {
            std::error_code ec;
            for (const char* suffix : {"", "-wal", "-shm", ".lock", "-journal"})
                fs::remove(db.string() + suffix, ec);
        }
    } cleanup{db};
#else
    const std::string stages = "decode verify";
#endif
    long decoded = 0, verified = 0, looked_up = 0;
    unsigned checksum = 0;

    // One stage alone, on what the stage before it would hand over.
    if (stage != "all") {
        const auto v0 = verifier.verify(text, kNow);
        if (!v0.verified()) die("fixture pass does not verify: " + *v0.reason);
        for (long i = 0; i < scans; ++i) {
            if (stage == "decode") {
                auto codes = decoder.decode(view);
                if (codes && !codes->empty()) checksum += static_cast<unsigned char>(codes->front().text[4]);
            } else if (stage == "verify") {
                checksum += verifier.verify(text, kNow).verified() ? 1U : 0U;
            } else {
#if CHECKPOINT_BENCH_STATUS
                auto e = (*list)->lookup(v0.pass->id);
                checksum += e && *e ? 1U : 0U;
#else
                die("no status stage in this build");
#endif
            }
        }
        std::printf("stage %s: scans %ld (checksum %u)\n", stage.c_str(), scans, checksum);
        return 0;
    }

    for (long i = 0; i < scans; ++i) {
        auto codes = decoder.decode(view);
        if (!codes || codes->empty()) continue;
        ++decoded;
        const auto v = verifier.verify(codes->front().text, kNow);
        if (!v.verified()) {
            if (i == 0) {
                const auto direct = verifier.verify(text, kNow);
                std::fprintf(stderr, "not verified: %s %s (decoded text %s the fixture's; fixture itself: %s)\n",
                             v.reason->c_str(), v.detail.c_str(),
                             codes->front().text == text ? "equals" : "differs from",
                             direct.verified() ? "verified" : direct.reason->c_str());
            }
            continue;
        }
        ++verified;
        checksum += v.pass->id[0];
#if CHECKPOINT_BENCH_STATUS
        auto e = (*list)->lookup(v.pass->id);
        if (!e || !*e || (*e)->status != cp::status::PassStatus::green) continue;
#endif
        ++looked_up;
    }
    std::printf("stages: %s\nscans %ld decoded %ld verified %ld looked up %ld (checksum %u)\n",
                stages.c_str(), scans, decoded, verified, looked_up, checksum);
    return decoded == scans && verified == scans && looked_up == scans ? 0 : 1;
}
