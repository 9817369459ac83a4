// Parsers of what residents and operators send about residents: the import CSV and
// the pass page's self-check body (fuzzed by tests/fuzz/fuzz_residents_parse).
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/import.hpp"
#include "tools/upstream/console/residents.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

namespace cp::upstream::console {

namespace {
// What is wrong with one resident's fields ("" when nothing); never the ID number itself.
std::string row_problem(const ResidentRow& r, bool grid_optional = false) {
    if (r.name.empty() || !valid_name(r.name, 64)) return "name: 1..64 bytes of UTF-8 text";
    if (!valid_id_number(r.id_number)) return "not a valid ID number";
    if (!valid_phone(r.phone)) return "phone: 6..15 digits, optional '+'";
    if (!valid_name(r.address, 200)) return "address: at most 200 bytes of UTF-8 text";
    if (!(grid_optional && r.grid.empty()) && !valid_area_code(r.grid)) return "grid: an area code";
    return "";
}
}  // namespace

Result<std::vector<ResidentRow>> parse_residents_csv(std::string_view text) {
    std::vector<ResidentRow> rows;
    auto st = each_csv_line(text, reason::residents_csv, 5, 5, "name,", [&](const std::vector<std::string>& f) {
        ResidentRow r{f[0], f[1], f[2], f[3], f[4]};
        std::string problem = row_problem(r);
        if (problem.empty()) rows.push_back(std::move(r));
        return problem;
    });
    if (!st) return fail(st.error());
    return rows;
}

Result<SelfRegistration> parse_self_registration(std::string_view body) {
    auto bad = [](const std::string& m) { return fail(ErrorKind::invalid_input, reason::self_registration, m); };
    if (body.size() > 4096) return bad("body too large");
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    SelfRegistration out;
    for (auto [key, slot] : {std::pair{"name", &out.row.name}, std::pair{"id_number", &out.row.id_number},
                             std::pair{"phone", &out.row.phone}, std::pair{"address", &out.row.address},
                             std::pair{"grid", &out.row.grid}, std::pair{"code", &out.code}}) {
        auto it = j.find(key);
        if (it == j.end()) continue;
        if (!it->is_string()) return bad(std::string(key) + ": text");
        *slot = it->get<std::string>();
    }
    if (std::string problem = row_problem(out.row, true); !problem.empty()) return bad(problem);
    if (!out.code.empty() &&
        (out.code.size() != 6 || out.code.find_first_not_of("0123456789") != std::string::npos))
        return bad("code: six digits");
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "name" && it.key() != "id_number" && it.key() != "phone" && it.key() != "address" &&
            it.key() != "grid" && it.key() != "code")
            return bad("unknown field");
    return out;
}

Result<SelfCheck> parse_self_check(std::string_view body) {
    auto bad = [](const std::string& m) { return fail(ErrorKind::invalid_input, reason::self_check, m); };
    if (body.size() > 4096) return bad("body too large");
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    SelfCheck c;
    for (auto [key, slot] : {std::pair{"fever", &c.fever}, std::pair{"cough", &c.cough},
                             std::pair{"contact", &c.contact}, std::pair{"travel", &c.travel}}) {
        auto it = j.find(key);
        if (it == j.end() || !it->is_boolean()) return bad(std::string(key) + ": true or false");
        *slot = it->get<bool>();
    }
    if (auto it = j.find("temperature_c"); it != j.end() && !it->is_null()) {
        if (!it->is_number()) return bad("temperature_c: a number");
        const double t = it->get<double>();
        if (!std::isfinite(t) || t < 30.0 || t > 45.0) return bad("temperature_c: 30..45");
        c.temperature_c = t;
    }
    for (auto it = j.begin(); it != j.end(); ++it)
        if (it.key() != "fever" && it.key() != "cough" && it.key() != "contact" && it.key() != "travel" &&
            it.key() != "temperature_c")
            return bad("unknown field");
    return c;
}

std::string SelfCheck::summary() const {
    std::string s;
    auto add = [&](bool on, const char* w) {
        if (!on) return;
        if (!s.empty()) s += ' ';
        s += w;
    };
    add(fever, "fever");
    add(cough, "cough");
    add(contact, "contact");
    add(travel, "travel");
    if (temperature_c) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.1f", *temperature_c);
        if (!s.empty()) s += ' ';
        s += buf;
    }
    return s.empty() ? "normal" : s;
}

}  // namespace cp::upstream::console
