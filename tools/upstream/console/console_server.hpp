// The command-centre console: its own HTTPS listener (server certificate only;
// operators log in with a password, they have no device certificate), a JSON API
// under /api/ and one embedded page (no CDN, strict CSP). Every API call is made as
// one operator and limited to that operator's subtree by the ConsoleStore; objects
// outside it answer 404 exactly as missing ones do.
//
// A background thread returns statuses with a passed end date to green, opens
// worklist items for RED/fever scans of registered passes, prunes old sessions, and
// (with a signer) publishes the next list version every `publish_interval_s` when
// the working statuses changed: the schedule is a store row, so of several replicas
// on one database one publishes per interval.
//
// Thread-safety: start()/stop() from one thread; handlers run on httplib's pool.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/lists.hpp"
#include "tools/upstream/store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace cp::upstream::console {

class Residents;
class Travellers;  // travellers.hpp

struct ConsoleConfig {
    std::string host = "127.0.0.1";
    int port = 0;                       // 0: any free port (tests); -1: no operator listener
    // The read-only big screen for a wall display on the upstream host (`upstream serve
    // --web-port`): plain HTTP on a numeric loopback address, the console's own page
    // and /api/bigscreen data for the whole area tree, no login. -1 off, 0 any port.
    int wall_port = -1;
    std::string wall_host = "127.0.0.1";
    std::string cert_path;              // server certificate chain, PEM
    std::string key_path;
    std::int64_t idle_timeout_s = 15 * 60;
    std::int64_t absolute_timeout_s = 12 * 3600;
    int max_user_failures = 5;          // wrong passwords per user name in the window: locked
    int max_ip_failures = 30;           // failed logins per client address in the window
    std::int64_t failure_window_s = 15 * 60;
    std::int64_t publish_interval_s = 60;
    std::int64_t tick_ms = 1000;        // background job period
    std::size_t worker_threads = 32;
    std::size_t max_body_bytes = 8u << 20;
    std::function<std::int64_t()> clock_ms;  // tests move time
    // The resident registry, its pass pages and cards (residents.hpp); null: none.
    std::shared_ptr<Residents> residents;
    Travellers* travellers = nullptr;   // traveller registration and arrivals (optional)
};

class ConsoleServer {
public:
    // `signer` may be null: then only manual publishing from the host CLI exists.
    // Errors: config "tls"; config "web-host" when the wall view would listen off
    // loopback (or on a name).
    static Result<std::unique_ptr<ConsoleServer>> create(ConsoleConfig cfg, UpstreamStore& upstream,
                                                         ConsoleStore& store,
                                                         const ListSigner* signer);
    ~ConsoleServer();
    ConsoleServer(const ConsoleServer&) = delete;
    ConsoleServer& operator=(const ConsoleServer&) = delete;

    Status start();   // Errors: unavailable "bind"
    void stop();      // idempotent; joins the listener and the background thread
    int port() const;
    int wall_port() const;
    // One pass of the background jobs (tests call it instead of waiting).
    void run_jobs_once();

private:
    struct Impl;
    explicit ConsoleServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The embedded page (console_assets.cpp).
namespace assets {
std::string_view index_html();
std::string_view app_js();
std::string_view app_css();
}  // namespace assets

}  // namespace cp::upstream::console
