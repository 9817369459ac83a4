#include "src/crypto/trust_store.hpp"
#include "src/crypto/reason.hpp"

#include <atomic>

#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace cp::crypto {

namespace fs = std::filesystem;

namespace {

Result<Bytes> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::trust_store, "cannot read " + p.string());
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return data;
}

bool is_certificate_file(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    return ext == ".pem" || ext == ".crt" || ext == ".cer" || ext == ".der";
}

}  // namespace

void TrustStore::add(Certificate cert) {
    Bytes kid = cert.kid();
    add(std::move(cert), std::move(kid));
}

void TrustStore::add(Certificate cert, Bytes kid) {
    auto owned = std::make_unique<Certificate>(std::move(cert));
    by_kid_.emplace(std::move(kid), owned.get());
    certs_.push_back(std::move(owned));
    generation_ = next_generation();
}

std::uint64_t TrustStore::next_generation() {
    static std::atomic<std::uint64_t> counter{0};
    return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

Status TrustStore::add_pem_or_der(ByteView data) {
    std::string_view text = as_chars(data);
    if (text.find("-----BEGIN") == std::string_view::npos) {
        auto cert = Certificate::parse(data);
        if (!cert) return fail(cert.error());
        add(std::move(cert).value());
        return {};
    }
    // PEM may bundle several certificates; take every one.
    Bytes buf(data.begin(), data.end());
    buf.push_back(0);
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    int rc = mbedtls_x509_crt_parse(&chain, buf.data(), buf.size());
    if (rc != 0) {  // > 0: some certificates failed; refuse the whole file rather than half-trust it
        mbedtls_x509_crt_free(&chain);
        return fail(ErrorKind::invalid_input, reason::certificate,
                    rc > 0 ? std::to_string(rc) + " certificate(s) in the PEM do not parse"
                           : "PEM does not parse");
    }
    std::vector<Certificate> parsed;
    for (const mbedtls_x509_crt* c = &chain; c != nullptr && c->raw.len != 0; c = c->next) {
        auto cert = Certificate::parse(ByteView(c->raw.p, c->raw.len));
        if (!cert) {
            mbedtls_x509_crt_free(&chain);
            return fail(cert.error());
        }
        parsed.push_back(std::move(cert).value());
    }
    mbedtls_x509_crt_free(&chain);
    for (auto& c : parsed) add(std::move(c));
    return {};
}

Result<TrustStore> TrustStore::load(const std::string& path) {
    TrustStore store;
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(path, ec)) {
        for (const auto& entry : fs::directory_iterator(path, ec)) {
            if (entry.is_regular_file(ec) && is_certificate_file(entry.path())) files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());  // deterministic order of certificates sharing a kid
    } else if (fs::is_regular_file(path, ec)) {
        files.emplace_back(path);
    } else {
        return fail(ErrorKind::io, reason::trust_store, "no such file or directory: " + path);
    }
    for (const auto& f : files) {
        auto data = read_all(f);
        if (!data) return fail(data.error());
        auto st = store.add_pem_or_der(*data);
        if (!st) return fail(st.error().with_context(f.string()));
    }
    if (store.size() == 0) return fail(ErrorKind::io, reason::trust_store, "no certificate in " + path);
    return store;
}

std::vector<const Certificate*> TrustStore::find(ByteView kid) const {
    std::vector<const Certificate*> out;
    Bytes key(kid.begin(), kid.end());
    auto [lo, hi] = by_kid_.equal_range(key);
    for (auto it = lo; it != hi; ++it) out.push_back(it->second);
    return out;
}

}  // namespace cp::crypto
