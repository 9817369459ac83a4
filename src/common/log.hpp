// Structured logging: one line per event, `ts=... level=... cat=... msg="..." key=value ...`.
// Thread-safe. Categories are module names ("journal", "sync", "camera").
// Never log names, ID numbers or key material: pass ids and reasons only.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cp::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

// Process-wide settings; set once at start-up before threads run.
void set_level(Level level);
Level level();
// Where lines go: stderr by default. JSON decision lines use stdout, so logs stay apart.
void set_sink_fd(int fd);

using Field = std::pair<std::string_view, std::string>;

void write(Level level, std::string_view category, std::string_view message,
           std::initializer_list<Field> fields = {});

inline void debug(std::string_view cat, std::string_view msg, std::initializer_list<Field> f = {}) {
    write(Level::debug, cat, msg, f);
}
inline void info(std::string_view cat, std::string_view msg, std::initializer_list<Field> f = {}) {
    write(Level::info, cat, msg, f);
}
inline void warn(std::string_view cat, std::string_view msg, std::initializer_list<Field> f = {}) {
    write(Level::warn, cat, msg, f);
}
inline void error(std::string_view cat, std::string_view msg, std::initializer_list<Field> f = {}) {
    write(Level::error, cat, msg, f);
}

// Formats one line (exposed for tests).
std::string format_line(Level level, std::string_view category, std::string_view message,
                        std::initializer_list<Field> fields);

}  // namespace cp::log
