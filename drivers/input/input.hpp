// Inspector input: a keypad or USB keyboard. Keys go through a line editor that
// turns them into the events the daemon acts on.
//
// Keys (docs/drivers.md): digits and letters build the plate (upper-cased, at
// most 16 characters), Backspace deletes, Esc clears, Enter submits it;
// F1 / keypad + = allow, F2 / keypad - = deny, F3 / keypad * = direction in,
// F4 / keypad / = direction out.
//
// Thread-safety: sources, KeyMapper and LineEditor are NOT thread-safe; one
// thread polls. SimInput::push is thread-safe (tests and the lane feed push
// from other threads).
#pragma once

#include "drivers/sim_lane/lane_script.hpp"
#include "src/common/bytes.hpp"
#include "src/common/result.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

// Error reasons: "input" (the device cannot be opened), "input-lost" (it went away).
namespace cp::input::reason {
inline constexpr Reason input{"input"};
inline constexpr Reason input_lost{"input-lost"};
}  // namespace cp::input::reason

namespace cp::input {

struct PlateEntered { std::string text; };
struct DirectionSet { lane::Direction direction = lane::Direction::in; };
struct ManualDecision { lane::Decision decision = lane::Decision::deny; };
using InputEvent = std::variant<PlateEntered, DirectionSet, ManualDecision>;

// One key press after mapping.
struct Key {
    enum class Kind { character, enter, backspace, clear, allow, deny, dir_in, dir_out };
    Kind kind = Kind::character;
    char ch = 0;  // with Kind::character: 0-9, A-Z, '-'
};

// Linux key code (linux/input-event-codes.h) to Key; nullopt for keys we ignore.
std::optional<Key> map_key(std::uint16_t code);

inline constexpr std::size_t kMaxPlate = 16;

class LineEditor {
public:
    // Feeds one key; returns an event when the key completes one.
    std::optional<InputEvent> feed(const Key& key);
    const std::string& line() const { return line_; }

private:
    std::string line_;
};

// Splits a byte stream into struct input_event records (the size of the running
// kernel's ABI) and yields the codes of key presses (value 1) and autorepeats (2).
// Partial records are kept for the next feed().
class EvdevParser {
public:
    std::vector<std::uint16_t> feed(ByteView bytes);

private:
    Bytes pending_;
};

class InputSource {
public:
    virtual ~InputSource() = default;
    // Waits up to timeout_ms. nullopt: nothing happened.
    // Errors: unavailable/"input-lost" when the device went away (unplugged).
    virtual Result<std::optional<InputEvent>> poll(int timeout_ms) = 0;
    virtual std::string describe() const = 0;
};

// /dev/input/eventN, or any readable fd carrying input_event records.
// `grab`: EVIOCGRAB so the keystrokes do not also reach a console.
// Errors: unavailable/"input" when the node cannot be opened.
Result<std::unique_ptr<InputSource>> open_evdev(const std::string& path, bool grab = true);
// Takes ownership of an fd (a pipe in tests). Never fails.
std::unique_ptr<InputSource> open_evdev_fd(int fd, std::string name);

// Events pushed by hand, or keystrokes generated from the lane script: when the
// camera cursor shows a person starting to hold their code, the inspector
// "types" that person's direction, plate + Enter and decision, once. Keys go
// through the same LineEditor as a real keyboard; each poll returns at most
// one event.
class SimInput final : public InputSource {
public:
    SimInput() = default;
    SimInput(std::shared_ptr<const lane::LaneScript> script,
             std::shared_ptr<const lane::LaneCursor> cursor);
    void push(InputEvent e);
    void push_key(Key k);
    Result<std::optional<InputEvent>> poll(int timeout_ms) override;
    std::string describe() const override { return "sim-input"; }

private:
    void follow_lane_locked();
    std::mutex mutex_;
    std::deque<InputEvent> events_;
    std::deque<Key> keys_;
    LineEditor editor_;
    std::shared_ptr<const lane::LaneScript> script_;
    std::shared_ptr<const lane::LaneCursor> cursor_;
    int typed_for_ = -1;  // the last person whose keystrokes were queued
};

// Inspector commands as text lines on a file descriptor (the "stdin" input
// backend, for a bench terminal): "allow" or "+", "deny" or "-", "in", "out",
// "plate <TEXT>". Unknown lines are logged and ignored; end of input ends polling.
std::unique_ptr<InputSource> open_line_input(int fd, std::string name);

}  // namespace cp::input
