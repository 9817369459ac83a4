// Text messages to residents and travellers: an outbox backend (one file per message
// in a directory an operator can inspect; the default) and a generic HTTP gateway
// backend (a configurable URL and body template) for a real SMS provider. Messages
// to one phone are limited per hour.
#pragma once

#include "src/common/result.hpp"

#include <memory>
#include <string>

namespace cp::upstream::console {

struct SmsConfig {
    std::string outbox_dir;
    std::string gateway_url;      // http(s)://host[:port]/path; empty: the outbox
    std::string body_template;    // gateway body; {phone} and {text} are replaced (JSON-escaped)
    int per_phone_per_hour = 5;
};

class SmsSender {
public:
    virtual ~SmsSender() = default;
    // Errors: rejected "sms-rate-limit", io "sms-outbox", unavailable "sms-gateway".
    virtual Status send(const std::string& phone, const std::string& text) = 0;
};

std::unique_ptr<SmsSender> make_sms_sender(const SmsConfig& c);  // outbox unless gateway_url set

}  // namespace cp::upstream::console
