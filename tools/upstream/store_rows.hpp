// How a device row and its last heartbeat are selected and read: one column list
// and one reader, used by the device store (sqlite_store.cpp) and by the console's
// fleet view (console/sqlite_console_store.cpp), on both backends.
#pragma once

#include "tools/upstream/sql_db.hpp"
#include "tools/upstream/store.hpp"

namespace cp::upstream {

// Columns of `devices d LEFT JOIN heartbeats h ON h.device_id = d.id`, read by
// read_device_state from column 0; a query's own columns follow from
// kDeviceStateColumnCount on.
inline constexpr const char* kDeviceStateColumns =
    "d.id, d.fingerprint, d.enrolled_at, d.revoked, d.revoked_at, d.acked_seq, d.conflicts, d.last_seen, "
    "h.firmware, h.list_version, h.backlog, h.sensors, h.device_time_ms, h.server_time_ms, h.journal_epoch, "
    "h.lost_rows, h.lost_journals, h.sync_faults";
inline constexpr int kDeviceStateColumnCount = 18;

// The first seven columns of kDeviceStateColumns (the devices table alone).
Device read_device(Stmt& s);
DeviceState read_device_state(Stmt& s);

}  // namespace cp::upstream
