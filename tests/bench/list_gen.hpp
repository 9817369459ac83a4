// Synthetic status-list entries shared by the status and sync benchmarks.
#pragma once

#include "src/status/list_format.hpp"

#include <chrono>
#include <cstdint>

namespace cp::bench {

inline double secs_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline std::uint64_t splitmix(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Entry i of n: ids increase with i (sorted by construction) and look random.
// The top 64 bits are i * step + a random offset below step.
inline status::ListEntry gen_entry(std::uint64_t i, std::uint64_t n) {
    using status::Op;
    std::uint64_t s = i * 2654435761ULL + 12345;
    const std::uint64_t step = ~0ULL / n;
    std::uint64_t hi = i * step + splitmix(s) % step;
    std::uint64_t lo = splitmix(s);
    status::ListEntry e;
    for (int b = 0; b < 8; ++b) {
        e.id[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(hi >> (56 - 8 * b));
        e.id[static_cast<std::size_t>(8 + b)] = static_cast<std::uint8_t>(lo >> (56 - 8 * b));
    }
    std::uint64_t r = splitmix(s) % 100;
    e.op = r < 90 ? Op::green : r < 97 ? Op::yellow : Op::red;  // a plausible city mix
    e.reason = static_cast<std::uint8_t>(e.op == Op::green ? 0 : 1 + splitmix(s) % 2);
    e.since = 1'790'000'000 + static_cast<std::uint32_t>(splitmix(s) % 5'000'000);
    return e;
}

}  // namespace cp::bench
