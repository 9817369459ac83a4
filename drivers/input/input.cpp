#include "drivers/input/input.hpp"

#include "src/common/log.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>

namespace cp::input {

std::optional<Key> map_key(std::uint16_t code) {
    using K = Key::Kind;
    auto ch = [](char c) { return Key{K::character, c}; };
    switch (code) {
    case KEY_0: case KEY_KP0: return ch('0');
    case KEY_1: case KEY_KP1: return ch('1');
    case KEY_2: case KEY_KP2: return ch('2');
    case KEY_3: case KEY_KP3: return ch('3');
    case KEY_4: case KEY_KP4: return ch('4');
    case KEY_5: case KEY_KP5: return ch('5');
    case KEY_6: case KEY_KP6: return ch('6');
    case KEY_7: case KEY_KP7: return ch('7');
    case KEY_8: case KEY_KP8: return ch('8');
    case KEY_9: case KEY_KP9: return ch('9');
    case KEY_A: return ch('A'); case KEY_B: return ch('B'); case KEY_C: return ch('C');
    case KEY_D: return ch('D'); case KEY_E: return ch('E'); case KEY_F: return ch('F');
    case KEY_G: return ch('G'); case KEY_H: return ch('H'); case KEY_I: return ch('I');
    case KEY_J: return ch('J'); case KEY_K: return ch('K'); case KEY_L: return ch('L');
    case KEY_M: return ch('M'); case KEY_N: return ch('N'); case KEY_O: return ch('O');
    case KEY_P: return ch('P'); case KEY_Q: return ch('Q'); case KEY_R: return ch('R');
    case KEY_S: return ch('S'); case KEY_T: return ch('T'); case KEY_U: return ch('U');
    case KEY_V: return ch('V'); case KEY_W: return ch('W'); case KEY_X: return ch('X');
    case KEY_Y: return ch('Y'); case KEY_Z: return ch('Z');
    case KEY_MINUS: return ch('-');
    case KEY_ENTER: case KEY_KPENTER: return Key{K::enter, 0};
    case KEY_BACKSPACE: return Key{K::backspace, 0};
    case KEY_ESC: case KEY_DELETE: return Key{K::clear, 0};
    case KEY_F1: case KEY_KPPLUS: return Key{K::allow, 0};
    case KEY_F2: case KEY_KPMINUS: return Key{K::deny, 0};
    case KEY_F3: case KEY_KPASTERISK: return Key{K::dir_in, 0};
    case KEY_F4: case KEY_KPSLASH: return Key{K::dir_out, 0};
    default: return std::nullopt;
    }
}

std::optional<InputEvent> LineEditor::feed(const Key& key) {
    using K = Key::Kind;
    switch (key.kind) {
    case K::character:
        if (line_.size() < kMaxPlate) line_.push_back(key.ch);  // extra keys are dropped
        return std::nullopt;
    case K::backspace:
        if (!line_.empty()) line_.pop_back();
        return std::nullopt;
    case K::clear:
        line_.clear();
        return std::nullopt;
    case K::enter: {
        if (line_.empty()) return std::nullopt;  // a stray Enter submits nothing
        PlateEntered e{line_};
        line_.clear();
        return e;
    }
    case K::allow: return ManualDecision{lane::Decision::allow};
    case K::deny: return ManualDecision{lane::Decision::deny};
    case K::dir_in: return DirectionSet{lane::Direction::in};
    case K::dir_out: return DirectionSet{lane::Direction::out};
    }
    return std::nullopt;
}

std::vector<std::uint16_t> EvdevParser::feed(ByteView bytes) {
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    std::vector<std::uint16_t> codes;
    constexpr std::size_t n = sizeof(input_event);
    std::size_t off = 0;
    for (; off + n <= pending_.size(); off += n) {
        input_event ev{};
        std::memcpy(&ev, pending_.data() + off, n);
        // value 1 = press, 2 = autorepeat (a held key types again), 0 = release.
        if (ev.type == EV_KEY && (ev.value == 1 || ev.value == 2)) codes.push_back(ev.code);
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(off));
    return codes;
}

namespace {

class EvdevInput final : public InputSource {
public:
    EvdevInput(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    ~EvdevInput() override { ::close(fd_); }
    EvdevInput(const EvdevInput&) = delete;
    EvdevInput& operator=(const EvdevInput&) = delete;

    Result<std::optional<InputEvent>> poll(int timeout_ms) override {
        if (!events_.empty()) return pop();
        if (lost_) return fail(ErrorKind::unavailable, reason::input_lost, name_);
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, timeout_ms);
        if (r < 0) {
            if (errno == EINTR) return std::optional<InputEvent>{};
            return lose(std::strerror(errno));
        }
        if (r == 0) return std::optional<InputEvent>{};
        std::uint8_t buf[sizeof(input_event) * 64];
        const ssize_t got = ::read(fd_, buf, sizeof buf);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) return std::optional<InputEvent>{};
            return lose(std::strerror(errno));  // ENODEV: the keyboard was unplugged
        }
        if (got == 0) return lose("end of file");
        for (std::uint16_t code : parser_.feed(ByteView(buf, static_cast<std::size_t>(got)))) {
            auto key = map_key(code);
            if (!key) continue;
            if (auto e = editor_.feed(*key)) {
                if (events_.size() < 256) events_.push_back(std::move(*e));  // bounded
            }
        }
        if (!events_.empty()) return pop();
        return std::optional<InputEvent>{};
    }
    std::string describe() const override { return "evdev:" + name_; }

private:
    std::optional<InputEvent> pop() {
        InputEvent e = std::move(events_.front());
        events_.pop_front();
        return e;
    }
    Result<std::optional<InputEvent>> lose(const std::string& why) {
        lost_ = true;
        log::warn("input", "device lost", {{"device", name_}, {"error", why}});
        return fail(ErrorKind::unavailable, reason::input_lost, name_ + ": " + why);
    }
    int fd_;
    std::string name_;
    EvdevParser parser_;
    LineEditor editor_;
    std::deque<InputEvent> events_;
    bool lost_ = false;
};

}  // namespace

Result<std::unique_ptr<InputSource>> open_evdev(const std::string& path, bool grab) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail(ErrorKind::unavailable, reason::input, path + ": " + std::strerror(errno));
    if (grab && ::ioctl(fd, EVIOCGRAB, 1) < 0)
        log::warn("input", "cannot grab device", {{"device", path}, {"error", std::strerror(errno)}});
    return std::unique_ptr<InputSource>(new EvdevInput(fd, path));
}

std::unique_ptr<InputSource> open_evdev_fd(int fd, std::string name) {
    return std::make_unique<EvdevInput>(fd, std::move(name));
}

SimInput::SimInput(std::shared_ptr<const lane::LaneScript> script,
                   std::shared_ptr<const lane::LaneCursor> cursor)
    : script_(std::move(script)), cursor_(std::move(cursor)) {}

void SimInput::push(InputEvent e) {
    std::lock_guard lock(mutex_);
    if (events_.size() < 1024) events_.push_back(std::move(e));
}

void SimInput::push_key(Key k) {
    std::lock_guard lock(mutex_);
    if (keys_.size() < 1024) keys_.push_back(k);
}

void SimInput::follow_lane_locked() {
    if (!script_ || !cursor_) return;
    const lane::Position pos = script_->at(cursor_->frame());
    if (pos.person < 0 || pos.phase != lane::Phase::holding || pos.person == typed_for_) return;
    typed_for_ = pos.person;
    const lane::Person& p = script_->people[static_cast<std::size_t>(pos.person)];
    using K = Key::Kind;
    if (p.direction)
        keys_.push_back({*p.direction == lane::Direction::in ? K::dir_in : K::dir_out, 0});
    if (!p.plate.empty()) {
        for (char c : p.plate) keys_.push_back({K::character, c});
        keys_.push_back({K::enter, 0});
    }
    if (p.decision)
        keys_.push_back({*p.decision == lane::Decision::allow ? K::allow : K::deny, 0});
}

Result<std::optional<InputEvent>> SimInput::poll(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            follow_lane_locked();
            while (events_.empty() && !keys_.empty()) {
                Key k = keys_.front();
                keys_.pop_front();
                if (auto e = editor_.feed(k)) events_.push_back(std::move(*e));
            }
            if (!events_.empty()) {
                InputEvent e = std::move(events_.front());
                events_.pop_front();
                return std::optional<InputEvent>{std::move(e)};
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::optional<InputEvent>{};
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace cp::input
