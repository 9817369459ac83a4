#include "drivers/trigger/trigger.hpp"

#include "drivers/input/input.hpp"
#include "src/common/time.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#ifdef CHECKPOINT_WITH_GPIOD
#include <gpiod.h>
#endif

namespace cp::trigger {

namespace {

class EvdevTrigger final : public Trigger {
public:
    EvdevTrigger(int fd, std::uint16_t key, std::string name) : fd_(fd), key_(key), name_(std::move(name)) {}
    ~EvdevTrigger() override {
        if (fd_ >= 0) ::close(fd_);
    }
    Result<bool> wait(int timeout_ms) override {
        if (fd_ < 0) return fail(ErrorKind::unavailable, reason::trigger_lost, name_);
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, std::max(0, timeout_ms));
        if (r < 0 && errno != EINTR) return fail(lost());
        if (r <= 0) return false;
        std::uint8_t buf[24 * 64];
        const ssize_t got = ::read(fd_, buf, sizeof buf);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) return fail(lost());
        if (got < 0) return false;
        bool pressed = false;
        for (std::uint16_t code : parser_.feed(ByteView(buf, static_cast<std::size_t>(got)))) pressed = pressed || code == key_;
        return pressed;
    }
    std::string describe() const override { return "evdev:" + name_ + " key " + std::to_string(key_); }

private:
    Error lost() {
        ::close(fd_);
        fd_ = -1;
        return Error{ErrorKind::unavailable, reason::trigger_lost, name_};
    }
    int fd_;
    std::uint16_t key_;
    std::string name_;
    input::EvdevParser parser_;
};

#ifdef CHECKPOINT_WITH_GPIOD
class GpioTrigger final : public Trigger {
public:
    GpioTrigger(gpiod_chip* chip, gpiod_line* line, std::string name) : chip_(chip), line_(line), name_(std::move(name)) {}
    ~GpioTrigger() override {
        gpiod_line_release(line_);
        gpiod_chip_close(chip_);
    }
    Result<bool> wait(int timeout_ms) override {
        const timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000L};
        const int r = gpiod_line_event_wait(line_, &ts);
        if (r < 0) return fail(ErrorKind::unavailable, reason::trigger_lost, name_ + ": " + std::strerror(errno));
        if (r == 0) return false;
        gpiod_line_event ev{};
        if (gpiod_line_event_read(line_, &ev) < 0) return fail(ErrorKind::unavailable, reason::trigger_lost, name_);
        return ev.event_type == GPIOD_LINE_EVENT_FALLING_EDGE;
    }
    std::string describe() const override { return "gpio:" + name_; }

private:
    gpiod_chip* chip_;
    gpiod_line* line_;
    std::string name_;
};
#endif

}  // namespace

Result<std::unique_ptr<Trigger>> open_evdev_trigger(const std::string& path, std::uint16_t key_code) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail(ErrorKind::unavailable, reason::trigger, path + ": " + std::strerror(errno));
    return open_evdev_trigger_fd(fd, key_code, path);
}

std::unique_ptr<Trigger> open_evdev_trigger_fd(int fd, std::uint16_t key_code, std::string name) {
    return std::make_unique<EvdevTrigger>(fd, key_code, std::move(name));
}

Result<std::unique_ptr<Trigger>> open_gpio_trigger(const std::string& chip, const std::string& line) {
#ifdef CHECKPOINT_WITH_GPIOD
    gpiod_chip* c = gpiod_chip_open_lookup(chip.c_str());
    if (!c) return fail(ErrorKind::unavailable, reason::trigger, chip + ": " + std::strerror(errno));
    gpiod_line* l = gpiod_chip_find_line(c, line.c_str());
    if (!l && !line.empty() && std::all_of(line.begin(), line.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        l = gpiod_chip_get_line(c, static_cast<unsigned>(std::stoul(line)));
    if (!l || gpiod_line_request_falling_edge_events_flags(l, "checkpointd-trigger", GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP) < 0) {
        gpiod_chip_close(c);
        return fail(ErrorKind::unavailable, reason::trigger, chip + " " + line + ": no such line or busy");
    }
    return std::unique_ptr<Trigger>(new GpioTrigger(c, l, chip + ":" + line));
#else
    return fail(ErrorKind::unavailable, reason::trigger, chip + " " + line + ": built without libgpiod");
#endif
}

SimTrigger::SimTrigger(int interval_ms, int first_ms)
    : interval_ms_(std::max(1, interval_ms)), next_ms_(monotonic_now_ms() + std::max(0, first_ms)) {}

Result<bool> SimTrigger::wait(int timeout_ms) {
    if (pending_) {
        pending_ = false;
        return true;
    }
    const std::int64_t now = monotonic_now_ms();
    if (now < next_ms_) {
        const std::int64_t sleep = std::min<std::int64_t>(std::max(0, timeout_ms), next_ms_ - now);
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep));
        if (monotonic_now_ms() < next_ms_) return false;
    }
    next_ms_ = monotonic_now_ms() + interval_ms_;
    return true;
}

std::string SimTrigger::describe() const { return "sim-trigger every " + std::to_string(interval_ms_) + " ms"; }

}  // namespace cp::trigger
