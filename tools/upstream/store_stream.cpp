// The default (non-streaming) forms of UpstreamStore's streaming calls, for a
// backend that does not override them yet: correct, with the memory of the vector
// forms they go through.
#include "tools/upstream/store.hpp"

#include <fstream>
#include <iterator>

namespace cp::upstream {

namespace {
Result<Bytes> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::read, "cannot open " + path);
    Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return fail(ErrorKind::io, reason::read, "cannot read " + path);
    return b;
}
}  // namespace

Status UpstreamStore::for_each_status(StatusSet set, const StatusVisitor& fn) {
    auto all = set == StatusSet::working ? statuses() : published_entries();
    if (!all) return fail(all.error());
    for (const auto& e : *all) CP_TRY(fn(e));
    return {};
}

Status UpstreamStore::publish_list_files(const ListVersion& v, const std::string& snapshot_file,
                                         const std::string& delta_file, const StatusStream& entries) {
    ListVersion full = v;
    auto snap = read_all(snapshot_file);
    if (!snap) return fail(snap.error());
    auto delta = read_all(delta_file);
    if (!delta) return fail(delta.error());
    full.snapshot = std::move(*snap);
    full.delta = std::move(*delta);
    std::vector<StatusEntry> set;
    CP_TRY(entries([&](const StatusEntry& e) -> Status {
        set.push_back(e);
        return {};
    }));
    return publish_list(full, set);
}

Result<std::optional<Bytes>> UpstreamStore::list_file(std::int64_t version, ListFile which) {
    auto v = list_version(version);
    if (!v) return fail(v.error());
    if (!*v) return std::optional<Bytes>{};
    return std::optional<Bytes>(std::move(which == ListFile::snapshot ? (*v)->snapshot : (*v)->delta));
}

Result<std::int64_t> UpstreamStore::prune_list_versions(std::int64_t keep_deltas) {
    (void)keep_deltas;
    return std::int64_t{0};  // a backend without pruning keeps every version
}

}  // namespace cp::upstream
