#include "src/config/config_request.hpp"

#include "src/config/ini.hpp"
#include "src/config/reason.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cp::config {
namespace fs = std::filesystem;

namespace {
constexpr const char* kDeviceConfig = "/etc/checkpoint/checkpointd.conf";
}  // namespace

std::string under_root(const std::string& root, const std::string& path) {
    if (root.empty() || path.empty() || path.front() != '/') return path;
    return (fs::path(root) / fs::path(path).relative_path()).string();
}

std::string config_path_of(const ConfigRequest& req) {
    if (!req.config_path.empty()) return req.config_path;
    return under_root(req.root, kDeviceConfig);
}

Result<Config> load_config(const ConfigRequest& req) {
    std::error_code ec;
    std::string root;
    if (!req.root.empty()) {
        if (!fs::is_directory(req.root, ec))
            return fail(ErrorKind::config, reason::root, "--root " + req.root + ": not a folder");
        root = fs::absolute(req.root, ec).lexically_normal().string();
    }
    const std::string config_path = config_path_of(ConfigRequest{req.config_path, req.board_path, root});
    // A --board given on the command line is where the technician says it is.
    std::string board = req.board_path;
    if (!board.empty() && fs::path(board).is_relative()) board = fs::absolute(board, ec).string();
    if (board.empty() && !root.empty()) {
        std::ifstream in(config_path);
        std::stringstream text;
        text << in.rdbuf();
        if (auto entries = parse_ini(text.str(), config_path)) {
            for (const auto& e : *entries) {
                if (e.key != "device.board" || e.value.empty() || e.value.front() != '/') continue;
                board = under_root(root, e.value);
                if (!fs::is_regular_file(board, ec))
                    return fail(ErrorKind::config, reason::root,
                                "device.board " + e.value + " is not under --root " + root +
                                    ": give the board file, e.g. --board board/host-sim/board.conf");
            }
        }
    }
    auto cfg = load(config_path, board);
    if (!cfg) return cfg;
    if (root.empty()) return cfg;
    for (std::string* p : {&cfg->paths.data_dir, &cfg->paths.journal, &cfg->paths.status_db, &cfg->paths.trust_dir,
                           &cfg->paths.screen_dir, &cfg->paths.list_signer, &cfg->upstream.ca_file,
                           &cfg->upstream.cert_file, &cfg->upstream.key_file, &cfg->upstream.trust_dir,
                           &cfg->sim.lane_script}) {
        *p = under_root(root, *p);
    }
    return cfg;
}

}  // namespace cp::config
