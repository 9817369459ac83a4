#include "drivers/gpio/gpio.hpp"
#include "drivers/gpio/reason.hpp"

#include "src/common/log.hpp"
#include "src/common/time.hpp"

#include <algorithm>
#include <chrono>

namespace cp::gpio {

const char* to_string(Line l) {
    switch (l) {
    case Line::gate_relay: return "gate-relay";
    case Line::green_lamp: return "green-lamp";
    case Line::red_lamp: return "red-lamp";
    case Line::buzzer: return "buzzer";
    }
    return "unknown";
}

Status validate(const ActuatorConfig& c) {
    if (c.relay_pulse_ms < 50 || c.relay_pulse_ms > 30000)
        return fail(ErrorKind::config, reason::gpio, "relay_pulse_ms: must be 50..30000");
    if (c.buzzer_ms < 10 || c.buzzer_ms > 5000)
        return fail(ErrorKind::config, reason::gpio, "buzzer_ms: must be 10..5000");
    return {};
}

Actuators::Actuators(std::unique_ptr<GpioBackend> backend, ActuatorConfig config)
    : backend_(std::move(backend)), config_(config) {
    {
        std::lock_guard lock(mutex_);
        if (!validate(config_).ok()) config_ = ActuatorConfig{};  // never an unbounded pulse
        // The relay first: if anything goes wrong after, the gate is already shut.
        for (int i = 0; i < kLineCount && !faulted_; ++i) {
            auto s = set_locked(static_cast<Line>(i), false);
            if (!s.ok()) fail_safe_locked(s.error());
        }
    }
    timer_ = std::thread([this] { timer_loop(); });
}

Actuators::~Actuators() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    cv_.notify_all();
    if (timer_.joinable()) timer_.join();
    std::lock_guard lock(mutex_);
    if (!faulted_) {
        for (int i = 0; i < kLineCount; ++i) {
            auto s = set_locked(static_cast<Line>(i), false);
            if (!s.ok()) log::error("gpio", "cannot switch off at shutdown",
                                    {{"line", to_string(static_cast<Line>(i))},
                                     {"error", s.error().describe()}});
        }
    }
    // Released lines fall to their pulled-down level: gate closed even if the
    // writes above failed.
    backend_->release_all();
}

Status Actuators::set_locked(Line line, bool on) {
    if (faulted_) return fail(ErrorKind::unavailable, reason::gpio_faulted, "outputs in safe state");
    return backend_->set(line, on);
}

void Actuators::fail_safe_locked(const Error& why) {
    log::error("gpio", "forcing safe state", {{"error", why.describe()}});
    backend_->release_all();
    faulted_ = true;
    gate_open_ = false;
    relay_off_at_ms_.reset();
    buzzer_off_at_ms_.reset();
}

void Actuators::timer_loop() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
        std::optional<std::int64_t> next;
        if (relay_off_at_ms_) next = relay_off_at_ms_;
        if (buzzer_off_at_ms_ && (!next || *buzzer_off_at_ms_ < *next)) next = buzzer_off_at_ms_;
        if (!next) {
            cv_.wait(lock);
            continue;
        }
        const std::int64_t wait = *next - monotonic_now_ms();
        if (wait > 0) {
            cv_.wait_for(lock, std::chrono::milliseconds(wait));
            continue;  // re-evaluate: a pulse may have been extended or ended meanwhile
        }
        const std::int64_t now = monotonic_now_ms();
        if (relay_off_at_ms_ && *relay_off_at_ms_ <= now) {
            relay_off_at_ms_.reset();
            auto s = set_locked(Line::gate_relay, false);
            if (!s.ok()) {
                // A pulse that cannot be ended: let go of every line.
                fail_safe_locked(s.error());
                continue;
            }
            gate_open_ = false;
        }
        if (buzzer_off_at_ms_ && *buzzer_off_at_ms_ <= now) {
            buzzer_off_at_ms_.reset();
            auto s = set_locked(Line::buzzer, false);
            if (!s.ok()) fail_safe_locked(s.error());
        }
    }
}

Status Actuators::pulse_gate() {
    std::lock_guard lock(mutex_);
    if (faulted_) return fail(ErrorKind::unavailable, reason::gpio_faulted, "outputs in safe state");
    auto s = set_locked(Line::gate_relay, true);
    if (!s.ok()) {
        auto off = set_locked(Line::gate_relay, false);
        if (!off.ok()) fail_safe_locked(off.error());
        return s;
    }
    gate_open_ = true;
    relay_off_at_ms_ = monotonic_now_ms() + config_.relay_pulse_ms;
    cv_.notify_all();
    return {};
}

Status Actuators::close_gate() {
    std::lock_guard lock(mutex_);
    if (faulted_) return {};  // lines are released: the gate is already closed
    relay_off_at_ms_.reset();
    auto s = set_locked(Line::gate_relay, false);
    if (!s.ok()) {
        fail_safe_locked(s.error());
        return s;
    }
    gate_open_ = false;
    return {};
}

Status Actuators::set_signal(Signal sig) {
    std::lock_guard lock(mutex_);
    if (faulted_) return fail(ErrorKind::unavailable, reason::gpio_faulted, "outputs in safe state");
    const bool green = sig == Signal::green || sig == Signal::both;
    const bool red = sig == Signal::red || sig == Signal::both;
    Status s = set_locked(Line::green_lamp, green);
    if (s.ok()) s = set_locked(Line::red_lamp, red);
    if (!s.ok()) {
        // A lamp we cannot drive may show the wrong colour; the gate must not
        // stay open on a wrong signal.
        relay_off_at_ms_.reset();
        gate_open_ = false;
        auto off = set_locked(Line::gate_relay, false);
        if (!off.ok()) fail_safe_locked(off.error());
    }
    return s;
}

Status Actuators::beep(std::optional<int> ms) {
    std::lock_guard lock(mutex_);
    if (faulted_) return fail(ErrorKind::unavailable, reason::gpio_faulted, "outputs in safe state");
    const int len = ms ? std::clamp(*ms, 10, 5000) : config_.buzzer_ms;
    auto s = set_locked(Line::buzzer, true);
    if (!s.ok()) {
        auto off = set_locked(Line::buzzer, false);
        if (!off.ok()) fail_safe_locked(off.error());
        return s;
    }
    buzzer_off_at_ms_ = monotonic_now_ms() + len;
    cv_.notify_all();
    return {};
}

bool Actuators::safe() const {
    std::lock_guard lock(mutex_);
    return !faulted_;
}

bool Actuators::gate_open() const {
    std::lock_guard lock(mutex_);
    return gate_open_;
}

}  // namespace cp::gpio
