#include "src/pass/verify_cache.hpp"

namespace cp::pass {

void VerificationCache::sync_generation(const PassVerifier& verifier) {
    const std::uint64_t g = verifier.store().generation();
    if (g == generation_) return;
    map_.clear();
    lru_.clear();
    generation_ = g;
}

std::optional<Verification> VerificationCache::find(const PassVerifier& verifier, std::string_view text,
                                                    std::int64_t now) {
    sync_generation(verifier);
    auto it = map_.find(text);
    if (it == map_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second);  // iterators (and the key's storage) stay valid
    ++hits_;
    Verification v = it->second->second;
    verifier.recheck_time(v, now);
    return v;
}

void VerificationCache::store(const PassVerifier& verifier, std::string_view text, const Verification& v) {
    if (capacity_ == 0 || text.size() > kMaxKey || !v.pass || v.signature != SignatureState::valid) return;
    if (!v.verified_but_for_time()) return;
    sync_generation(verifier);
    if (auto it = map_.find(text); it != map_.end()) {
        it->second->second = v;
        lru_.splice(lru_.begin(), lru_, it->second);
        return;
    }
    if (map_.size() >= capacity_) {
        map_.erase(std::string_view(lru_.back().first));
        lru_.pop_back();
    }
    lru_.emplace_front(std::string(text), v);
    map_.emplace(std::string_view(lru_.front().first), lru_.begin());
}

Verification VerificationCache::verify(const PassVerifier& verifier, std::string_view text, std::int64_t now) {
    if (auto hit = find(verifier, text, now)) return std::move(*hit);
    Verification v = verifier.verify(text, now);
    store(verifier, text, v);
    return v;
}

}  // namespace cp::pass
