#include "src/common/log.hpp"

#include "src/common/time.hpp"

#include <atomic>
#include <mutex>
#include <unistd.h>

namespace cp::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::atomic<int> g_fd{2};
std::mutex g_mutex;

const char* level_name(Level l) {
    switch (l) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
    }
    return "info";
}

void append_value(std::string& out, std::string_view v) {
    bool quote = v.empty() || v.find_first_of(" \t\"=\n") != std::string_view::npos;
    if (!quote) {
        out.append(v);
        return;
    }
    out.push_back('"');
    for (char c : v) {
        if (c == '"' || c == '\\') out.push_back('\\');
        if (c == '\n') { out.append("\\n"); continue; }
        out.push_back(c);
    }
    out.push_back('"');
}
}  // namespace

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(); }
void set_sink_fd(int fd) { g_fd.store(fd); }

std::string format_line(Level lvl, std::string_view category, std::string_view message,
                        std::initializer_list<Field> fields) {
    std::string line;
    line.reserve(128);
    line.append("ts=").append(format_iso8601(wall_now_ms() / 1000));
    line.append(" level=").append(level_name(lvl));
    line.append(" cat=").append(category);
    line.append(" msg=");
    append_value(line, message);
    for (const auto& [k, v] : fields) {
        line.push_back(' ');
        line.append(k).push_back('=');
        append_value(line, v);
    }
    line.push_back('\n');
    return line;
}

void write(Level lvl, std::string_view category, std::string_view message,
           std::initializer_list<Field> fields) {
    if (lvl < g_level.load()) return;
    std::string line = format_line(lvl, category, message, fields);
    std::lock_guard lock(g_mutex);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(g_fd.load(), p, left);
        if (n <= 0) break;  // logging must never take the device down
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace cp::log
