// A fixed, single-threaded scan workload for instruction counting (tools/bench-arm):
// N scans of one synthetic 1280x720 camera frame holding a signed CP1 pass, each
// scan running the firmware's path decode -> verify -> status lookup, with what
// the tree has of it (stages print as compiled in). Everything that varies from
// run to run is fixed: the pass, its certificate and "now" come from a fixture
// directory, the decoder's time budget is out of reach, OpenCV runs one thread.
//
//   bench_scan_insns --write-fixture DIR       make the fixture (random key, once)
//   bench_scan_insns --fixture DIR --scans N   the workload
//
// tools/bench-arm runs it with two values of N under callgrind (x86-64) and
// qemu-aarch64 with an instruction-counting plugin (aarch64); the difference of
// the totals divided by the difference of N is the per-scan instruction count.
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/decode/decoder.hpp"
#include "src/pass/issuer.hpp"
#include "src/pass/verifier.hpp"

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <opencv2/core.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    long scans = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--write-fixture" && i + 1 < argc) return write_fixture(argv[++i]);
        if (a == "--fixture" && i + 1 < argc) fixture = argv[++i];
        else if (a == "--scans" && i + 1 < argc) scans = std::strtol(argv[++i], nullptr, 10);
        else die("usage: bench_scan_insns (--write-fixture DIR | --fixture DIR --scans N)");
    }
    if (fixture.empty() || scans < 0) die("usage: bench_scan_insns --fixture DIR --scans N");
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

    long decoded = 0, verified = 0;
    unsigned checksum = 0;
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
        // Status lookup of v.pass->id joins here when src/status lands.
        checksum += v.pass->id[0];
    }
    std::printf("stages: decode verify\nscans %ld decoded %ld verified %ld (checksum %u)\n", scans,
                decoded, verified, checksum);
    return decoded == scans && verified == scans ? 0 : 1;
}
