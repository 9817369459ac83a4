// Minimal benchmark harness: runs a body repeatedly and reports median / p95 / p99.
// Benchmarks print numbers; they never pass or fail on timing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace cp::bench {

struct Stats {
    double median_us = 0, p95_us = 0, p99_us = 0, mean_us = 0;
    std::size_t runs = 0;
};

inline Stats summarize(std::vector<double> samples_us) {
    Stats s;
    if (samples_us.empty()) return s;
    std::sort(samples_us.begin(), samples_us.end());
    auto at = [&](double q) {
        auto i = static_cast<std::size_t>(q * static_cast<double>(samples_us.size() - 1));
        return samples_us[i];
    };
    s.median_us = at(0.5);
    s.p95_us = at(0.95);
    s.p99_us = at(0.99);
    double sum = 0;
    for (double v : samples_us) sum += v;
    s.mean_us = sum / static_cast<double>(samples_us.size());
    s.runs = samples_us.size();
    return s;
}

// Times `body` `runs` times (after `warmup` untimed runs), one sample per call.
template <typename F>
Stats measure(std::size_t runs, std::size_t warmup, F&& body) {
    for (std::size_t i = 0; i < warmup; ++i) body();
    std::vector<double> samples;
    samples.reserve(runs);
    for (std::size_t i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        body();
        auto t1 = std::chrono::steady_clock::now();
        samples.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    return summarize(std::move(samples));
}

inline void print_row(const std::string& name, const Stats& s) {
    std::printf("%-44s median %10.2f us  p95 %10.2f us  p99 %10.2f us  (n=%zu)\n", name.c_str(),
                s.median_us, s.p95_us, s.p99_us, s.runs);
}

}  // namespace cp::bench
