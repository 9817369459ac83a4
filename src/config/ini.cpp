#include "src/config/ini.hpp"
#include "src/config/reason.hpp"

#include <set>

namespace cp::config {
namespace {

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

Failure bad(std::string_view origin, std::size_t line, const std::string& what) {
    return fail(ErrorKind::config, reason::config,
                std::string(origin) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

Result<std::vector<IniEntry>> parse_ini(std::string_view text, std::string_view origin) {
    if (text.size() > kMaxFileBytes) return bad(origin, 0, "file larger than 256 KiB");
    if (text.find('\0') != std::string_view::npos) return bad(origin, 0, "NUL byte in file");
    std::vector<IniEntry> out;
    std::set<std::string> seen;
    std::string section;
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        std::string_view raw = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (raw.size() > kMaxLineBytes) return bad(origin, line_no, "line longer than 4096 bytes");
        std::string_view line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') {
            if (line.back() != ']') return bad(origin, line_no, "section header without ']'");
            std::string_view name = trim(line.substr(1, line.size() - 2));
            if (!valid_name(name)) return bad(origin, line_no, "bad section name");
            section = std::string(name);
            continue;
        }
        auto eq = line.find('=');
        if (eq == std::string_view::npos) return bad(origin, line_no, "expected key = value");
        std::string_view key = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        if (!valid_name(key)) {
            auto dot = key.find('.');
            if (dot != std::string_view::npos && dot > 0 && valid_name(key.substr(0, dot)) &&
                valid_name(key.substr(dot + 1))) {
                // "device.id = x": the dotted name the docs use, written as a key.
                return bad(origin, line_no,
                           "\"" + std::string(key) + "\": keys live in [section]s; write \"[" +
                               std::string(key.substr(0, dot)) + "]\" on a line of its own, then \"" +
                               std::string(key.substr(dot + 1)) + " = ...\"");
            }
            return bad(origin, line_no,
                       "bad key name \"" + std::string(key.substr(0, 64)) +
                           "\": a key is 1-64 of a-z 0-9 _ -, inside a [section] (\"[device]\" then \"id = gate-01\")");
        }
        if (section.empty())
            return bad(origin, line_no,
                       std::string(key) + ": key outside a [section]; keys live in [section]s, e.g. \"[device]\" then \"" +
                           std::string(key) + " = ...\"");
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        } else {
            // An unquoted value ends at an inline comment (" #").
            auto hash = value.find(" #");
            if (hash != std::string_view::npos) value = trim(value.substr(0, hash));
        }
        std::string full = section + "." + std::string(key);
        if (!seen.insert(full).second) {
            return bad(origin, line_no, full + ": duplicate key");
        }
        out.push_back({std::move(full), std::string(value), line_no});
    }
    return out;
}

}  // namespace cp::config
