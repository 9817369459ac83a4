#include "src/pass/cose.hpp"
#include "src/status/list_format.hpp"
#include "tests/status/status_fixture.hpp"

#include <doctest/doctest.h>

using namespace cp;
using namespace cp::status;
using cp::status::testing::entry;
using cp::status::testing::Signer;

namespace {
Result<std::vector<ListEntry>> read_all(ByteView data, const crypto::TrustStore& trust, ListHeader* h = nullptr) {
    MemorySource src(data);
    auto r = ListReader::open(src, trust);
    if (!r) return fail(r.error());
    if (h) *h = (*r)->header();
    std::vector<ListEntry> out;
    std::vector<ListEntry> chunk(7);  // small chunks exercise the boundaries
    for (;;) {
        auto n = (*r)->next(chunk);
        if (!n) return fail(n.error());
        if (*n == 0) break;
        out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    REQUIRE((*r)->done());
    return out;
}
}  // namespace

TEST_CASE("a list round-trips: header fields and entries in id order") {
    auto s = Signer::make();
    std::vector<ListEntry> in;
    for (std::uint64_t i = 0; i < 100; ++i) in.push_back(entry(i, static_cast<Op>(i % 3), static_cast<std::uint8_t>(i % 3), 1'790'000'000 + static_cast<std::uint32_t>(i)));
    auto bytes = s.list(7, in);
    ListHeader h;
    auto out = read_all(bytes, s.trust, &h);
    REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().describe()));
    CHECK(h.version == 7);
    CHECK(h.kind == ListKind::full);
    CHECK(h.created_at == 1'800'000'000);
    CHECK(h.entry_count == 100);
    CHECK(h.issuer == "CN-HL-DQ");
    CHECK(h.reasons.size() == 3);
    REQUIRE(out->size() == 100);
    for (std::size_t i = 1; i < out->size(); ++i) CHECK((*out)[i - 1].id < (*out)[i].id);
    std::sort(in.begin(), in.end(), [](auto& a, auto& b) { return a.id < b.id; });
    for (std::size_t i = 0; i < in.size(); ++i) {
        CHECK((*out)[i].op == in[i].op);
        CHECK((*out)[i].since == in[i].since);
        CHECK((*out)[i].reason == in[i].reason);
    }
}

TEST_CASE("every damaged or foreign list is refused with a typed reason") {
    auto s = Signer::make();
    auto other = Signer::make("Someone else");
    std::vector<ListEntry> in;
    for (std::uint64_t i = 0; i < 50; ++i) in.push_back(entry(i, Op::green));
    const Bytes good = s.list(2, in);
    const std::size_t entries_at = good.size() - 50 * kRecordSize;

    auto reason_of = [&](const Bytes& b) {
        auto r = read_all(b, s.trust);
        return r.ok() ? std::string("accepted") : r.error().reason;
    };
    CHECK(reason_of(good) == "accepted");
    CHECK(reason_of(other.list(2, in)) == "unknown-key");
    CHECK(reason_of(Bytes{}) == "list-format");
    CHECK(reason_of(Bytes(good.begin(), good.begin() + 10)) == "list-format");

    Bytes magic = good;
    magic[0] = 'X';
    CHECK(reason_of(magic) == "list-format");

    Bytes sig = good;
    sig[entries_at - 5] ^= 0x01;  // inside the COSE signature
    CHECK(reason_of(sig) == "signature");

    Bytes tampered = good;
    tampered[entries_at + 16] = static_cast<std::uint8_t>(Op::red);  // someone turns an entry red (or green)
    CHECK(reason_of(tampered) == "list-digest");

    Bytes truncated(good.begin(), good.end() - 1);
    CHECK(reason_of(truncated) == "list-format");

    Bytes trailing = good;
    trailing.push_back(0);
    CHECK(reason_of(trailing) == "list-format");

    Bytes huge_len = good;
    huge_len[8] = 0xff;  // header length far beyond the limit
    CHECK(reason_of(huge_len) == "list-format");
}

TEST_CASE("a signed header over unsorted or invalid records is still refused") {
    auto s = Signer::make();
    // Hand-assemble: records out of order but with a correct signed digest.
    std::vector<ListEntry> recs = {entry(2, Op::green), entry(1, Op::green)};
    if (recs[1].id < recs[0].id) {} else std::swap(recs[0], recs[1]);  // make them descending
    Bytes body;
    for (auto& e : recs) {
        std::uint8_t r[kRecordSize];
        encode_record(e, r);
        body.insert(body.end(), r, r + kRecordSize);
    }
    ListHeader h;
    h.version = 3;
    h.created_at = 1;
    h.entry_count = 2;
    h.entries_sha256 = crypto::sha256(body);
    auto cose = pass::cose_sign1_sign(encode_header(h), s.key, s.kid);
    REQUIRE(cose.ok());
    Bytes file(kMagic, kMagic + 8);
    auto n = static_cast<std::uint32_t>(cose->size());
    for (int sh = 24; sh >= 0; sh -= 8) file.push_back(static_cast<std::uint8_t>(n >> sh));
    file.insert(file.end(), cose->begin(), cose->end());
    file.insert(file.end(), body.begin(), body.end());
    auto r = read_all(file, s.trust);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(cp::status::reason::list_format));

    // A remove record is only meaningful in a delta.
    std::vector<ListEntry> rm = {entry(1, Op::remove)};
    ListHeader full;
    full.version = 4;
    CHECK_FALSE(build_list(full, rm, s.key, s.kid).ok());
    // Duplicate ids cannot be built.
    CHECK_FALSE(build_list(full, {entry(1, Op::green), entry(1, Op::red)}, s.key, s.kid).ok());
}

TEST_CASE("header decoding rejects missing and inconsistent fields") {
    ListHeader h;
    h.version = 5;
    h.created_at = 10;
    h.reasons = {"a"};
    auto ok = decode_header(encode_header(h));
    REQUIRE(ok.ok());
    CHECK(ok->version == 5);

    ListHeader d = h;
    d.kind = ListKind::delta;
    d.base_version = 5;  // not below the version
    CHECK_FALSE(decode_header(encode_header(d)).ok());
    d.base_version = 4;
    auto dd = decode_header(encode_header(d));
    REQUIRE(dd.ok());
    CHECK(dd->base_version == 4);

    ListHeader v0 = h;
    v0.version = 0;
    CHECK_FALSE(decode_header(encode_header(v0)).ok());
    ListHeader many = h;
    many.entry_count = kMaxEntries + 1;
    CHECK_FALSE(decode_header(encode_header(many)).ok());
    CHECK_FALSE(decode_header(Bytes{0xa0}).ok());          // empty map
    CHECK_FALSE(decode_header(Bytes{0x01, 0x02}).ok());    // not one item
}
