#include "firmware/checkpointd/manual_resolver.hpp"

#include <utility>

namespace cp::daemon {

const OpenYellow* ManualResolver::open(std::int64_t now_ms) const {
    return open_ && now_ms - open_->mono_ms <= kWindowMs ? &*open_ : nullptr;
}

std::optional<ManualAction> ManualResolver::take(bool allow) {
    if (!open_) return std::nullopt;
    ManualAction a{std::move(*open_), allow};
    open_.reset();
    return a;
}

std::optional<ManualAction> ManualResolver::press(bool allow, std::int64_t now_ms, bool during_scan,
                                                  bool yellow_code_in_view) {
    if (!during_scan && yellow_code_in_view && open(now_ms)) return take(allow);
    pending_ = Press{allow, now_ms};
    return std::nullopt;
}

ManualResolver::Step ManualResolver::scanned(std::optional<OpenYellow> yellow, bool repeat,
                                             const std::string& pass_id) {
    if (yellow) {
        open_ = std::move(yellow);
    } else if (!(repeat && open_ && open_->pass_id == pass_id)) {
        open_.reset();
    }
    Step step;
    if (!pending_) return step;
    const bool allow = pending_->allow;
    pending_.reset();
    if (open_) step.action = take(allow);
    else step.ignored = Ignored::not_yellow;
    return step;
}

ManualResolver::Step ManualResolver::expire(std::int64_t now_ms) {
    Step step;
    if (!pending_ || now_ms - pending_->mono_ms < kPendingPressMs) return step;
    const bool allow = pending_->allow;
    pending_.reset();
    if (open(now_ms)) step.action = take(allow);
    else step.ignored = Ignored::no_yellow;
    return step;
}

}  // namespace cp::daemon
