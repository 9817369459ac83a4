// The decoder's time budget: the frame's deadline, and the cost rates learned
// from the work done that estimate a try's time before it starts (a try that
// would end past the deadline is skipped; docs/decoding.md). Private to src/decode.
#pragma once

#include <chrono>

namespace cp::decode {

// Monotonic wall-clock deadline of one frame; a budget of 0 never runs out.
class Deadline {
public:
    explicit Deadline(int budget_ms) : budget_ms_(budget_ms), start_(std::chrono::steady_clock::now()) {}
    bool spent() const { return budget_ms_ > 0 && elapsed_ms() >= budget_ms_; }
    // Whether work estimated at `cost_ms` would end within the budget.
    bool fits(double cost_ms) const { return budget_ms_ <= 0 || elapsed_ms() + cost_ms <= budget_ms_; }
    double left_ms() const { return budget_ms_ - elapsed_ms(); }  // meaningful only with a budget
    double elapsed_ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    int budget_ms_;
    std::chrono::steady_clock::time_point start_;
};

// Cost of a kind of work per unit (a megapixel, for the grid sampler 10^5
// modules), learned from the work done: the
// estimate of the next step's time before it starts. Starts pessimistic so the
// first frames do not overrun while it learns; follows changes of load within
// a few frames.
class CostRate {
public:
    explicit CostRate(double ms_per_mpx) : rate_(ms_per_mpx) {}
    double estimate(double mpx) const { return rate_ * mpx; }
    void observe(double ms, double mpx) {
        if (mpx < 0.02) return;  // tiny images: fixed overhead, not a rate
        const double r = ms / mpx;
        // Up quickly (an overrun costs a frame), down slowly.
        rate_ += (r > rate_ ? 0.5 : 0.1) * (r - rate_);
    }

private:
    double rate_;
};

// Milliseconds since `t0` on the monotonic clock.
inline double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Grid sampler work units (10^5 modules) of a code of `version`: its local fits
// and pattern searches are proportional to the module count.
inline double grid_units(int version) {
    const double n = 17.0 + 4.0 * version;
    return n * n / 1e5;
}

}  // namespace cp::decode
