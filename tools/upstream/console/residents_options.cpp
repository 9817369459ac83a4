// `upstream serve` options of the resident registry (docs/residents-and-travellers.md).
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/residents.hpp"

#include "src/common/file_io.hpp"

#include <fstream>
#include <iterator>

namespace cp::upstream::console {

namespace {

Result<Bytes> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::read, path + ": cannot open");
    std::string s;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) s.append(buf, static_cast<std::size_t>(in.gcount()));
    return Bytes(s.begin(), s.end());
}

}  // namespace

Result<std::shared_ptr<Residents>> residents_from_options(const std::map<std::string, std::string>& opts,
                                                          const std::string& db_path, ConsoleStore& store) {
    auto get = [&](const char* k) {
        auto it = opts.find(k);
        return it == opts.end() ? std::string() : it->second;
    };
    if (get("id-secret").empty()) {
        for (const char* k : {"issuer-key", "issuer-cert", "sms-outbox", "sms-gateway", "public-url"})
            if (!get(k).empty())
                return fail(ErrorKind::config, reason::residents, std::string("--") + k + " needs --id-secret");
        return std::shared_ptr<Residents>();
    }
    ResidentsConfig cfg;
    auto secret = load_id_secret(get("id-secret"));
    if (!secret) return fail(secret.error());
    cfg.id_secret = std::move(*secret);
    if (get("issuer-key").empty() != get("issuer-cert").empty())
        return fail(ErrorKind::config, reason::residents, "--issuer-key and --issuer-cert go together");
    if (!get("issuer-key").empty()) {
        auto key_pem = read_all(get("issuer-key"));
        if (!key_pem) return fail(key_pem.error());
        auto key = crypto::PrivateKey::parse(*key_pem);
        if (!key) return fail(key.error());
        auto cert_pem = read_all(get("issuer-cert"));
        if (!cert_pem) return fail(cert_pem.error());
        auto cert = crypto::Certificate::parse(*cert_pem);
        if (!cert) return fail(cert.error());
        cfg.issuer_key = std::make_shared<const crypto::PrivateKey>(std::move(*key));
        cfg.issuer_cert_der = cert->der();
    }
    if (!get("issuer-name").empty()) cfg.issuer = get("issuer-name");
    cfg.public_url = get("public-url");
    if (!get("sms-outbox").empty() || !get("sms-gateway").empty()) {
        SmsConfig sc;
        sc.outbox_dir = get("sms-outbox");
        sc.gateway_url = get("sms-gateway");
        if (!get("sms-template").empty()) sc.body_template = get("sms-template");
        auto limits = RateLimits::open(db_path);
        if (!limits) return fail(limits.error());
        sc.limits = std::move(*limits);
        cfg.sms = make_sms_sender(sc);
    }
    auto r = Residents::open(db_path, store, std::move(cfg));
    if (!r) return fail(r.error());
    return std::shared_ptr<Residents>(std::move(*r));
}

}  // namespace cp::upstream::console
