// The command centre's answers as the device reads them: any bytes must give a
// typed value or a typed error ("response", "url-path", "trust-format", ...),
// never an exception, a crash or a path that leaves the API.
#include "src/sync/sync_client.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    (void)cp::sync::parse_scans_answer(body);
    (void)cp::sync::parse_heartbeat_answer(body);
    if (auto plan = cp::sync::parse_delta_plan(body, 0)) {
        if (!plan->snapshot.empty() && !cp::sync::check_request_path(plan->snapshot).ok()) std::abort();
        for (const auto& p : plan->deltas)
            if (!cp::sync::check_request_path(p).ok() || p.rfind("/v1/list/", 0) != 0) std::abort();
    }
    static const cp::crypto::TrustStore no_signers;
    (void)cp::sync::verify_trust_list(body, no_signers);
    (void)cp::sync::check_request_path(body);
    return 0;
}
