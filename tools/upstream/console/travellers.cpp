#include "tools/upstream/console/travellers.hpp"

#include "src/common/log.hpp"
#include "src/crypto/crypto.hpp"
#include "src/pass/issuer.hpp"
#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/identity.hpp"

#include <atomic>
#include <fstream>
#include <iterator>

namespace cp::upstream::console {

namespace {

constexpr const char* kCat = "travellers";

Result<Bytes> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return fail(ErrorKind::io, reason::read, path);
    return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

Result<pass::PassId> random_pass_id() {
    const std::string hex = random_token();  // 32 random bytes as hex
    pass::PassId id{};
    for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    return id;
}

}  // namespace

struct Travellers::Impl {
    TravellersConfig cfg;
    TravellerStore& store;
    UpstreamStore& upstream;
    crypto::PrivateKey key;
    Bytes kid;
    Bytes secret;
    std::unique_ptr<SmsSender> sms;
    std::atomic<std::int64_t> next_housekeeping{0};  // expiry and retention: once a minute

    Impl(TravellersConfig c, TravellerStore& s, UpstreamStore& u, crypto::PrivateKey k, Bytes kd, Bytes sec)
        : cfg(std::move(c)), store(s), upstream(u), key(std::move(k)), kid(std::move(kd)), secret(std::move(sec)) {}

};

Travellers::Travellers(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Travellers::~Travellers() = default;
TravellerStore& Travellers::store() { return impl_->store; }
const TravellersConfig& Travellers::config() const { return impl_->cfg; }

Result<std::unique_ptr<Travellers>> Travellers::create(TravellersConfig cfg, TravellerStore& store,
                                                       UpstreamStore& upstream) {
    auto key_pem = read_all(cfg.issuer_key_path);
    if (!key_pem) return fail(ErrorKind::config, traveller_reason::kIssuerKey, cfg.issuer_key_path + ": cannot read");
    auto cert_pem = read_all(cfg.issuer_cert_path);
    if (!cert_pem) return fail(ErrorKind::config, traveller_reason::kIssuerCert, cfg.issuer_cert_path + ": cannot read");
    auto key = crypto::PrivateKey::parse(*key_pem);
    if (!key) return fail(key.error().with_context(cfg.issuer_key_path));
    auto cert = crypto::Certificate::parse(*cert_pem);
    if (!cert) return fail(cert.error().with_context(cfg.issuer_cert_path));
    // A key that does not belong to the certificate would make passes every device refuses.
    static const char kProbe[] = "issuer key/certificate probe";
    auto probe = key->sign_es256(as_bytes(kProbe));
    if (!probe || !cert->verify_es256(as_bytes(kProbe), *probe))
        return fail(ErrorKind::config, traveller_reason::kIssuerKey, "the issuer key does not belong to the certificate");
    auto secret = load_id_secret(cfg.id_secret_path);
    if (!secret) return fail(secret.error());
    auto impl = std::make_unique<Impl>(std::move(cfg), store, upstream, std::move(*key), cert->kid(), std::move(*secret));
    if (!impl->cfg.public_url.empty()) impl->sms = make_sms_sender(impl->cfg.sms);
    return std::unique_ptr<Travellers>(new Travellers(std::move(impl)));
}

Result<Travellers::Issued> Travellers::register_traveller(const RegistrationRequest& req,
                                                          const std::string& client_addr, std::int64_t now) {
    Impl& m = *impl_;
    if (!req.site.empty()) {
        if (auto s = m.store.entry_point(req.site, nullptr); !s) return fail(s.error());
    }
    const std::string idh = id_hash(m.secret, req.id_number);
    auto admitted = m.store.admit({{"addr:" + client_addr, m.cfg.per_address_per_hour, 3600},
                                   {"phone:" + token_hash(req.phone), m.cfg.per_phone_per_day, 86400},
                                   {"id:" + idh, m.cfg.per_id_per_day, 86400}},
                                  now);
    if (!admitted) return fail(admitted.error());
    if (!*admitted) return fail(ErrorKind::rejected, traveller_reason::kRateLimit, "too many registrations");
    auto id = random_pass_id();
    if (!id) return fail(id.error());
    pass::Pass p;
    p.format = pass::Format::cp1;
    p.issuer = m.cfg.issuer_name;
    p.issued_at = now;
    p.expires_at = std::max(req.expected_arrival, now) + m.cfg.arrival_window_s;
    p.id = *id;
    p.kind = req.route == Route::driver ? pass::Kind::driver : pass::Kind::entry;
    p.name = mask_name(req.name);
    p.plate = req.plate;
    p.entry = pass::EntryRegistration{req.origin, req.expected_arrival, req.transport};
    auto qr = pass::issue_cp1(p, m.key, m.kid);
    if (!qr) return fail(qr.error());

    Issued out;
    out.token = random_token();
    out.reg = Registration{.pass_id = pass::id_hex(p.id), .kind = req.route == Route::driver ? "D" : "E",
                           .label = p.name, .name = req.name, .id_hash = idh, .phone = req.phone,
                           .origin = req.origin, .address = req.address, .plate = req.plate, .grid = req.grid,
                           .transport = req.transport, .expected_arrival = req.expected_arrival, .site = req.site,
                           .qr = *qr, .created_at = now, .expires_at = p.expires_at};
    Registration& r = out.reg;
    auto rid = m.store.add(r, token_hash(out.token));
    if (!rid) return fail(rid.error());
    r.id = *rid;
    if (auto st = m.upstream.set_statuses({{r.pass_id, PassStatus::green, "registered", now}}, now); !st)
        return fail(st.error());
    if (m.sms) {
        const std::string text = "【通行证 Pass】" + r.label + " " + m.cfg.public_url + "/r/#p=" + out.token;
        if (auto st = m.sms->send(r.phone, text); st)
            out.sms_sent = true;
        else
            log::warn(kCat, "pass link not sent", {{"reason", st.error().reason}});
    }
    log::info(kCat, "traveller registered", {{"kind", r.kind}, {"grid", r.grid}, {"site", r.site}});
    return out;
}

void Travellers::run_jobs(std::int64_t now) {
    TravellerStore& s = impl_->store;
    if (auto r = s.record_arrivals(now); !r)
        log::warn(kCat, "arrivals failed", {{"reason", r.error().reason}});
    // Expiry and retention are minutes-grained: no write lock every tick for them.
    if (now < impl_->next_housekeeping.load()) return;
    impl_->next_housekeeping = now + 60;
    if (auto r = s.expire(now); !r)
        log::warn(kCat, "expiry failed", {{"reason", r.error().reason}});
    if (auto r = s.purge(now - impl_->cfg.retention_s, now); !r)
        log::warn(kCat, "retention purge failed", {{"reason", r.error().reason}});
}

}  // namespace cp::upstream::console
