#include "tools/upstream/console/import.hpp"
#include "tools/upstream/reasons.hpp"

#include "src/common/time.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

namespace cp::upstream::console {

Status each_csv_line(std::string_view text, Reason reason, std::size_t want_min, std::size_t want_max,
                     std::string_view header, const CsvLineFn& f) {
    std::size_t pos = 0, line_no = 0, rows = 0;
    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // BOM from spreadsheets
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        if (line_no == 1 && line.substr(0, header.size()) == header) continue;
        auto bad = [&](const std::string& what) {
            return fail(ErrorKind::invalid_input, reason, "line " + std::to_string(line_no) + ": " + what);
        };
        if (++rows > kMaxImportRows) return bad("too many rows");
        if (line.find('"') != std::string_view::npos) return bad("quotes are not allowed");
        std::vector<std::string> fields;
        std::size_t p = 0;
        for (;;) {
            std::size_t c = line.find(',', p);
            fields.emplace_back(line.substr(p, c == std::string_view::npos ? line.size() - p : c - p));
            if (c == std::string_view::npos) break;
            p = c + 1;
        }
        if (fields.size() < want_min || fields.size() > want_max)
            return bad("expected " + std::to_string(want_min) + " to " + std::to_string(want_max) + " fields");
        std::string err = f(fields);
        if (!err.empty()) return bad(err);
    }
    return {};
}

namespace {

// Orders nodes parents first; nodes whose parent is not in the batch come first
// (the store checks that parent exists). Errors on duplicates and cycles.
Result<std::vector<AreaNode>> order(std::vector<AreaNode> nodes, Reason reason) {
    std::map<std::string, std::size_t> idx;
    for (std::size_t i = 0; i < nodes.size(); ++i)
        if (!idx.emplace(nodes[i].code, i).second)
            return fail(ErrorKind::invalid_input, reason, "duplicate code " + nodes[i].code);
    std::vector<AreaNode> out;
    std::set<std::string> placed;
    std::vector<bool> done(nodes.size(), false);
    for (std::size_t round = 0; out.size() < nodes.size(); ++round) {
        if (round > nodes.size()) return fail(ErrorKind::invalid_input, reason, "parent cycle");
        for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (done[i]) continue;
            const auto& p = nodes[i].parent;
            if (p.empty() || !idx.count(p) || placed.count(p)) {
                out.push_back(nodes[i]);
                placed.insert(nodes[i].code);
                done[i] = true;
            }
        }
    }
    return out;
}

std::string check_node(const AreaNode& n) {
    if (!valid_area_code(n.code)) return "code must be [0-9A-Za-z-]{1,32}";
    if (!n.parent.empty() && !valid_area_code(n.parent)) return "bad parent code";
    if (n.name_zh.empty() || !valid_name(n.name_zh, 128)) return "name_zh: 1 to 128 bytes of UTF-8 text";
    if (!valid_name(n.name_en, 128)) return "name_en: at most 128 bytes of UTF-8 text";
    return {};
}

}  // namespace

Result<std::vector<AreaNode>> parse_areas_csv(std::string_view text) {
    std::vector<AreaNode> nodes;
    CP_TRY(each_csv_line(text, reason::areas_csv, 3, 4, "code,", [&](const std::vector<std::string>& f) {
        AreaNode n;
        n.code = f[0];
        n.parent = f[1];
        n.name_zh = f[2];
        if (f.size() > 3) n.name_en = f[3];
        std::string err = check_node(n);
        if (err.empty()) nodes.push_back(std::move(n));
        return err;
    }));
    return order(std::move(nodes), reason::areas_csv);
}

Result<std::vector<AreaNode>> parse_areas_json(std::string_view text) {
    using nlohmann::json;
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail(ErrorKind::invalid_input, reason::areas_json, "not JSON");
    std::vector<AreaNode> nodes;
    std::string err;
    auto str = [](const json& o, const char* k) -> std::optional<std::string> {
        if (!o.contains(k) || o[k].is_null()) return std::string();
        if (!o[k].is_string()) return std::nullopt;
        return o[k].get<std::string>();
    };
    // Depth-bounded walk: the tree has four levels.
    auto walk = [&](auto&& self, const json& o, const std::string& parent, int depth) -> bool {
        if (depth > 4 || !o.is_object() || nodes.size() >= kMaxImportRows) {
            err = "expected objects, at most four levels";
            return false;
        }
        auto code = str(o, "code"), zh = str(o, "name_zh"), en = str(o, "name_en"), par = str(o, "parent");
        if (!code || !zh || !en || !par) {
            err = "code, parent, name_zh and name_en are strings";
            return false;
        }
        AreaNode n{*code, parent.empty() ? *par : parent, Level::city, *zh, *en, ""};
        err = check_node(n);
        if (!err.empty()) {
            err = n.code + ": " + err;
            return false;
        }
        nodes.push_back(n);
        if (o.contains("children")) {
            if (!o["children"].is_array()) {
                err = "children is an array";
                return false;
            }
            for (const auto& c : o["children"])
                if (!self(self, c, n.code, depth + 1)) return false;
        }
        return true;
    };
    bool ok = true;
    if (j.is_array()) {
        for (const auto& o : j)
            if (!(ok = walk(walk, o, "", 1))) break;
    } else {
        ok = walk(walk, j, "", 1);
    }
    if (!ok) return fail(ErrorKind::invalid_input, reason::areas_json, err);
    return order(std::move(nodes), reason::areas_json);
}

Result<std::vector<PassRecord>> parse_passes_csv(std::string_view text) {
    std::vector<PassRecord> out;
    CP_TRY(each_csv_line(text, reason::passes_csv, 2, 3, "pass_id,", [&](const std::vector<std::string>& f) {
        PassRecord p;
        p.pass_id = f[0];
        p.grid = f[1];
        if (f.size() > 2) p.label = f[2];
        if (!valid_pass_id(p.pass_id)) return std::string("pass_id: 32 lower-case hex digits");
        if (!valid_area_code(p.grid)) return std::string("grid: an area code");
        if (!valid_name(p.label, 64)) return std::string("label: at most 64 bytes of UTF-8 text");
        out.push_back(std::move(p));
        return std::string();
    }));
    return out;
}

std::optional<std::int64_t> parse_end_date(std::string_view t) {
    if (t.empty()) return std::int64_t{0};
    if (t.size() == 10) return parse_iso8601(std::string(t) + "T00:00:00Z");
    return parse_iso8601(t);
}

Result<std::vector<StatusChange>> parse_statuses_csv(std::string_view text) {
    std::vector<StatusChange> out;
    CP_TRY(each_csv_line(text, reason::statuses_csv, 2, 4, "pass_id,", [&](const std::vector<std::string>& f) {
        StatusChange c;
        c.pass_id = f[0];
        if (!valid_pass_id(c.pass_id)) return std::string("pass_id: 32 lower-case hex digits");
        auto st = parse_pass_status(f[1]);
        if (!st) return std::string("status: red, yellow or green");
        c.status = *st;
        if (f.size() > 2) c.reason = f[2];
        if (!c.reason.empty() && !valid_reason_code(c.reason)) return std::string("reason: [a-z0-9-]{1,32}");
        if (c.status == PassStatus::red && c.reason.empty()) return std::string("red needs a reason code");
        auto until = parse_end_date(f.size() > 3 ? f[3] : "");
        if (!until) return std::string("until: YYYY-MM-DD or ISO 8601");
        c.until = *until;
        out.push_back(std::move(c));
        return std::string();
    }));
    return out;
}

}  // namespace cp::upstream::console
