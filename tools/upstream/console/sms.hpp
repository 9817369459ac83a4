// Text messages to residents and travellers (their pass link): a sender interface
// with two backends. The outbox backend (default) writes one file per message into
// a folder an operator can inspect or a relay can pick up; the gateway backend
// posts each message to a generic HTTP(S) SMS gateway with a configurable body
// template. Both limit messages per phone per hour.
//
// The per-phone quota lives in the store (rate_limits.hpp), keyed by a hash of the
// phone number: every replica on one database shares it, and a restart keeps it.
#pragma once

#include "tools/upstream/console/rate_limits.hpp"
#include "tools/upstream/reasons.hpp"
#include "src/common/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace cp::upstream::console {

namespace reason {
// The upstream's reasons are the console's too (console::reason::login names them).
using namespace ::cp::upstream::reason;
inline constexpr Reason sms_phone{"sms-phone"};        // invalid_input: not a phone number
inline constexpr Reason sms_text{"sms-text"};          // invalid_input: empty, too long, control chars
inline constexpr Reason sms_rate_limit{"sms-rate-limit"};  // rejected: per-phone quota used up
inline constexpr Reason sms_outbox{"sms-outbox"};      // io: writing the outbox file failed
inline constexpr Reason sms_gateway{"sms-gateway"};    // unavailable: no answer or a non-2xx answer
inline constexpr Reason sms_config{"sms-config"};      // config: bad URL or template
}  // namespace reason

inline constexpr std::size_t kMaxSmsTextBytes = 1000;

struct SmsConfig {
    std::string outbox_dir;       // outbox backend: one file per message
    std::string gateway_url;      // gateway backend when set: http(s)://host[:port]/path
    // Gateway request body; "{phone}" and "{text}" are replaced. A template that
    // starts with '{' or '[' is sent as application/json with the values JSON-escaped;
    // any other as application/x-www-form-urlencoded with the values percent-encoded.
    std::string body_template = R"({"to":"{phone}","text":"{text}"})";
    int per_phone_per_hour = 5;
    std::shared_ptr<RateLimits> limits;  // required: the store's per-phone counts
    std::string gateway_ca_file;  // optional CA bundle for an https gateway
    int gateway_timeout_s = 10;
    std::function<std::int64_t()> clock_s;  // tests move time; default: wall clock
};

class SmsSender {
public:
    virtual ~SmsSender() = default;
    // Errors: invalid_input sms-phone/sms-text, rejected sms-rate-limit,
    // io sms-outbox, unavailable sms-gateway.
    virtual Status send(const std::string& phone, const std::string& text) = 0;
};

// The outbox backend unless gateway_url is set. Never null; a bad configuration
// (or no `limits`) makes every send() fail with config "sms-config".
std::unique_ptr<SmsSender> make_sms_sender(const SmsConfig& c);

}  // namespace cp::upstream::console
