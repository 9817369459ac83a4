// Host commands of the console (`upstream operator|areas|site|passes ...`) and the
// console listener that `upstream serve --console-port N` starts beside the device
// listener.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/store.hpp"

#include <map>
#include <memory>
#include <string>

namespace cp::upstream::console {

// True when argv[1] names a console command.
bool is_cli_command(const std::string& command);
// Runs one console command; exit status 0 ok, 1 failed, 2 usage.
int cli_main(int argc, char** argv);
extern const char* const kCliUsage;

// The console of `upstream serve`: its store, optional list signer and listener.
class ConsoleRuntime {
public:
    virtual ~ConsoleRuntime() = default;
    virtual int port() const = 0;       // -1: no operator listener (only --web-port)
    virtual int wall_port() const = 0;  // the loopback big screen, -1 off
};
// Options: console-port, console-host, web-port and web-host (the read-only big screen
// on loopback), cert, key (the upstream's server certificate
// unless console-cert/console-key), signing-key/signing-cert (automatic publishing),
// publish-interval-s (default 60). Errors: config, io.
Result<std::unique_ptr<ConsoleRuntime>> start_console(const std::map<std::string, std::string>& opts,
                                                      const std::string& db_path, UpstreamStore& upstream);

}  // namespace cp::upstream::console
