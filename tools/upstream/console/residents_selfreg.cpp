// Self-registration: the grid of an entered address, found among the address units
// the grids imported (residents.hpp: normalise_address, grid_of_address).
#include "tools/upstream/console/residents.hpp"

#include <map>
#include <set>

namespace cp::upstream::console {

namespace {

// UTF-8 to code points; a byte that does not start a well-formed sequence is kept as
// a code point of its own (addresses were checked as UTF-8 before, this is defence).
std::u32string decode(std::string_view s) {
    std::u32string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        auto cont = [&](std::size_t k) { return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
        auto bits = [&](std::size_t k) { return char32_t{static_cast<unsigned char>(s[i + k])} & 0x3Fu; };
        if (b0 >= 0xC2 && b0 <= 0xDF && cont(1)) {
            out.push_back((char32_t{b0} & 0x1Fu) << 6 | bits(1));
            i += 2;
        } else if (b0 >= 0xE0 && b0 <= 0xEF && cont(1) && cont(2)) {
            out.push_back((char32_t{b0} & 0x0Fu) << 12 | bits(1) << 6 | bits(2));
            i += 3;
        } else if (b0 >= 0xF0 && b0 <= 0xF4 && cont(1) && cont(2) && cont(3)) {
            out.push_back((char32_t{b0} & 0x07u) << 18 | bits(1) << 12 | bits(2) << 6 | bits(3));
            i += 4;
        } else {
            out.push_back(b0);
            ++i;
        }
    }
    return out;
}

std::string encode(const std::u32string& s) {
    std::string out;
    for (char32_t c : s) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if (c < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (c >> 12)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (c >> 18)));
            out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

bool is_separator(char32_t c) {
    return c == U' ' || c == U'\t' || c == U'-' || c == U'_' || c == U'.' || c == U',' || c == U'/' ||
           c == U'·' || c == U'、' || c == U'，' || c == U'。' || c == U'—' || c == U'–' || c == U'（' || c == U'）' ||
           c == U'(' || c == U')';
}

bool alnum(char32_t c) { return (c >= U'0' && c <= U'9') || (c >= U'A' && c <= U'Z'); }
bool digit(char32_t c) { return c >= U'0' && c <= U'9'; }

// The normal form as code points (normalise_address encodes it).
std::u32string normal(std::string_view address) {
    std::u32string in = decode(address), out;
    for (char32_t c : in) {
        if (c >= 0xFF01 && c <= 0xFF5E) c -= 0xFEE0;  // full-width ASCII
        if (c == 0x3000) c = U' ';
        if (c >= U'a' && c <= U'z') c -= 0x20;
        if (is_separator(c)) continue;
        out.push_back(c);
    }
    // Building and unit words: 号楼, 幢, 座, #, #楼 and 栋 are one word; 室 is dropped.
    std::u32string r;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const char32_t c = out[i];
        const bool after_number = !r.empty() && alnum(r.back());
        if (after_number && c == U'号' && i + 1 < out.size() && out[i + 1] == U'楼') {
            r.push_back(U'栋');
            ++i;
        } else if (after_number && c == U'#') {
            r.push_back(U'栋');
            if (i + 1 < out.size() && out[i + 1] == U'楼') ++i;
        } else if (after_number && (c == U'幢' || c == U'座')) {
            r.push_back(U'栋');
        } else if (after_number && c == U'室') {
            continue;
        } else {
            r.push_back(c);
        }
    }
    return r;
}

// The unit keys of a known address: the address itself and each prefix that ends
// with a number and a unit word (号, 栋, 单元, 弄, 巷): "红军街1栋2单元301" gives itself,
// "红军街1栋2单元" and "红军街1栋"; never a bare street.
std::vector<std::u32string> unit_keys(const std::u32string& a) {
    std::vector<std::u32string> keys;
    if (a.empty()) return keys;
    keys.push_back(a);
    for (std::size_t i = 1; i < a.size(); ++i) {
        if (!alnum(a[i - 1])) continue;
        std::size_t end = 0;
        if (a[i] == U'号' || a[i] == U'栋' || a[i] == U'弄' || a[i] == U'巷') end = i + 1;
        else if (a[i] == U'单' && i + 1 < a.size() && a[i + 1] == U'元') end = i + 2;
        if (end != 0 && end < a.size()) keys.push_back(a.substr(0, end));
    }
    return keys;
}

// `key` occurs in `a` and no number runs on across either end ("1栋" is not in "11栋").
bool contains_unit(const std::u32string& a, const std::u32string& key) {
    for (std::size_t p = a.find(key); p != std::u32string::npos; p = a.find(key, p + 1)) {
        const std::size_t e = p + key.size();
        const bool left = p == 0 || !(digit(a[p - 1]) && digit(key.front()));
        const bool right = e == a.size() || !(digit(a[e]) && digit(key.back()));
        if (left && right) return true;
    }
    return false;
}

// `a` without any occurrence of the `drop` texts.
std::u32string without(std::u32string a, const std::vector<std::u32string>& drop) {
    for (const auto& d : drop)
        for (std::size_t p = a.find(d); p != std::u32string::npos; p = a.find(d, p)) a.erase(p, d.size());
    return a;
}

}  // namespace

std::string normalise_address(std::string_view address) { return encode(normal(address)); }

std::optional<std::string> grid_of_address(std::string_view address, const std::vector<AddressUnit>& units,
                                           const std::vector<std::string>& regions) {
    std::vector<std::u32string> drop;
    for (const auto& r : regions)
        if (auto n = normal(r); n.size() >= 2) drop.push_back(std::move(n));
    const std::u32string a = without(normal(address), drop);
    if (a.empty()) return std::nullopt;
    std::map<std::u32string, std::set<std::string>> grids_of;
    for (const auto& u : units)
        for (auto& k : unit_keys(without(normal(u.address), drop))) grids_of[std::move(k)].insert(u.grid);
    // The longest key found wins; two grids for it is no answer.
    std::size_t best = 0;
    std::set<std::string> hit;
    for (const auto& [key, grids] : grids_of) {
        if (key.size() < best || !contains_unit(a, key)) continue;
        if (key.size() > best) {
            best = key.size();
            hit = grids;
        } else {
            hit.insert(grids.begin(), grids.end());
        }
    }
    if (hit.size() != 1) return std::nullopt;
    return *hit.begin();
}

}  // namespace cp::upstream::console
