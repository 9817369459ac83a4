#include "drivers/gpio/gpio.hpp"
#include "drivers/gpio/reason.hpp"

#include "src/common/time.hpp"

namespace cp::gpio {

void SimTimeline::record(const LineChange& c) {
    std::lock_guard lock(mutex_);
    if (changes_.size() >= capacity_ && !changes_.empty()) changes_.erase(changes_.begin());
    changes_.push_back(c);
    level_[static_cast<std::size_t>(c.line)] = c.on;
}

std::vector<LineChange> SimTimeline::changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
}

std::vector<LineChange> SimTimeline::changes(Line line) const {
    std::lock_guard lock(mutex_);
    std::vector<LineChange> out;
    for (const auto& c : changes_)
        if (c.line == line) out.push_back(c);
    return out;
}

bool SimTimeline::level(Line line) const {
    std::lock_guard lock(mutex_);
    return level_[static_cast<std::size_t>(line)];
}

void SimTimeline::clear() {
    std::lock_guard lock(mutex_);
    changes_.clear();
}

void SimTimeline::fail_next(Line line, int count) {
    std::lock_guard lock(mutex_);
    fail_[static_cast<std::size_t>(line)] = count;
}

bool SimTimeline::take_failure(Line line) {
    std::lock_guard lock(mutex_);
    int& n = fail_[static_cast<std::size_t>(line)];
    if (n <= 0) return false;
    --n;
    return true;
}

namespace {

class SimGpio final : public GpioBackend {
public:
    explicit SimGpio(std::shared_ptr<SimTimeline> t) : timeline_(std::move(t)) {}
    Status set(Line line, bool on) override {
        if (released_) return fail(ErrorKind::io, reason::gpio, std::string(to_string(line)) + ": released");
        if (timeline_->take_failure(line))
            return fail(ErrorKind::io, reason::gpio, std::string(to_string(line)) + ": sim fault");
        timeline_->record({monotonic_now_ms(), line, on, false});
        return {};
    }
    void release_all() noexcept override {
        if (released_) return;
        released_ = true;
        for (int i = 0; i < kLineCount; ++i)
            timeline_->record({monotonic_now_ms(), static_cast<Line>(i), false, true});
    }
    std::string describe() const override { return "sim-gpio"; }

private:
    std::shared_ptr<SimTimeline> timeline_;
    bool released_ = false;
};

}  // namespace

std::unique_ptr<GpioBackend> open_sim_gpio(std::shared_ptr<SimTimeline> timeline) {
    if (!timeline) timeline = std::make_shared<SimTimeline>();
    return std::make_unique<SimGpio>(std::move(timeline));
}

}  // namespace cp::gpio
