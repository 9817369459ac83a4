#include "tools/upstream/console/sms.hpp"

#include "src/common/file_io.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/identity.hpp"

#include <httplib.h>
#include <sodium.h>

#include <atomic>
#include <cstdio>
#include <filesystem>

namespace cp::upstream::console {

namespace {

Status check_text(const std::string& text) {
    if (text.empty() || text.size() > kMaxSmsTextBytes)
        return fail(ErrorKind::invalid_input, reason::sms_text, "1.." + std::to_string(kMaxSmsTextBytes) + " bytes");
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\n') || c == 0x7F)
            return fail(ErrorKind::invalid_input, reason::sms_text, "control character");
    }
    return {};
}

class SenderBase : public SmsSender {
public:
    explicit SenderBase(const SmsConfig& c) : cfg_(c) {}
    Status send(const std::string& phone, const std::string& text) final {
        if (!valid_phone(phone)) return fail(ErrorKind::invalid_input, reason::sms_phone, "not a phone number");
        CP_TRY(check_text(text));
        if (!cfg_.limits) return fail(ErrorKind::config, reason::sms_config, "no store for the per-phone quota");
        const std::int64_t now = cfg_.clock_s ? cfg_.clock_s() : wall_now_ms() / 1000;
        auto use = cfg_.limits->take("sms:" + token_hash(phone), cfg_.per_phone_per_hour, 3600, now);
        if (!use) return fail(use.error());
        if (!*use) return fail(ErrorKind::rejected, reason::sms_rate_limit, "per-phone quota for this hour used up");
        Status st = deliver(phone, text, now);
        if (!st) (void)cfg_.limits->give_back(**use);  // a failed delivery does not use the quota
        return st;
    }

protected:
    virtual Status deliver(const std::string& phone, const std::string& text, std::int64_t now) = 0;
    SmsConfig cfg_;
};

class OutboxSender final : public SenderBase {
public:
    using SenderBase::SenderBase;

private:
    Status deliver(const std::string& phone, const std::string& text, std::int64_t now) override {
        if (cfg_.outbox_dir.empty()) return fail(ErrorKind::config, reason::sms_config, "no outbox folder");
        std::error_code ec;
        std::filesystem::create_directories(cfg_.outbox_dir, ec);
        unsigned char rnd[6];
        randombytes_buf(rnd, sizeof rnd);
        // Sortable by time; unique across processes by the random suffix.
        char seq[24];
        std::snprintf(seq, sizeof seq, "%08llu", static_cast<unsigned long long>(++seq_));
        const std::string name = std::to_string(now) + "-" + seq + "-" + to_hex(ByteView(rnd, sizeof rnd));
        const std::filesystem::path dir(cfg_.outbox_dir);
        const std::string body = "To: " + phone + "\n\n" + text + "\n";
        return write_file_atomically(dir / (name + ".sms"), body, dir / ("." + name + ".tmp"),
                                     reason::sms_outbox);
    }
    std::atomic<std::uint64_t> seq_{0};
};

std::string json_escape(std::string_view s) {
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out;
}

std::string url_encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

std::string fill(std::string tpl, std::string_view key, const std::string& value) {
    for (std::size_t p = tpl.find(key); p != std::string::npos; p = tpl.find(key, p + value.size()))
        tpl.replace(p, key.size(), value);
    return tpl;
}

class GatewaySender final : public SenderBase {
public:
    explicit GatewaySender(const SmsConfig& c) : SenderBase(c) {
        const std::string& u = c.gateway_url;
        const auto scheme_end = u.find("://");
        if (scheme_end == std::string::npos) return;
        const std::string scheme = u.substr(0, scheme_end);
        if (scheme != "http" && scheme != "https") return;
        const auto path_start = u.find('/', scheme_end + 3);
        origin_ = u.substr(0, path_start);
        path_ = path_start == std::string::npos ? "/" : u.substr(path_start);
        json_ = !c.body_template.empty() && (c.body_template.front() == '{' || c.body_template.front() == '[');
        ok_ = origin_.size() > scheme.size() + 3;
    }

private:
    Status deliver(const std::string& phone, const std::string& text, std::int64_t) override {
        if (!ok_) return fail(ErrorKind::config, reason::sms_config, "gateway URL must be http(s)://host[:port]/path");
        auto enc = [&](const std::string& v) { return json_ ? json_escape(v) : url_encode(v); };
        // The text goes in last, so a "{phone}" written inside it stays as written.
        const std::string body = fill(fill(cfg_.body_template, "{phone}", enc(phone)), "{text}", enc(text));
        httplib::Client cl(origin_);
        if (!cfg_.gateway_ca_file.empty()) cl.set_ca_cert_path(cfg_.gateway_ca_file.c_str());
        cl.set_connection_timeout(cfg_.gateway_timeout_s, 0);
        cl.set_read_timeout(cfg_.gateway_timeout_s, 0);
        cl.set_write_timeout(cfg_.gateway_timeout_s, 0);
        auto r = cl.Post(path_, body, json_ ? "application/json" : "application/x-www-form-urlencoded");
        if (!r) return fail(ErrorKind::unavailable, reason::sms_gateway, "no answer: " + httplib::to_string(r.error()));
        if (r->status < 200 || r->status > 299)
            return fail(ErrorKind::unavailable, reason::sms_gateway, "HTTP " + std::to_string(r->status));
        return {};
    }
    std::string origin_, path_;
    bool json_ = true, ok_ = false;
};

}  // namespace

std::unique_ptr<SmsSender> make_sms_sender(const SmsConfig& c) {
    // Idempotent; the outbox names use its random numbers (randombytes works either way).
    if (sodium_init() < 0) return std::make_unique<OutboxSender>(c);
    if (!c.gateway_url.empty()) return std::make_unique<GatewaySender>(c);
    return std::make_unique<OutboxSender>(c);
}

}  // namespace cp::upstream::console
