#include "tools/upstream/lists_export.hpp"

#include "src/common/file_io.hpp"
#include "src/common/log.hpp"
#include "tools/upstream/reasons.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <set>

namespace cp::upstream {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr Reason kReason = reason::export_files;

Status write_doc(const fs::path& path, std::string_view data) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return fail(ErrorKind::io, kReason, "create " + path.parent_path().string() + ": " + ec.message());
    return write_file_atomically(path, data, path.parent_path() / ("." + path.filename().string() + ".tmp"),
                                 kReason);
}

std::string_view view(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Removes the files of `folder` whose names are not in `keep`; counts them.
std::size_t remove_others(const fs::path& folder, const std::set<std::string>& keep) {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        const std::string name = e.path().filename().string();
        if (keep.count(name) || name.front() == '.') continue;
        if (fs::remove(e.path(), ec)) ++n;
    }
    return n;
}

}  // namespace

Result<ExportReport> export_lists(UpstreamStore& store, const std::string& dir, std::int64_t window) {
    if (window < 1 || window > 10'000)
        return fail(ErrorKind::invalid_input, reason::export_window, "the delta window must be 1..10000");
    ExportReport rep;
    const fs::path root = fs::path(dir) / "v1";
    auto latest = store.latest_list_version();
    if (!latest) return fail(latest.error());
    rep.version = *latest;
    json plan = {{"latest", *latest}, {"snapshot_required", false}, {"deltas", json::array()}};
    std::set<std::string> snapshots, deltas;
    if (*latest > 0) {
        auto last = store.list_version(*latest);
        if (!last) return fail(last.error());
        if (!*last) return fail(ErrorKind::internal, kReason, "the latest list version is missing");
        const std::string name = std::to_string(*latest);
        CP_TRY(write_doc(root / "list" / "snapshot" / name, view((*last)->snapshot)));
        snapshots.insert(name);
        plan["snapshot"] = "/v1/list/snapshot/" + name;
        plan["published_at"] = (*last)->published_at;
        plan["entries"] = (*last)->entries;
        // Version 1 has no delta; versions pruned from the store end the window.
        for (std::int64_t v = std::max<std::int64_t>(2, *latest - window + 1); v <= *latest; ++v) {
            auto lv = store.list_version(v);
            if (!lv) return fail(lv.error());
            if (!*lv || (*lv)->delta.empty()) {
                plan["deltas"] = json::array();  // a gap: only deltas after it form a chain
                deltas.clear();
                continue;
            }
            const std::string d = std::to_string(v);
            CP_TRY(write_doc(root / "list" / "delta" / d, view((*lv)->delta)));
            deltas.insert(d);
            plan["deltas"].push_back({{"version", v}, {"base_version", v - 1},
                                      {"size", (*lv)->delta.size()}, {"url", "/v1/list/delta/" + d}});
        }
    }
    rep.deltas = deltas.size();
    auto trust = store.latest_trust();
    if (!trust) return fail(trust.error());
    if (*trust) {
        CP_TRY(write_doc(root / "trust", view((*trust)->signed_list)));
        rep.trust_version = (*trust)->version;
    }
    // The plan last: it names only files that are in place.
    CP_TRY(write_doc(root / "list" / "deltas", plan.dump()));
    rep.removed = remove_others(root / "list" / "snapshot", snapshots) + remove_others(root / "list" / "delta", deltas);
    return rep;
}

int export_command(UpstreamStore& store, const std::string& dir, std::int64_t window) {
    auto r = export_lists(store, dir, window);
    if (!r) {
        std::fprintf(stderr, "upstream: export: %s\n", r.error().describe().c_str());
        return 1;
    }
    log::info("upstream", "lists exported",
              {{"dir", dir}, {"version", std::to_string(r->version)}, {"deltas", std::to_string(r->deltas)}});
    std::printf("exported list version %lld (%zu deltas), trust version %lld to %s; %zu old files removed\n",
                static_cast<long long>(r->version), r->deltas, static_cast<long long>(r->trust_version),
                dir.c_str(), r->removed);
    return 0;
}

}  // namespace cp::upstream
