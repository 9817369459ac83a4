#include "tools/upstream/store_rows.hpp"

namespace cp::upstream {

Device read_device(Stmt& s) {
    Device d;
    d.id = s.text(0);
    d.fingerprint = s.text(1);
    d.enrolled_at = s.i64(2);
    d.revoked = s.i64(3) != 0;
    d.revoked_at = s.i64(4);
    d.acked_seq = s.i64(5);
    d.conflicts = s.i64(6);
    return d;
}

DeviceState read_device_state(Stmt& s) {
    DeviceState st;
    st.device = read_device(s);
    st.last_seen = s.i64(7);
    if (!s.is_null(8)) {  // no heartbeat yet: the LEFT JOIN gives NULLs
        Heartbeat hb;
        hb.device_id = st.device.id;
        hb.firmware = s.text(8);
        hb.list_version = s.i64(9);
        hb.backlog = s.i64(10);
        hb.sensors_json = s.text(11);
        hb.device_time_ms = s.i64(12);
        hb.server_time_ms = s.i64(13);
        hb.journal_epoch = s.i64(14);
        hb.lost_rows = s.i64(15);
        hb.lost_journals = s.i64(16);
        hb.sync_faults = s.i64(17);
        st.last_heartbeat = hb;
    }
    return st;
}

}  // namespace cp::upstream
