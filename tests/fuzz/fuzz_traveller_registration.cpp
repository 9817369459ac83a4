// The public registration body (POST /r/api/register): any bytes yield a request
// whose fields pass the checks the issuer and the store rely on, or a typed
// invalid_input error; never a crash.
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/travellers_request.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace cp::upstream::console;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::int64_t now = 1'700'000'000;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = parse_registration(text, now);
    if (!r) {
        if (r.error().kind != cp::ErrorKind::invalid_input) std::abort();
        return 0;
    }
    if (r->name.empty() || !valid_name(r->name, 128) || !valid_id_number(r->id_number) || r->phone.size() != 11 ||
        !valid_area_code(r->grid) || (!r->site.empty() && !valid_area_code(r->site)) ||
        r->expected_arrival < now - 3600 || r->expected_arrival > now + 14 * 86400 ||
        (r->route == Route::driver && (r->plate.empty() || r->transport != "truck")))
        std::abort();
    (void)mask_name(r->name);
    (void)mask_phone(r->phone);
    return 0;
}
