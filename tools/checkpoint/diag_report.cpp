// `checkpoint diag`: the report, as text lines or one JSON object.
#include "tools/checkpoint/diag.hpp"

#include <algorithm>
#include <cstdio>

namespace cp::cli::diag {

const char* to_string(Level l) {
    switch (l) {
    case Level::ok: return "ok";
    case Level::skip: return "skip";
    case Level::warn: return "warn";
    case Level::fail: return "fail";
    }
    return "?";
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string bytes_text(std::int64_t b) {
    const double mib = static_cast<double>(b) / (1024.0 * 1024.0);
    return mib >= 1024 ? fmt("%.1f GiB", mib / 1024) : fmt("%.0f MiB", mib);
}

std::string age_text(std::int64_t s) {
    if (s < 120) return std::to_string(s) + " s";
    if (s < 2 * 3600) return std::to_string(s / 60) + " min";
    if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
    return std::to_string(s / 86400) + " d";
}

int report(const std::vector<Check>& checks, const std::string& device_id, const std::string& config_path, bool json) {
    Level worst = Level::ok;
    int warns = 0, fails = 0;
    for (const auto& c : checks) {
        worst = std::max(worst, c.level);
        warns += c.level == Level::warn;
        fails += c.level == Level::fail;
    }
    const char* result = worst == Level::fail ? "fail" : worst == Level::warn ? "warn" : "ok";
    if (json) {
        nlohmann::ordered_json j;
        j["device"] = device_id;
        j["config"] = config_path;
        j["result"] = result;
        j["checks"] = nlohmann::ordered_json::array();
        for (const auto& c : checks) {
            nlohmann::ordered_json e;
            e["name"] = c.name;
            e["status"] = to_string(c.level);
            e["value"] = c.value;
            if (!c.data.empty()) e["data"] = c.data;
            j["checks"].push_back(std::move(e));
        }
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        for (const auto& c : checks) std::printf("%-5s %-12s %s\n", to_string(c.level), c.name.c_str(), c.value.c_str());
        std::printf("result: %s (%d warn, %d fail)\n", result, warns, fails);
    }
    return worst >= Level::warn ? 1 : 0;
}

}  // namespace cp::cli::diag
