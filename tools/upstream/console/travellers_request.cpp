#include "tools/upstream/console/travellers_request.hpp"

#include "src/decision/decision.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/identity.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace cp::upstream::console {

namespace {

using nlohmann::json;

Failure bad(const char* field) { return fail(ErrorKind::invalid_input, traveller_reason::kField, field); }

std::size_t chars(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// A trimmed text field of min..max characters (well-formed UTF-8, no control characters).
Result<std::string> text(const json& b, const char* k, std::size_t min, std::size_t max) {
    if (!b.contains(k)) {
        if (min == 0) return std::string();
        return bad(k);
    }
    if (!b[k].is_string()) return bad(k);
    std::string s = b[k].get<std::string>();
    const auto first = s.find_first_not_of(' ');
    s = first == std::string::npos ? std::string() : s.substr(first, s.find_last_not_of(' ') - first + 1);
    if (!valid_name(s, max * 4) || chars(s) < min || chars(s) > max) return bad(k);
    return s;
}

}  // namespace

Result<RegistrationRequest> parse_registration(std::string_view body, std::int64_t now_s) {
    if (body.size() > kMaxRegistrationBody)
        return fail(ErrorKind::invalid_input, traveller_reason::kBody, "body too large");
    json b = json::parse(body, nullptr, false);
    if (b.is_discarded() || !b.is_object()) return fail(ErrorKind::invalid_input, traveller_reason::kBody, "not a JSON object");
    RegistrationRequest r;
    const auto route = text(b, "route", 0, 8);
    if (!route) return fail(route.error());
    if (*route == "driver") r.route = Route::driver;
    else if (!route->empty() && *route != "entry") return bad("route");
    auto name = text(b, "name", 1, 32);
    if (!name) return fail(name.error());
    r.name = *name;
    auto id = text(b, "id_number", 18, 18);
    if (!id || !valid_id_number(*id)) return bad("id_number");
    r.id_number = *id;
    auto phone = text(b, "phone", 11, 11);
    if (!phone || (*phone)[0] != '1' ||
        !std::all_of(phone->begin(), phone->end(), [](char c) { return c >= '0' && c <= '9'; }))
        return bad("phone");
    r.phone = *phone;
    auto origin = text(b, "origin", 1, 64);
    if (!origin) return fail(origin.error());
    r.origin = *origin;
    auto address = text(b, "address", 1, 128);
    if (!address) return fail(address.error());
    r.address = *address;
    auto grid = text(b, "grid", 1, 32);
    if (!grid || !valid_area_code(*grid)) return bad("grid");
    r.grid = *grid;
    auto transport = text(b, "transport", 1, 8);
    if (!transport || (*transport != "car" && *transport != "truck" && *transport != "train" && *transport != "bus"))
        return bad("transport");
    r.transport = *transport;
    if (r.route == Route::driver) {
        if (r.transport != "truck") return bad("transport");
        auto plate = text(b, "plate", 2, 16);
        if (!plate) return fail(plate.error());
        // The truck lane compares plates normalised (decision::normalize_plate): a
        // plate of separators only ("· -") would be no plate there.
        if (chars(decision::normalize_plate(*plate)) < 2) return bad("plate");
        r.plate = *plate;
    }
    if (!b.contains("expected_arrival") || !b["expected_arrival"].is_number_integer()) return bad("expected_arrival");
    r.expected_arrival = b["expected_arrival"].get<std::int64_t>();
    if (r.expected_arrival < now_s - 3600 || r.expected_arrival > now_s + 14 * 86400) return bad("expected_arrival");
    auto site = text(b, "site", 0, 32);
    if (!site || (!site->empty() && !valid_area_code(*site))) return bad("site");
    r.site = *site;
    return r;
}

}  // namespace cp::upstream::console
