// The configuration file format (docs/configuration.md): INI-like text,
// `[section]` headers and `key = value` lines, `#` or `;` comments. Used for
// checkpointd.conf and board/*/board.conf alike.
#pragma once

#include "src/common/result.hpp"
#include "src/config/reason.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cp::config {

struct IniEntry {
    std::string key;    // "section.key"
    std::string value;  // trimmed; surrounding double quotes removed
    std::size_t line = 0;
};

// Limits that keep a hostile or broken file from costing memory.
inline constexpr std::size_t kMaxFileBytes = 256 * 1024;
inline constexpr std::size_t kMaxLineBytes = 4096;

// Parses text into entries in file order. `origin` names the file in messages.
// Errors [config] "config": a line that is neither a section, a key = value nor a
// comment; a key outside any section; a duplicate key; a bad section or key name;
// a line or file over the limits; a NUL byte. The message names origin:line and,
// where there is one, the key, so the technician sees which line to fix.
Result<std::vector<IniEntry>> parse_ini(std::string_view text, std::string_view origin);

}  // namespace cp::config
