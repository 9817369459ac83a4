#include "tools/upstream/store_rows.hpp"

namespace cp::upstream {

Device read_device(Stmt& s) {
    Device d;
    s.read(0, d.id, d.fingerprint, d.enrolled_at, d.revoked, d.revoked_at, d.acked_seq, d.conflicts);
    return d;
}

DeviceState read_device_state(Stmt& s) {
    DeviceState st;
    st.device = read_device(s);
    st.last_seen = s.i64(7);
    if (!s.is_null(8)) {  // no heartbeat yet: the LEFT JOIN gives NULLs
        Heartbeat hb;
        hb.device_id = st.device.id;
        s.read(8, hb.firmware, hb.list_version, hb.backlog, hb.sensors_json, hb.device_time_ms, hb.server_time_ms,
               hb.journal_epoch, hb.lost_rows, hb.lost_journals, hb.sync_faults);
        st.last_heartbeat = hb;
    }
    return st;
}

}  // namespace cp::upstream
