#include "drivers/input/input.hpp"

#include "src/common/log.hpp"

#include <poll.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace cp::input {
namespace {

class LineInput final : public InputSource {
public:
    LineInput(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

    Result<std::optional<InputEvent>> poll(int timeout_ms) override {
        if (auto e = take_line()) return e;
        if (eof_) return std::optional<InputEvent>{};
        pollfd p{fd_, POLLIN, 0};
        int n = ::poll(&p, 1, timeout_ms);
        if (n <= 0) return std::optional<InputEvent>{};
        char buf[256];
        ssize_t got = ::read(fd_, buf, sizeof buf);
        if (got <= 0) {
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) return std::optional<InputEvent>{};
            eof_ = true;
            return std::optional<InputEvent>{};
        }
        pending_.append(buf, static_cast<std::size_t>(got));
        if (pending_.size() > 4096) pending_.clear();  // a runaway line is noise
        return take_line();
    }
    std::string describe() const override { return name_; }

private:
    std::optional<InputEvent> take_line() {
        for (;;) {
            auto nl = pending_.find('\n');
            if (nl == std::string::npos) return std::nullopt;
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
            if (line == "allow" || line == "+") return InputEvent{ManualDecision{lane::Decision::allow}};
            if (line == "deny" || line == "-") return InputEvent{ManualDecision{lane::Decision::deny}};
            if (line == "in") return InputEvent{DirectionSet{lane::Direction::in}};
            if (line == "out") return InputEvent{DirectionSet{lane::Direction::out}};
            if (line.rfind("plate ", 0) == 0) {
                std::string plate;
                for (char c : line.substr(6)) {
                    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                    if (((u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || u == '-') && plate.size() < kMaxPlate)
                        plate += u;
                }
                return InputEvent{PlateEntered{plate}};
            }
            if (!line.empty()) log::warn("input", "unknown command ignored", {{"source", name_}});
        }
    }

    int fd_;
    std::string name_;
    std::string pending_;
    bool eof_ = false;
};

}  // namespace

std::unique_ptr<InputSource> open_line_input(int fd, std::string name) {
    return std::make_unique<LineInput>(fd, std::move(name));
}

}  // namespace cp::input
