// systemd's notify protocol without libsystemd: one datagram per message to the
// AF_UNIX socket named by $NOTIFY_SOCKET ("/path" or "@abstract"). Messages are
// "READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=...". Outside systemd (no
// $NOTIFY_SOCKET) every call is a no-op that succeeds.
//
// Thread-safety: Notifier is thread-safe (sendto() on one datagram socket).
#pragma once

#include "src/common/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cp::daemon {

class Notifier {
public:
    // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID now.
    Notifier();
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    bool enabled() const { return fd_ >= 0; }
    // Sends one message. Errors: io/"sd-notify" when the datagram cannot be sent
    // (the daemon logs it and carries on: systemd is a supervisor, not a dependency).
    Status send(std::string_view message) const;

    // The interval at which WATCHDOG=1 must be sent: half of $WATCHDOG_USEC, when
    // the watchdog is on for this process ($WATCHDOG_PID unset or ours).
    std::optional<std::int64_t> watchdog_interval_ms() const { return watchdog_interval_ms_; }

private:
    int fd_ = -1;
    std::string address_;  // sun_path bytes; a leading '\0' for the abstract namespace
    std::optional<std::int64_t> watchdog_interval_ms_;
};

// Parses $WATCHDOG_USEC text into the ping interval (half of it), in ms.
// nullopt for empty, non-numeric or zero values.
std::optional<std::int64_t> watchdog_interval_from(const char* usec_text);

}  // namespace cp::daemon
