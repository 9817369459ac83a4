#include "tools/upstream/loopback.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cp::upstream::loopback {

bool is_loopback_address(const std::string& host) {
    unsigned char v4[4];
    if (inet_pton(AF_INET, host.c_str(), v4) == 1) return v4[0] == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

bool host_header_allowed(std::string_view host_header, std::string_view bound_host, int port) {
    if (port <= 0) return false;
    const std::string suffix = ":" + std::to_string(port);
    if (host_header.size() <= suffix.size() ||
        host_header.substr(host_header.size() - suffix.size()) != suffix)
        return false;
    std::string name(host_header.substr(0, host_header.size() - suffix.size()));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "localhost") return true;
    const std::string bound(bound_host);
    if (bound.find(':') != std::string::npos) return name == "[" + bound + "]";
    return name == bound;
}

}  // namespace cp::upstream::loopback
