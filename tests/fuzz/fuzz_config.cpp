// Splits the input at the first 0xff byte: before it a board file, after it a
// configuration file. Whatever parses must round-trip through to_text().
#include "src/config/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view all(reinterpret_cast<const char*>(data), size);
    auto cut = all.find('\xff');
    std::string_view board = cut == std::string_view::npos ? std::string_view{} : all.substr(0, cut);
    std::string_view conf = cut == std::string_view::npos ? all : all.substr(cut + 1);
    auto c = cp::config::parse(conf, board);
    if (c) {
        auto text = cp::config::to_text(*c);
        auto again = cp::config::parse(text);
        if (!again || cp::config::to_text(*again) != text) std::abort();
    } else if (c.error().kind != cp::ErrorKind::config) {
        std::abort();
    }
    return 0;
}
