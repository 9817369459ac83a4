// Travellers entering the city: the public registration (no login) issues a CP1
// kind E pass at once (kind D with the plate for the driver route), shows it on the
// phone and sends the pass link by text message; the background job marks arrivals
// from entry scans, expires registrations that never arrive and deletes personal
// data after the retention period. See docs/residents-and-travellers.md.
//
// Abuse limits, stored in the database (several server processes share them): per
// phone, per resident ID (its hash) and per client address, each in its window.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/sms.hpp"
#include "tools/upstream/console/travellers_request.hpp"
#include "tools/upstream/console/travellers_store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace cp::upstream::console {

struct TravellersConfig {
    std::string issuer_key_path;      // the pass issuer's EC P-256 key (PEM)
    std::string issuer_cert_path;     // its certificate (the devices trust it)
    std::string issuer_name = "cp-upstream";  // CWT iss of the passes
    std::string id_secret_path;       // HMAC key of ID numbers: 32+ bytes, mode 0600
    std::string public_url;           // "https://host:port" of the console, for SMS links; empty: no SMS
    SmsConfig sms;
    std::int64_t retention_s = 28 * 86400;        // personal data kept this long after registering
    std::int64_t arrival_window_s = 2 * 86400;    // pass valid, registration open, until arrival + this
    int per_phone_per_day = 3;
    int per_id_per_day = 3;
    int per_address_per_hour = 20;
};

class Travellers {
public:
    // `upstream`: each new pass gets a green status there, so the next published
    // list carries it (an unlisted pass is YELLOW at the gate).
    // Errors: config/io from the key, certificate or secret files.
    static Result<std::unique_ptr<Travellers>> create(TravellersConfig cfg, TravellerStore& store,
                                                      UpstreamStore& upstream);
    ~Travellers();

    struct Issued {
        Registration reg;
        std::string token;  // the pass page's secret (only its hash is stored)
        bool sms_sent = false;
    };
    // Errors: rejected kRateLimit, not_found "area" (grid), invalid_input.
    Result<Issued> register_traveller(const RegistrationRequest& req, const std::string& client_addr,
                                      std::int64_t now);
    // Expiry, retention and arrivals (the console's background job).
    void run_jobs(std::int64_t now);

    TravellerStore& store();
    const TravellersConfig& config() const;

private:
    struct Impl;
    explicit Travellers(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The operator of a console request (cookie session; CSRF checked when `write`), or
// nothing after the refusal has been written to the response.
using OperatorAuth = std::function<std::optional<Operator>(const httplib::Request&, httplib::Response&, bool write)>;

// Public: GET /r/ (the page), /r/reg.js, /r/reg.css, GET /r/api/choices,
// POST /r/api/register, GET /r/api/pass/TOKEN. Operators: GET /api/travellers,
// GET /api/arrivals, GET /api/posters, GET /posters/SITE (travellers_routes.cpp).
void install_traveller_routes(httplib::Server& s, Travellers& t, OperatorAuth auth,
                              std::function<std::int64_t()> now_s);

// Arrivals per entry point in the last 24 h for the big screen (JSON array text).
std::string arrivals_json(Travellers& t, const Scope& scope, std::int64_t now);

// The QR code of `text` as one SVG path (modules of 1 unit, no quiet zone).
struct QrSvg {
    int size = 0;
    std::string path;
};
Result<QrSvg> qr_svg(const std::string& text);

}  // namespace cp::upstream::console

#include <map>

namespace cp::upstream::console {

// What `upstream serve --issuer-key ... --console-port N` runs (travellers_cli.cpp).
struct TravellersRuntime {
    std::unique_ptr<TravellerStore> store;
    std::unique_ptr<Travellers> service;
};
// Options: issuer-key, issuer-cert (required), id-secret (required: 32+ bytes, mode
// 0600), public-url (SMS links; default https://console-host:console-port unless the
// host is a wildcard), sms-outbox (default: DIR-OF-DB/sms-outbox), sms-gateway,
// sms-template, traveller-retention-days (default 28). Errors: config, io.
Result<std::unique_ptr<TravellersRuntime>> start_travellers(const std::map<std::string, std::string>& opts,
                                                            const std::string& db_path, UpstreamStore& upstream);

}  // namespace cp::upstream::console
