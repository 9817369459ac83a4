// Loading checkpointd.conf the way checkpointd and `checkpoint diag` both do,
// including the bench mode `--root DIR`: a provisioned tree (tools/provision)
// run on a host, with every absolute path of the device (/etc/checkpoint/...,
// /var/lib/checkpoint/..., /run/checkpoint/...) mapped into DIR
// (docs/provisioning.md, "Bench bring-up").
#pragma once

#include "src/common/result.hpp"
#include "src/config/config.hpp"

#include <string>

namespace cp::config {

struct ConfigRequest {
    std::string config_path;  // empty: /etc/checkpoint/checkpointd.conf (under root when given)
    std::string board_path;   // empty: the one device.board names; relative: from the current directory
    std::string root;         // empty: the device itself; else the folder the device's paths are mapped into
};

// The configuration file the request names.
std::string config_path_of(const ConfigRequest& req);

// Loads and checks the configuration (config::load), then maps every path the
// daemon reads or writes into `root`. Without --board, device.board is looked up
// under root too; the device's /usr/share/checkpoint/board is not in a provisioned
// tree, so a bench names the board file (--board board/NAME/board.conf).
// Errors: as config::load; config/"root" when root is not a folder or the board
// file is not found under it.
Result<Config> load_config(const ConfigRequest& req);

// The path as the daemon uses it: under `root` when absolute and root is set.
std::string under_root(const std::string& root, const std::string& path);

}  // namespace cp::config
