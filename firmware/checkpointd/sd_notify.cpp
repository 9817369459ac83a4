#include "firmware/checkpointd/sd_notify.hpp"
#include "firmware/checkpointd/reason.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace cp::daemon {

std::optional<std::int64_t> watchdog_interval_from(const char* usec_text) {
    if (usec_text == nullptr || *usec_text == '\0') return std::nullopt;
    std::uint64_t usec = 0;
    const char* end = usec_text + std::strlen(usec_text);
    auto [p, ec] = std::from_chars(usec_text, end, usec);
    if (ec != std::errc() || p != end || usec == 0) return std::nullopt;
    // Half the timeout, as sd_watchdog_enabled(3) recommends; at least 1 ms.
    const std::uint64_t ms = usec / 2000;
    return static_cast<std::int64_t>(ms == 0 ? 1 : ms);
}

Notifier::Notifier() {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    if (sock != nullptr && (sock[0] == '/' || sock[0] == '@') && std::strlen(sock) < sizeof(sockaddr_un::sun_path)) {
        address_ = sock;
        if (address_[0] == '@') address_[0] = '\0';  // abstract namespace
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    bool for_us = true;
    if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr && *pid != '\0') {
        for_us = std::strtol(pid, nullptr, 10) == static_cast<long>(::getpid());
    }
    if (for_us) watchdog_interval_ms_ = watchdog_interval_from(std::getenv("WATCHDOG_USEC"));
}

Notifier::~Notifier() {
    if (fd_ >= 0) ::close(fd_);
}

Status Notifier::send(std::string_view message) const {
    if (fd_ < 0) return {};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, address_.data(), address_.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
    ssize_t n;
    do {
        n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail(ErrorKind::io, reason::sd_notify, std::string("sendto: ") + std::strerror(errno));
    return {};
}

}  // namespace cp::daemon
