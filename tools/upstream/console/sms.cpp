#include "tools/upstream/console/sms.hpp"

#include "src/common/time.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>

namespace cp::upstream::console {

namespace {

// Sends at most `per_hour` messages to one phone in any hour (in memory: a restart
// forgets, which errs on the side of delivering).
class Limited : public SmsSender {
public:
    explicit Limited(int per_hour) : per_hour_(per_hour) {}
    Status send(const std::string& phone, const std::string& text) final {
        {
            std::lock_guard lock(mu_);
            const std::int64_t now = wall_now_ms() / 1000;
            auto& q = sent_[phone];
            while (!q.empty() && q.front() <= now - 3600) q.pop_front();
            if (static_cast<int>(q.size()) >= per_hour_)
                return fail(ErrorKind::rejected, "sms-rate-limit", "too many messages to this phone");
            q.push_back(now);
            if (sent_.size() > 100000) sent_.clear();  // bounded memory
        }
        return deliver(phone, text);
    }

protected:
    virtual Status deliver(const std::string& phone, const std::string& text) = 0;

private:
    int per_hour_;
    std::mutex mu_;
    std::map<std::string, std::deque<std::int64_t>> sent_;
};

class Outbox final : public Limited {
public:
    Outbox(std::string dir, int per_hour) : Limited(per_hour), dir_(std::move(dir)) {}

private:
    Status deliver(const std::string& phone, const std::string& text) override {
        static std::atomic<unsigned> counter{0};
        const std::string base = dir_ + "/" + std::to_string(wall_now_ms()) + "-" +
                                 std::to_string(::getpid()) + "-" + std::to_string(counter++);
        const std::string tmp = base + ".tmp", path = base + ".txt";
        const std::string body = "to: " + phone + "\n\n" + text + "\n";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) return fail(ErrorKind::io, "sms-outbox", "cannot write in " + dir_);
        const bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
            ::unlink(tmp.c_str());
            return fail(ErrorKind::io, "sms-outbox", "cannot write in " + dir_);
        }
        return {};
    }
    std::string dir_;
};

class Gateway final : public Limited {
public:
    Gateway(const SmsConfig& c) : Limited(c.per_phone_per_hour), url_(c.gateway_url), tmpl_(c.body_template) {
        if (tmpl_.empty()) tmpl_ = R"({"to":{phone},"text":{text}})";
    }

private:
    static void replace(std::string& s, const std::string& key, const std::string& value) {
        for (std::size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + value.size()))
            s.replace(p, key.size(), value);
    }
    Status deliver(const std::string& phone, const std::string& text) override {
        // url: scheme://host[:port]/path
        const auto scheme_end = url_.find("://");
        if (scheme_end == std::string::npos) return fail(ErrorKind::config, "sms-gateway", "bad gateway URL");
        const auto path_at = url_.find('/', scheme_end + 3);
        const std::string origin = url_.substr(0, path_at);
        const std::string path = path_at == std::string::npos ? "/" : url_.substr(path_at);
        std::string body = tmpl_;
        replace(body, "{phone}", nlohmann::json(phone).dump());
        replace(body, "{text}", nlohmann::json(text).dump());
        httplib::Client cl(origin);
        cl.set_connection_timeout(5, 0);
        cl.set_read_timeout(10, 0);
        auto r = cl.Post(path, body, "application/json");
        if (!r || r->status < 200 || r->status >= 300)
            return fail(ErrorKind::unavailable, "sms-gateway",
                        r ? "gateway answered " + std::to_string(r->status) : "gateway unreachable");
        return {};
    }
    std::string url_, tmpl_;
};

}  // namespace

std::unique_ptr<SmsSender> make_sms_sender(const SmsConfig& c) {
    if (!c.gateway_url.empty()) return std::make_unique<Gateway>(c);
    return std::make_unique<Outbox>(c.outbox_dir, c.per_phone_per_hour);
}

}  // namespace cp::upstream::console
