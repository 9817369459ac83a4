#include "src/common/result.hpp"

namespace cp {

const char* to_string(ErrorKind kind) noexcept {
    switch (kind) {
    case ErrorKind::invalid_input: return "invalid-input";
    case ErrorKind::rejected: return "rejected";
    case ErrorKind::not_found: return "not-found";
    case ErrorKind::io: return "io";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::config: return "config";
    case ErrorKind::internal: return "internal";
    }
    return "internal";
}

std::string Error::describe() const {
    std::string s = std::string(to_string(kind)) + "/" + reason;
    if (!message.empty()) s += ": " + message;
    return s;
}

}  // namespace cp
