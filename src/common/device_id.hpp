// The rule for a device id, shared by the device's configuration (device.id) and
// the command centre (the subject CN of an enrolled device certificate): 1 to 64
// characters of A-Z a-z 0-9 . _ : -. A device id is the prefix of every scan id
// ("<device>-<epoch>-<seq>") and a token in logs, file names and URLs, so no
// space, slash or control character.
#pragma once

#include <cstddef>
#include <string_view>

namespace cp {

constexpr std::size_t kMaxDeviceIdBytes = 64;
constexpr const char* kDeviceIdRule = "1 to 64 characters of A-Z a-z 0-9 . _ : -";

constexpr bool is_device_id_char(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' ||
           c == '.' || c == ':';
}

constexpr bool is_device_id(std::string_view s) noexcept {
    if (s.empty() || s.size() > kMaxDeviceIdBytes) return false;
    for (char c : s) {
        if (!is_device_id_char(c)) return false;
    }
    return true;
}

}  // namespace cp
