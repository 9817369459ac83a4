#include "src/pass/base45.hpp"
#include "src/pass/reason.hpp"

#include <array>
#include <cstdint>

namespace cp::pass {

namespace {

constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

constexpr std::array<std::int8_t, 256> make_table() {
    std::array<std::int8_t, 256> t{};
    for (auto& v : t) v = -1;
    for (std::size_t i = 0; i < kAlphabet.size(); ++i)
        t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
    return t;
}
constexpr auto kTable = make_table();

}  // namespace

std::string base45_encode(ByteView data) {
    std::string out;
    out.reserve(data.size() / 2 * 3 + 3);
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) {
        unsigned n = data[i] * 256u + data[i + 1];
        out += kAlphabet[n % 45];
        out += kAlphabet[(n / 45) % 45];
        out += kAlphabet[n / 2025];
    }
    if (i < data.size()) {
        unsigned n = data[i];
        out += kAlphabet[n % 45];
        out += kAlphabet[n / 45];
    }
    return out;
}

Result<Bytes> base45_decode(std::string_view text) {
    if (text.size() % 3 == 1)
        return fail(ErrorKind::invalid_input, reason::base45, "length leaves a single character");
    Bytes out;
    out.reserve(text.size() / 3 * 2 + 1);
    for (std::size_t i = 0; i < text.size(); i += 3) {
        std::size_t n = std::min<std::size_t>(3, text.size() - i);
        unsigned v[3] = {0, 0, 0};
        for (std::size_t j = 0; j < n; ++j) {
            std::int8_t d = kTable[static_cast<unsigned char>(text[i + j])];
            if (d < 0)
                return fail(ErrorKind::invalid_input, reason::base45,
                            "character outside the alphabet at " + std::to_string(i + j));
            v[j] = static_cast<unsigned>(d);
        }
        unsigned value = v[0] + v[1] * 45 + v[2] * 2025;
        if (n == 3) {
            if (value > 0xffff)
                return fail(ErrorKind::invalid_input, reason::base45, "triplet value above 65535");
            out.push_back(static_cast<std::uint8_t>(value >> 8));
            out.push_back(static_cast<std::uint8_t>(value & 0xff));
        } else {
            if (value > 0xff) return fail(ErrorKind::invalid_input, reason::base45, "pair value above 255");
            out.push_back(static_cast<std::uint8_t>(value));
        }
    }
    return out;
}

}  // namespace cp::pass
