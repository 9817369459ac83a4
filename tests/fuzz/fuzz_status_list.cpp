// Three entry points in one target, chosen by the first byte:
//   0: the whole reader (framing, COSE, header, records, digest) against a fixed
//      trust store — most inputs stop at the signature, so also:
//   1: the header payload decoder (CBOR map), as if the signature were valid;
//   2: the record stream, under a header decoded from a fixed valid payload, with
//      the digest check as the final step.
#include "src/crypto/crypto.hpp"
#include "src/status/list_format.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace cp;
using namespace cp::status;

namespace {
struct Fixture {
    crypto::TrustStore trust;
    Fixture() {
        auto key = crypto::PrivateKey::generate_p256();
        if (!key) std::abort();
        auto der = key->self_signed_certificate("fuzz list signer", 1'700'000'000, 3650);
        if (!der) std::abort();
        auto cert = crypto::Certificate::parse(*der);
        if (!cert) std::abort();
        trust.add(std::move(cert).value());
    }
};

void drain(ListReader& r) {
    std::vector<ListEntry> chunk(64);
    for (int i = 0; i < 100000; ++i) {
        auto n = r.next(chunk);
        if (!n || *n == 0) return;
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture fx;
    if (size == 0) return 0;
    ByteView rest(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0: {
        MemorySource src(rest);
        auto r = ListReader::open(src, fx.trust);
        if (r) drain(**r);
        break;
    }
    case 1: {
        auto h = decode_header(rest);
        if (h) {
            // A decoded header must re-encode to something that decodes the same.
            auto again = decode_header(encode_header(*h));
            if (!again || again->version != h->version || again->entry_count != h->entry_count ||
                again->reasons != h->reasons)
                std::abort();
        }
        break;
    }
    default: {
        ListHeader h;
        h.kind = (rest.size() & 1) ? ListKind::delta : ListKind::full;
        h.reasons = {"", "isolation"};
        for (std::size_t off = 0; off + kRecordSize <= rest.size(); off += kRecordSize) {
            (void)decode_record(rest.data() + off, h);
        }
        break;
    }
    }
    return 0;
}
