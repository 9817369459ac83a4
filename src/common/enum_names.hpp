// One table of names per enum serves both directions, so a new value is named in
// one place and to_string / parse cannot disagree:
//
//   constexpr EnumNames<Level, 2> kLevelNames{{{Level::city, "city"}, {Level::grid, "grid"}}};
//   const char* to_string(Level l) noexcept { return kLevelNames.name(l); }
//   std::optional<Level> parse_level(std::string_view s) { return kLevelNames.parse(s); }
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace cp {

template <class E, std::size_t N>
struct EnumNames {
    std::array<std::pair<E, const char*>, N> table;

    // "?" for a value not in the table (a cast from a bad integer).
    constexpr const char* name(E value) const noexcept {
        for (const auto& [e, n] : table)
            if (e == value) return n;
        return "?";
    }
    // The value named exactly `text`, or nothing.
    constexpr std::optional<E> parse(std::string_view text) const noexcept {
        for (const auto& [e, n] : table)
            if (text == n) return e;
        return std::nullopt;
    }
};

}  // namespace cp
