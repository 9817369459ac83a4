// `checkpoint diag`: the data on the device (status list, journal) and the
// system (disk, memory).
#include "tools/checkpoint/diag.hpp"

#include "src/common/time.hpp"
#include "src/journal/journal.hpp"
#include "src/status/store.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace cp::cli::diag {

namespace fs = std::filesystem;

namespace {

// What a technician reads with a fault: its effect, and what to do.
constexpr const char* kJournalRefusing =
    "the journal cannot record: scans are shown but not recorded, the gate stays shut";
constexpr const char* kDiskHint =
    "Free space: old logs (journalctl --vacuum-size=50M), *.corrupt-* journals set aside in the data folder "
    "once copied off, files left in /tmp; or lower journal.disk_floor_bytes";

struct DiskSpace {
    fs::path path;  // data_dir, or its nearest existing parent
    std::int64_t free_b = 0, total_b = 0;
};

std::optional<DiskSpace> disk_space(const config::Config& cfg) {
    DiskSpace d;
    d.path = cfg.paths.data_dir;
    std::error_code ec;
    while (!fs::exists(d.path, ec) && d.path.has_parent_path() && d.path != d.path.parent_path()) d.path = d.path.parent_path();
    struct statvfs st{};
    if (::statvfs(d.path.c_str(), &st) != 0) return std::nullopt;
    d.free_b = static_cast<std::int64_t>(st.f_bavail) * static_cast<std::int64_t>(st.f_frsize);
    d.total_b = static_cast<std::int64_t>(st.f_blocks) * static_cast<std::int64_t>(st.f_frsize);
    return d;
}

}  // namespace

Check check_list(const config::Config& cfg, std::optional<std::int64_t>& local_version) {
    Check c("list");
    status::StoreOptions so;
    so.create = false;
    so.cache_kib = 256;
    auto store = status::open_sqlite_status_list(cfg.paths.status_db, so);
    std::optional<status::ListInfo> info;
    if (store) info = (*store)->info();
    if (!info) {
        c.level = Level::fail;
        c.value = "no status list in " + cfg.paths.status_db +
                  ": every pass is YELLOW; import one (checkpoint list import) or let sync pull it";
        return c;
    }
    local_version = info->version;
    const std::int64_t now = wall_now_ms() / 1000;
    const std::int64_t age = now - info->created_at;
    c.data["version"] = info->version;
    c.data["created_at"] = info->created_at;
    c.data["age_s"] = age;
    c.data["entries"] = info->entries;
    c.value = "version " + std::to_string(info->version) + ", " + std::to_string(info->entries) + " entries, ";
    if (age < -cfg.policy.clock_skew_s) {
        c.level = Level::warn;
        c.value += "made " + age_text(-age) + " in the future by this device's clock: " + kClockHint;
    } else if (age > cfg.policy.max_list_age_s) {
        c.level = Level::fail;
        c.value += age_text(age) + " old, over the limit of " + age_text(cfg.policy.max_list_age_s) +
                   ": passes are YELLOW until a newer list arrives";
    } else {
        c.value += age_text(std::max<std::int64_t>(age, 0)) + " old (limit " + age_text(cfg.policy.max_list_age_s) + ")";
    }
    return c;
}

Check check_journal(const config::Config& cfg) {
    Check c("journal");
    // Below the floor the journal refuses every row: scans are shown, not recorded.
    const auto disk = disk_space(cfg);
    const bool refusing = disk && disk->free_b < cfg.journal.disk_floor_bytes;
    auto b = journal::read_backlog(cfg.paths.journal);
    if (!b) {
        c.level = b.error().kind == ErrorKind::not_found ? Level::warn : Level::fail;
        c.value = b.error().kind == ErrorKind::not_found ? "no journal yet at " + cfg.paths.journal + " (no scan so far)"
                                                         : b.error().describe();
        if (refusing) {
            c.level = Level::fail;
            c.value += "; " + std::string(kJournalRefusing);
        }
        return c;
    }
    c.data["rows"] = b->rows;
    c.data["backlog"] = b->pending;
    c.data["last_seq"] = b->last_seq;
    c.value = std::to_string(b->pending) + " of " + std::to_string(b->rows) + " rows not uploaded";
    if (b->oldest_pending_wall_ms) {
        const std::int64_t age = (wall_now_ms() - *b->oldest_pending_wall_ms) / 1000;
        c.data["oldest_pending_age_s"] = age;
        c.value += ", oldest " + age_text(std::max<std::int64_t>(age, 0));
        // Sync uploads every heartbeat; an hour of backlog means it does not.
        if (age > 3600 + cfg.upstream.heartbeat_interval_s) {
            c.level = Level::warn;
            c.value += ": not uploading";
        }
    }
    if (refusing) {
        c.level = Level::fail;
        c.value += "; " + std::string(kJournalRefusing);
    }
    return c;
}

// The device certificate against the fleet CA file the daemon pins (chain and
// validity dates), the way the command centre will check it. Returns empty when

Check check_disk(const config::Config& cfg) {
    Check c("disk");
    const auto disk = disk_space(cfg);
    if (!disk) {
        c.level = Level::fail;
        c.value = "cannot stat " + cfg.paths.data_dir;
        return c;
    }
    const fs::path& p = disk->path;
    const std::int64_t free_b = disk->free_b, total_b = disk->total_b;
    const std::int64_t floor = cfg.journal.disk_floor_bytes;
    c.data["path"] = p.string();
    c.data["free_bytes"] = free_b;
    c.data["total_bytes"] = total_b;
    c.value = p.string() + ": " + bytes_text(free_b) + " free of " + bytes_text(total_b);
    if (free_b < floor) {
        c.level = Level::fail;
        c.value += ", below the journal floor of " + bytes_text(floor) + ": " + kJournalRefusing + ". " + kDiskHint;
    } else if (free_b < 2 * floor) {
        c.level = Level::warn;
        c.value += ", close to the journal floor of " + bytes_text(floor) + ". " + kDiskHint;
    }
    return c;
}

Check check_memory() {
    Check c("memory");
    std::ifstream in("/proc/meminfo");
    std::optional<std::int64_t> avail_kib, total_kib;
    for (std::string line; std::getline(in, line);) {
        long long v = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %lld kB", &v) == 1) avail_kib = v;
        if (std::sscanf(line.c_str(), "MemTotal: %lld kB", &v) == 1) total_kib = v;
    }
    if (!avail_kib || !total_kib) {
        c.level = Level::fail;
        c.value = "no MemAvailable in /proc/meminfo";
        return c;
    }
    const std::int64_t avail = *avail_kib * 1024;
    c.data["available_bytes"] = avail;
    c.data["total_bytes"] = *total_kib * 1024;
    c.value = bytes_text(avail) + " available of " + bytes_text(*total_kib * 1024);
    // checkpointd is capped at 256 MiB (MemoryMax); it needs well under that.
    if (avail < 32LL << 20) c.level = Level::fail;
    else if (avail < 96LL << 20) c.level = Level::warn;
    return c;
}

}  // namespace cp::cli::diag
