// What residents and operators send about residents: the first byte picks the
// parser (resident import CSV, pass-page self-check JSON, self-registration JSON, or
// with a second byte 'A' the address matching of self-registration); the rest is the input.
// Every row returned must pass the validators the registry relies on, every
// self-check must be a consistent answer, every failure a typed invalid_input.
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/residents.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace cp::upstream::console;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    if (data[0] % 3 == 2) {
        auto g = parse_self_registration(text);
        if (!g) {
            if (g.error().kind != cp::ErrorKind::invalid_input) std::abort();
            return 0;
        }
        const ResidentRow& row = g->row;
        if (row.name.empty() || !valid_name(row.name, 64) || !valid_id_number(row.id_number) ||
            !valid_phone(row.phone) || !valid_name(row.address, 200) || (!row.grid.empty() && !valid_area_code(row.grid)))
            std::abort();
        if (!g->code.empty() && g->code.size() != 6) std::abort();
    } else if (data[0] % 3 == 1 && size > 1 && data[1] == 'A') {
        // An address against the address units: the normal form is stable, and an
        // address is always found among units that are itself and nothing else.
        const std::string n = normalise_address(text);
        if (normalise_address(n) != n) std::abort();
        const auto g = grid_of_address(text, {{std::string(text), "ga"}});
        if (g.has_value() != !n.empty() || (g && *g != "ga")) std::abort();
        (void)grid_of_address(text, {{std::string(text.substr(0, text.size() / 2)), "ga"},
                                     {std::string(text.substr(text.size() / 2)), "gb"}},
                              {std::string(text.substr(0, text.size() / 3))});
    } else if (data[0] % 3 == 0) {
        auto r = parse_residents_csv(text);
        if (!r) {
            if (r.error().kind != cp::ErrorKind::invalid_input) std::abort();
            return 0;
        }
        for (const auto& row : *r)
            if (row.name.empty() || !valid_name(row.name, 64) || !valid_id_number(row.id_number) ||
                !valid_phone(row.phone) || !valid_name(row.address, 200) || !valid_area_code(row.grid))
                std::abort();
    } else {
        auto c = parse_self_check(text);
        if (!c) {
            if (c.error().kind != cp::ErrorKind::invalid_input) std::abort();
            return 0;
        }
        if (c->temperature_c && (!std::isfinite(*c->temperature_c) || *c->temperature_c < 30 || *c->temperature_c > 45))
            std::abort();
        if (c->summary().empty() || (c->summary() == "normal") == c->abnormal()) std::abort();
        // The masks take any bytes.
        (void)mask_name(text);
        (void)mask_phone(text);
    }
    return 0;
}
