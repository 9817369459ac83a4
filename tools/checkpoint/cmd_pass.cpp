// `checkpoint pass keygen --out DIR [--cn NAME] [--days N]`
//     issuer EC P-256 key (DIR/issuer.key, mode 0600) and self-signed certificate
//     (DIR/issuer.crt, PEM); prints the kid.
// `checkpoint pass issue --key KEY --cert CERT (--claims FILE | --claims -) [--png FILE]`
//     prints the CP1 QR text; --png also renders it (QR error correction level Q).
// Exit 0 success, 2 usage, file or claims error.
#include "src/common/time.hpp"
#include "src/crypto/crypto.hpp"
#include "src/pass/claims.hpp"
#include "src/pass/issuer.hpp"
#include "tools/checkpoint/commands.hpp"

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace cp::cli {

namespace {

namespace fs = std::filesystem;

int fail_msg(const std::string& msg) {
    std::fprintf(stderr, "checkpoint pass: %s\n", msg.c_str());
    return 2;
}

std::optional<std::string> read_stream(std::FILE* f) {
    std::string data;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
    if (std::ferror(f)) return std::nullopt;
    return data;
}

std::optional<std::string> read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return std::nullopt;
    auto data = read_stream(f);
    std::fclose(f);
    return data;
}

// Writes with the given mode from creation on, so a private key is never world-readable.
bool write_file(const fs::path& path, const std::string& data, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return false;
    bool ok = ::fchmod(fd, mode) == 0;
    std::size_t off = 0;
    while (ok && off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n <= 0) ok = false;
        else off += static_cast<std::size_t>(n);
    }
    ok = ::fsync(fd) == 0 && ok;
    return ::close(fd) == 0 && ok;
}

// Minimal PNG (8-bit grayscale, one zlib stream) so the CLI needs no image library.
std::optional<std::string> encode_png(const std::vector<std::uint8_t>& gray, int w, int h) {
    auto be32 = [](std::string& s, std::uint32_t v) {
        for (int sh = 24; sh >= 0; sh -= 8) s += static_cast<char>((v >> sh) & 0xff);
    };
    auto chunk = [&](std::string& out, const char* type, const std::string& data) {
        be32(out, static_cast<std::uint32_t>(data.size()));
        std::string td = std::string(type, 4) + data;
        out += td;
        be32(out, static_cast<std::uint32_t>(
                      crc32(0, reinterpret_cast<const Bytef*>(td.data()), static_cast<uInt>(td.size()))));
    };
    std::string raw;
    const auto uw = static_cast<std::size_t>(w);
    for (int y = 0; y < h; ++y) {
        raw += '\0';  // filter: none
        raw.append(reinterpret_cast<const char*>(gray.data()) + static_cast<std::size_t>(y) * uw, uw);
    }
    uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
    std::string z(zlen, '\0');
    if (compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
                  static_cast<uLong>(raw.size()), 9) != Z_OK)
        return std::nullopt;
    z.resize(zlen);
    std::string ihdr;
    be32(ihdr, static_cast<std::uint32_t>(w));
    be32(ihdr, static_cast<std::uint32_t>(h));
    ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // depth 8, grayscale, deflate, no filter, no interlace
    std::string png("\x89PNG\r\n\x1a\n", 8);
    chunk(png, "IHDR", ihdr);
    chunk(png, "IDAT", z);
    chunk(png, "IEND", "");
    return png;
}

std::optional<std::string> render_qr_png(const std::string& text) {
    try {
        // ECC level on ZXing's 0..8 scale: 5 maps to QR level Q in zxing-cpp 1.4.
        ZXing::MultiFormatWriter writer(ZXing::BarcodeFormat::QRCode);
        writer.setEccLevel(5).setMargin(4);
        ZXing::BitMatrix m = writer.encode(text, 0, 0);
        const int scale = 4;
        const int w = m.width() * scale, h = m.height() * scale;
        std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * static_cast<std::size_t>(h), 255);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                if (m.get(x / scale, y / scale)) px[static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)] = 0;
        return encode_png(px, w, h);
    } catch (const std::exception& e) {  // ZXing throws when the text does not fit a QR code
        std::fprintf(stderr, "checkpoint pass: QR encoding failed: %s\n", e.what());
        return std::nullopt;
    }
}

struct KeygenOptions {
    std::string out;
    std::string cn = "checkpoint issuer";
    int days = 3650;
};

int keygen(const KeygenOptions& opt) {
    const std::string& out = opt.out;
    const std::string& cn = opt.cn;
    const int days = opt.days;
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) return fail_msg("cannot create " + out + ": " + ec.message());
    auto key = crypto::PrivateKey::generate_p256();
    if (!key) return fail_msg(key.error().describe());
    auto der = key->self_signed_certificate(cn, wall_now_ms() / 1000 - 86400, days);
    if (!der) return fail_msg(der.error().describe());
    auto pem = key->to_pem();
    if (!pem) return fail_msg(pem.error().describe());
    fs::path key_path = fs::path(out) / "issuer.key";
    fs::path crt_path = fs::path(out) / "issuer.crt";
    if (!write_file(key_path, *pem, 0600)) return fail_msg("cannot write " + key_path.string());
    if (!write_file(crt_path, crypto::certificate_pem(*der), 0644)) return fail_msg("cannot write " + crt_path.string());
    std::printf("key  %s\ncert %s\nkid  %s\n", key_path.c_str(), crt_path.c_str(), to_hex(crypto::kid_of(*der)).c_str());
    return 0;
}

struct IssueOptions {
    std::optional<std::string> key_path, cert_path, claims_path, png_path;
};

int issue(const IssueOptions& opt) {
    const auto& [key_path, cert_path, claims_path, png_path] = opt;
    auto key_text = read_file(*key_path);
    if (!key_text) return fail_msg("cannot read " + *key_path);
    auto cert_text = read_file(*cert_path);
    if (!cert_text) return fail_msg("cannot read " + *cert_path);
    std::optional<std::string> claims_text;
    if (*claims_path == "-") {
        claims_text = read_stream(stdin);
    } else {
        claims_text = read_file(*claims_path);
    }
    if (!claims_text) return fail_msg("cannot read " + *claims_path);

    auto key = crypto::PrivateKey::parse(as_bytes(*key_text));
    if (!key) return fail_msg(key_path->c_str() + std::string(": ") + key.error().describe());
    auto cert = crypto::Certificate::parse(as_bytes(*cert_text));
    if (!cert) return fail_msg(cert_path->c_str() + std::string(": ") + cert.error().describe());
    // A pass signed by a key that does not match the certificate would be rejected everywhere.
    static const char kProbe[] = "checkpoint key/certificate probe";
    auto probe = key->sign_es256(as_bytes(kProbe));
    if (!probe || !cert->verify_es256(as_bytes(kProbe), *probe))
        return fail_msg("the key does not belong to the certificate");

    auto pass = pass::cp1_pass_from_json(*claims_text);
    if (!pass) return fail_msg(pass.error().describe());
    auto text = pass::issue_cp1(*pass, *key, cert->kid());
    if (!text) return fail_msg(text.error().describe());
    if (png_path) {
        auto png = render_qr_png(*text);
        if (!png) return 2;
        if (!write_file(*png_path, *png, 0644)) return fail_msg("cannot write " + *png_path);
    }
    std::printf("%s\n", text->c_str());
    return 0;
}

}  // namespace

void add_pass(CLI::App& app, Action& action) {
    CLI::App* pass = app.add_subcommand("pass", "issuer tools: keygen, issue (CP1 QR text / PNG)");
    pass->require_subcommand(1);

    auto k = std::make_shared<KeygenOptions>();
    CLI::App* kg = pass->add_subcommand("keygen",
                                        "issuer EC P-256 key (DIR/issuer.key, mode 0600) and self-signed "
                                        "certificate (DIR/issuer.crt, PEM); prints the kid");
    kg->add_option("--out", k->out, "output folder")->required()->type_name("DIR");
    kg->add_option("--cn", k->cn, "certificate common name")->type_name("NAME")->capture_default_str();
    cli::add_int(kg, "--days", k->days, 1, 36500, "certificate validity in days")->default_str("3650");
    kg->callback([k, &action] { action = [k] { return keygen(*k); }; });

    auto i = std::make_shared<IssueOptions>();
    CLI::App* is = pass->add_subcommand("issue",
                                        "prints the CP1 QR text; --png also renders it (QR error correction "
                                        "level Q)");
    is->add_option("--key", i->key_path, "issuer private key")->required()->type_name("KEY");
    is->add_option("--cert", i->cert_path, "issuer certificate")->required()->type_name("CERT");
    is->add_option("--claims", i->claims_path, "the pass claims as JSON ('-': stdin)")->required()->type_name("FILE");
    is->add_option("--png", i->png_path, "also write the QR code as PNG")->type_name("FILE");
    is->callback([i, &action] { action = [i] { return issue(*i); }; });
}

}  // namespace cp::cli
