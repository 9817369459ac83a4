// HTTP routes of the resident registry on the console listener: the operators' API
// under /api/residents (scoped through Residents) and the residents' public pass
// page under /p/<token> with its self-check (rate-limited per client address).
#pragma once

#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/residents.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>

namespace cp::upstream::console {

// What the console server lends to routes added beside its own: its session checks
// (read: any operator; write: CSRF and not read-only), its JSON body reader, its
// error answers (404 for not_found) and its clock.
struct RouteKit {
    using Handler = std::function<void(const httplib::Request&, httplib::Response&, const Operator&)>;
    std::function<httplib::Server::Handler(Handler)> read, write;
    std::function<std::optional<nlohmann::json>(const httplib::Request&, httplib::Response&)> body;
    std::function<void(httplib::Response&, const Error&)> send_error;
    std::function<std::int64_t()> now_s;
};

struct PublicLimits {
    int requests_per_minute = 60;  // per client address, pass page routes
};

namespace assets {
std::string_view residents_js();  // the console's residents view (residents_assets.cpp)
std::string_view register_html();  // the residents' own page: the pass link by a code
std::string_view register_js();
}

void install_resident_routes(httplib::Server& s, Residents& residents, const RouteKit& kit,
                             PublicLimits limits = {});

}  // namespace cp::upstream::console
