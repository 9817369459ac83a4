#include "src/pass/pass.hpp"

namespace cp::pass {

const char* to_string(Format f) noexcept {
    switch (f) {
        case Format::cp1: return "CP1";
        case Format::hc1: return "HC1";
    }
    return "?";
}

const char* to_string(Kind k) noexcept {
    switch (k) {
        case Kind::resident: return "R";
        case Kind::driver: return "D";
        case Kind::visitor: return "V";
        case Kind::entry: return "E";
        case Kind::dcc: return "DCC";
    }
    return "?";
}

}  // namespace cp::pass
