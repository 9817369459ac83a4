// Host commands of the console (`upstream operator|areas|site|passes ...`) and the
// console listener that `upstream serve --console-port N` starts beside the device
// listener.
#pragma once

#include "src/cli/args.hpp"
#include "src/common/result.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"

#include <map>
#include <memory>
#include <string>

namespace cp::upstream::console {

// Adds the console commands to `app`; the one parsed sets `action` to what runs
// it (exit status 0 ok, 1 failed, 2 usage).
void add_cli_commands(CLI::App& app, cli::Action& action);

// The console options of `upstream serve`.
struct ConsoleOptions {
    int port = -1;  // --console-port; -1: no console
    std::string host = "127.0.0.1";
    std::string cert_path, key_path;  // empty: the upstream's server certificate and key
    std::string signing_key, signing_cert;  // set: automatic publishing
    int publish_interval_s = 60;
    int wall_port = -1;  // `serve --web-port`: the read-only big screen on loopback; -1 off
    std::string wall_host = "127.0.0.1";
    std::map<std::string, std::string> people;  // residents' and travellers' options, by name
    bool enabled() const { return port >= 0 || wall_port >= 0; }
};
void add_serve_options(CLI::App* serve, ConsoleOptions& options);

// The console of `upstream serve`: its store, optional list signer and listener.
class ConsoleRuntime {
public:
    virtual ~ConsoleRuntime() = default;
    virtual int port() const = 0;       // -1: no operator listener (only --web-port)
    virtual int wall_port() const = 0;  // the loopback big screen, -1 off
};
// Errors: config, io.
Result<std::unique_ptr<ConsoleRuntime>> start_console(const ConsoleOptions& options, const ServerConfig& server,
                                                      const std::string& db_path, UpstreamStore& upstream);

}  // namespace cp::upstream::console
