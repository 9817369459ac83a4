// The first byte picks the parser; the rest is the file. Every row a parser returns
// must pass the validators the store applies, and every failure must be a typed
// invalid_input error.
#include "tools/upstream/console/import.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace cp::upstream::console;

namespace {

void check_areas(const cp::Result<std::vector<AreaNode>>& r) {
    if (!r) {
        if (r.error().kind != cp::ErrorKind::invalid_input) std::abort();
        return;
    }
    for (const auto& n : *r)
        if (!valid_area_code(n.code) || n.name_zh.empty() || !valid_name(n.name_zh, 128) ||
            !valid_name(n.name_en, 128) || (!n.parent.empty() && !valid_area_code(n.parent)))
            std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 5) {
        case 0: check_areas(parse_areas_csv(text)); break;
        case 1: check_areas(parse_areas_json(text)); break;
        case 2: {
            auto r = parse_passes_csv(text);
            if (!r) {
                if (r.error().kind != cp::ErrorKind::invalid_input) std::abort();
                break;
            }
            for (const auto& p : *r)
                if (!valid_pass_id(p.pass_id) || !valid_area_code(p.grid) || !valid_name(p.label, 64)) std::abort();
            break;
        }
        case 3: {
            auto r = parse_statuses_csv(text);
            if (!r) {
                if (r.error().kind != cp::ErrorKind::invalid_input) std::abort();
                break;
            }
            for (const auto& c : *r)
                if (!valid_pass_id(c.pass_id) || (!c.reason.empty() && !valid_reason_code(c.reason)) ||
                    (c.status == cp::upstream::PassStatus::red && c.reason.empty()))
                    std::abort();
            break;
        }
        default: (void)parse_end_date(text); break;
    }
    return 0;
}
