// `upstream publish --export DIR`: the signed documents a device fetches, written as
// plain files at the paths it fetches them from, for any static HTTP server or CDN
// (a device's `upstream.list_url`, docs/sync-protocol.md "Several upstream URLs and
// a list mirror"). Nothing in them needs protecting: every document is signed with
// the list-signing key and verified by the device.
//
//   DIR/v1/list/deltas          one static delta plan for every device (JSON)
//   DIR/v1/list/snapshot/N      the latest snapshot only
//   DIR/v1/list/delta/V         the deltas of the window (V > N - window)
//   DIR/v1/trust                the latest trust list (when one was published)
//
// Each file is written beside its place and renamed over it (fsynced), documents
// before the plan that names them; files of older versions are removed once the
// plan no longer names them. A device mid-download of a removed file gets a 404 and
// takes the new plan at its next pull.
#pragma once

#include "src/common/result.hpp"
#include "tools/upstream/store.hpp"

#include <cstdint>
#include <string>

namespace cp::upstream {

// Deltas a static plan names by default (the server's own chain limit).
constexpr std::int64_t kDefaultExportWindow = 50;

struct ExportReport {
    std::int64_t version = 0;   // latest list version exported (0: none published)
    std::size_t deltas = 0;     // delta files in the window
    std::int64_t trust_version = 0;
    std::size_t removed = 0;    // files of older versions removed
};

// Errors: the store's; io "export" (a file or folder could not be written);
// invalid_input "export-window" (window outside 1..10000).
Result<ExportReport> export_lists(UpstreamStore& store, const std::string& dir, std::int64_t window);

// The `publish --export DIR` step of build/bin/upstream, run after a publish that
// succeeded: exports and prints what it wrote; returns the exit status (0, or 1
// with the error on stderr).
int export_command(UpstreamStore& store, const std::string& dir, std::int64_t window);

}  // namespace cp::upstream
