// The traveller registration of `upstream serve` (options parsed by main.cpp).
#include "tools/upstream/console/travellers.hpp"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>

namespace cp::upstream::console {

Result<std::unique_ptr<TravellersRuntime>> start_travellers(const std::map<std::string, std::string>& opts,
                                                            const std::string& db_path, UpstreamStore& upstream) {
    auto get = [&](const char* k, const std::string& def = {}) {
        auto it = opts.find(k);
        return it == opts.end() ? def : it->second;
    };
    TravellersConfig cfg;
    cfg.issuer_key_path = get("issuer-key");
    cfg.issuer_cert_path = get("issuer-cert");
    cfg.id_secret_path = get("id-secret");
    if (cfg.issuer_key_path.empty() || cfg.issuer_cert_path.empty() || cfg.id_secret_path.empty())
        return fail(ErrorKind::config, traveller_reason::kConfig, "--issuer-key, --issuer-cert and --id-secret go together");
    const std::string days = get("traveller-retention-days", "28");
    std::int64_t d = 0;
    auto [p, ec] = std::from_chars(days.data(), days.data() + days.size(), d);
    if (ec != std::errc() || p != days.data() + days.size() || d < 1 || d > 3650)
        return fail(ErrorKind::config, traveller_reason::kConfig, "--traveller-retention-days 1..3650");
    cfg.retention_s = d * 86400;
    const std::string host = get("console-host", "127.0.0.1");
    cfg.public_url = get("public-url");
    if (cfg.public_url.empty() && host != "0.0.0.0" && host != "::")
        cfg.public_url = "https://" + host + ":" + get("console-port", "0");
    cfg.sms.gateway_url = get("sms-gateway");
    cfg.sms.body_template = get("sms-template");
    cfg.sms.outbox_dir = get("sms-outbox");
    if (cfg.sms.outbox_dir.empty() && cfg.sms.gateway_url.empty() && is_pg_url(db_path))
        return fail(ErrorKind::config, traveller_reason::kConfig, "--sms-outbox or --sms-gateway with a PostgreSQL --db");
    if (cfg.sms.outbox_dir.empty()) {
        const auto dir = std::filesystem::path(db_path).parent_path();
        cfg.sms.outbox_dir = ((dir.empty() ? std::filesystem::path(".") : dir) / "sms-outbox").string();
    }
    if (cfg.sms.gateway_url.empty()) {
        std::error_code e;
        std::filesystem::create_directories(cfg.sms.outbox_dir, e);
        ::chmod(cfg.sms.outbox_dir.c_str(), 0700);  // phone numbers and pass links
    }
    auto limits = RateLimits::open(db_path);
    if (!limits) return fail(limits.error());
    cfg.sms.limits = std::move(*limits);
    auto rt = std::make_unique<TravellersRuntime>();
    auto st = open_traveller_store(db_path);
    if (!st) return fail(st.error());
    rt->store = std::move(*st);
    auto svc = Travellers::create(std::move(cfg), *rt->store, upstream);
    if (!svc) return fail(svc.error());
    rt->service = std::move(*svc);
    return rt;
}

}  // namespace cp::upstream::console
