// A bounded LRU of verifications, keyed by the exact QR text. A code held up
// again (a repeat, a second try after a YELLOW) skips Base45, inflate, COSE and
// the ES256 check; only outcomes with a valid signature are kept, and a hit
// still re-applies the time rules at the current time (PassVerifier::recheck_time).
// The cache empties itself when the trust store's contents change (generation).
//
// Thread-safety: NOT thread-safe; one thread (the decide thread) owns it.
#pragma once

#include "src/pass/verifier.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cp::pass {

class VerificationCache {
public:
    // Texts longer than kMaxKey are never cached, so the cache holds at most
    // capacity * (kMaxKey + one Pass) bytes.
    static constexpr std::size_t kMaxKey = 2048;
    explicit VerificationCache(std::size_t capacity = 128) : capacity_(capacity) {}

    // The earlier outcome for exactly this text, with the time rules applied at
    // `now`; nullopt when not cached (or the trust store changed since).
    std::optional<Verification> find(const PassVerifier& verifier, std::string_view text, std::int64_t now);
    // Keeps `v` when its signature was valid and its claims decoded.
    void store(const PassVerifier& verifier, std::string_view text, const Verification& v);
    // verify() through the cache.
    Verification verify(const PassVerifier& verifier, std::string_view text, std::int64_t now);

    std::size_t size() const { return map_.size(); }
    std::uint64_t hits() const { return hits_; }

private:
    void sync_generation(const PassVerifier& verifier);
    using Lru = std::list<std::pair<std::string, Verification>>;  // front: most recent
    std::size_t capacity_;
    Lru lru_;
    std::unordered_map<std::string_view, Lru::iterator> map_;  // keys view lru_'s strings
    std::uint64_t generation_ = 0;
    std::uint64_t hits_ = 0;
};

}  // namespace cp::pass
