#include "tools/upstream/requests.hpp"

#include "src/zlib/zlib.hpp"

#include <algorithm>

namespace cp::upstream {

using nlohmann::json;

Result<std::string> gunzip(std::string_view data, std::size_t max_out) {
    auto r = zlib::inflate(data, zlib::Wrapper::gzip, max_out, zlib::Trailing::ignore);
    if (r) return r;
    const Error& e = r.error();
    if (e.is(zlib::reason::failed)) return fail(ErrorKind::internal, reason::zlib, e.message);
    if (e.is(zlib::reason::too_large)) return fail(ErrorKind::rejected, reason::too_large, "inflated body over the limit");
    return fail(ErrorKind::invalid_input, reason::gzip, e.is(zlib::reason::truncated) ? "truncated gzip body" : "body does not inflate");
}

Result<std::string> decode_body(std::string_view body, std::string_view content_encoding,
                                const BodyLimits& limits) {
    if (body.size() > limits.max_body_bytes)
        return fail(ErrorKind::rejected, reason::too_large, "body over the limit");
    if (content_encoding.empty() || content_encoding == "identity") return std::string(body);
    if (content_encoding == "gzip") return gunzip(body, limits.max_inflated_bytes);
    return fail(ErrorKind::invalid_input, reason::content_encoding, "only identity and gzip");
}

namespace {

// Checks syntax and nesting with nlohmann's own tokenizer, building nothing: the
// parse stops at the first container past `max_depth`, so a deep body costs no
// stack and no memory (the tree and its serializer recurse per level).
class DepthCheck : public nlohmann::json_sax<json> {
public:
    explicit DepthCheck(std::size_t max_depth) : max_(max_depth) {}
    bool too_deep = false;

    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return enter(); }
    bool key(string_t&) override { return true; }
    bool end_object() override { return leave(); }
    bool start_array(std::size_t) override { return enter(); }
    bool end_array() override { return leave(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }

private:
    bool enter() {
        if (++depth_ > max_) {
            too_deep = true;
            return false;
        }
        return true;
    }
    bool leave() {
        --depth_;
        return true;
    }
    std::size_t max_;
    std::size_t depth_ = 0;
};

bool is_hex_lower(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_token(std::string_view s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-' || c == '_' || c == '.' || c == ':';
    });
}

// Parses one uploaded scan; the message names the offending field.
// Largest journal epoch a device draws (src/journal: 2^53 - 1, exact in JSON).
constexpr std::int64_t kMaxJournalEpoch = (std::int64_t{1} << 53) - 1;

Result<Scan> parse_scan(const json& j, const std::string& device_id, std::int64_t now_s) {
    auto bad = [](const char* field) {
        return fail(ErrorKind::invalid_input, reason::scan,
                    std::string("bad field '") + field + "'");
    };
    if (!j.is_object()) return bad("scan");
    Scan s;
    s.device_id = device_id;
    s.received_at = now_s;
    if (!j.contains("seq") || !j["seq"].is_number_integer()) return bad("seq");
    s.seq = j["seq"].get<std::int64_t>();
    if (s.seq < 1) return bad("seq");
    if (!j.contains("scan_id") || !j["scan_id"].is_string()) return bad("scan_id");
    s.scan_id = j["scan_id"].get<std::string>();
    // "<device>-<epoch>-<seq>": a 64-character device id, a 16-digit epoch, a seq.
    if (!is_token(s.scan_id, 128)) return bad("scan_id");
    // The device journal's generation; absent (0) from devices made before epochs.
    if (j.contains("epoch") && !j["epoch"].is_null()) {
        if (!j["epoch"].is_number_integer()) return bad("epoch");
        s.epoch = j["epoch"].get<std::int64_t>();
        if (s.epoch < 0 || s.epoch > kMaxJournalEpoch) return bad("epoch");
    }
    if (j.contains("pass_id") && !j["pass_id"].is_null()) {
        if (!j["pass_id"].is_string()) return bad("pass_id");
        s.pass_id = j["pass_id"].get<std::string>();
        if (s.pass_id.size() != 32 || !is_hex_lower(s.pass_id)) return bad("pass_id");
    }
    if (!j.contains("verdict") || !j["verdict"].is_string()) return bad("verdict");
    s.verdict = j["verdict"].get<std::string>();
    if (s.verdict != "green" && s.verdict != "yellow" && s.verdict != "red" &&
        s.verdict != "reject")
        return bad("verdict");
    if (j.contains("reason") && !j["reason"].is_null()) {
        if (!j["reason"].is_string()) return bad("reason");
        s.reason = j["reason"].get<std::string>();
        if (!s.reason.empty() && !is_token(s.reason, 64)) return bad("reason");
    }
    if (j.contains("temperature_c") && !j["temperature_c"].is_null()) {
        if (!j["temperature_c"].is_number()) return bad("temperature_c");
        double t = j["temperature_c"].get<double>();
        if (!(t >= 20.0 && t <= 50.0)) return bad("temperature_c");
        s.temperature_c = t;
    }
    if (!j.contains("time") || !j["time"].is_number_integer()) return bad("time");
    s.time = j["time"].get<std::int64_t>();
    if (s.time < 0) return bad("time");
    if (j.contains("type") && !j["type"].is_null()) {
        if (!j["type"].is_string()) return bad("type");
        const std::string type = j["type"].get<std::string>();
        if (type != "scan" && type != "manual") return bad("type");
        s.manual = type == "manual";
    }
    if (s.manual) {
        if (!j.contains("ref_seq") || !j["ref_seq"].is_number_integer()) return bad("ref_seq");
        s.ref_seq = j["ref_seq"].get<std::int64_t>();
        if (s.ref_seq < 1 || s.ref_seq >= s.seq) return bad("ref_seq");
    }
    if (j.contains("lane") && !j["lane"].is_null()) {
        if (!j["lane"].is_string()) return bad("lane");
        s.lane = j["lane"].get<std::string>();
        if (!s.lane.empty() && !is_token(s.lane, 32)) return bad("lane");
    }
    return s;
}

}  // namespace

Result<json> parse_json_object(std::string_view text, std::size_t max_depth) {
    DepthCheck check(max_depth);
    if (!json::sax_parse(text, &check)) {
        if (check.too_deep)
            return fail(ErrorKind::invalid_input, reason::json_depth,
                        "nested deeper than " + std::to_string(max_depth));
        return fail(ErrorKind::invalid_input, reason::json, "not JSON");
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(ErrorKind::invalid_input, reason::json, "not a JSON object");
    return j;
}

Result<std::vector<Scan>> parse_scan_upload(std::string_view json_text,
                                            const std::string& device_id, std::int64_t now_s,
                                            std::size_t max_batch, std::size_t* bad_index) {
    auto body = parse_json_object(json_text);
    if (!body) return fail(body.error());
    const json& b = *body;
    if (b.contains("device_id") &&
        (!b["device_id"].is_string() || b["device_id"].get<std::string>() != device_id))
        return fail(ErrorKind::rejected, reason::device_mismatch, "batch names another device");
    if (!b.contains("scans") || !b["scans"].is_array())
        return fail(ErrorKind::invalid_input, reason::scans, "no scans array");
    const json& arr = b["scans"];
    if (arr.size() > max_batch)
        return fail(ErrorKind::rejected, reason::batch_too_large,
                    "at most " + std::to_string(max_batch) + " scans per upload");
    std::vector<Scan> scans;
    scans.reserve(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i) {
        auto s = parse_scan(arr[i], device_id, now_s);
        if (!s) {
            if (bad_index) *bad_index = i;
            return fail(s.error());
        }
        if (!scans.empty() && s->epoch != scans.front().epoch) {
            if (bad_index) *bad_index = i;
            return fail(ErrorKind::invalid_input, reason::epoch, "one journal epoch per batch");
        }
        scans.push_back(std::move(*s));
    }
    return scans;
}

Result<Heartbeat> parse_heartbeat(std::string_view json_text, const std::string& device_id,
                                  std::int64_t server_time_ms) {
    auto body = parse_json_object(json_text);
    if (!body) return fail(body.error());
    const json& b = *body;
    auto bad = [](const char* field) {
        return fail(ErrorKind::invalid_input, reason::heartbeat,
                    std::string("bad field '") + field + "'");
    };
    Heartbeat hb;
    hb.device_id = device_id;
    hb.server_time_ms = server_time_ms;
    if (!b.contains("firmware") || !b["firmware"].is_string() ||
        !is_token(b["firmware"].get<std::string>(), 64))
        return bad("firmware");
    hb.firmware = b["firmware"].get<std::string>();
    if (!b.contains("list_version") || !b["list_version"].is_number_integer())
        return bad("list_version");
    hb.list_version = b["list_version"].get<std::int64_t>();
    if (!b.contains("backlog") || !b["backlog"].is_number_integer() ||
        b["backlog"].get<std::int64_t>() < 0)
        return bad("backlog");
    hb.backlog = b["backlog"].get<std::int64_t>();
    if (!b.contains("wall_time_ms") || !b["wall_time_ms"].is_number_integer())
        return bad("wall_time_ms");
    hb.device_time_ms = b["wall_time_ms"].get<std::int64_t>();
    if (b.contains("sensors")) {
        if (!b["sensors"].is_object()) return bad("sensors");
        // Depth is bounded by the parse above, so the serializer's recursion is too.
        hb.sensors_json = b["sensors"].dump();
        if (hb.sensors_json.size() > kMaxSensorsBytes) return bad("sensors");
    } else {
        hb.sensors_json = "{}";
    }
    // Journal health: optional (devices from before these fields send none).
    for (auto [key, field] : {std::pair<const char*, std::int64_t*>{"journal_epoch", &hb.journal_epoch},
                              {"journal_lost_rows", &hb.lost_rows},
                              {"journal_lost_journals", &hb.lost_journals},
                              {"sync_faults", &hb.sync_faults}}) {
        if (!b.contains(key)) continue;
        if (!b[key].is_number_integer() || b[key].get<std::int64_t>() < 0) return bad(key);
        *field = b[key].get<std::int64_t>();
    }
    return hb;
}

}  // namespace cp::upstream
