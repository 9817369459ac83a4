// libgpiod 1.6: the character-device GPIO interface. Lines are requested as
// outputs with their initial value "off", so there is no glitch at start.
#include "drivers/gpio/gpio.hpp"
#include "drivers/gpio/reason.hpp"

#ifdef CHECKPOINT_WITH_GPIOD
#include <gpiod.h>
#endif

#include <cerrno>
#include <cstring>

namespace cp::gpio {

#ifdef CHECKPOINT_WITH_GPIOD
namespace {

class GpiodBackend final : public GpioBackend {
public:
    GpiodBackend(gpiod_chip* chip, std::string name) : chip_(chip), name_(std::move(name)) {}
    ~GpiodBackend() override {
        release_all();
        gpiod_chip_close(chip_);
    }
    GpiodBackend(const GpiodBackend&) = delete;
    GpiodBackend& operator=(const GpiodBackend&) = delete;

    Status request(Line line, const LineSpec& spec, const std::string& consumer) {
        gpiod_line* l = spec.name.empty()
                            ? gpiod_chip_get_line(chip_, static_cast<unsigned>(spec.offset))
                            : gpiod_chip_find_line(chip_, spec.name.c_str());
        const std::string what = std::string(to_string(line)) + " (" +
                                 (spec.name.empty() ? std::to_string(spec.offset) : spec.name) + ")";
        if (!l) return fail(ErrorKind::not_found, reason::gpio_line, what + " not on " + name_);
        const int flags = spec.active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
        if (gpiod_line_request_output_flags(l, consumer.c_str(), flags, 0) < 0)
            return fail(ErrorKind::io, reason::gpio, what + ": " + std::strerror(errno));
        lines_[static_cast<std::size_t>(line)] = l;
        return {};
    }

    Status set(Line line, bool on) override {
        gpiod_line* l = lines_[static_cast<std::size_t>(line)];
        if (!l) return fail(ErrorKind::io, reason::gpio, std::string(to_string(line)) + ": not requested");
        if (gpiod_line_set_value(l, on ? 1 : 0) < 0)
            return fail(ErrorKind::io, reason::gpio, std::string(to_string(line)) + ": " +
                                                   std::strerror(errno));
        return {};
    }

    void release_all() noexcept override {
        for (auto& l : lines_) {
            if (l) gpiod_line_release(l);
            l = nullptr;
        }
    }

    std::string describe() const override { return "gpiod:" + name_; }

private:
    gpiod_chip* chip_;
    std::string name_;
    std::array<gpiod_line*, kLineCount> lines_{};
};

}  // namespace
#endif

Result<std::unique_ptr<GpioBackend>> open_gpiod(const GpiodConfig& config) {
    for (int i = 0; i < kLineCount; ++i) {
        const auto& spec = config.lines[static_cast<std::size_t>(i)];
        if (spec.name.empty() && spec.offset < 0)
            return fail(ErrorKind::config, reason::gpio,
                        std::string(to_string(static_cast<Line>(i))) + ": needs a name or offset");
    }
#ifdef CHECKPOINT_WITH_GPIOD
    gpiod_chip* chip = gpiod_chip_open_lookup(config.chip.c_str());
    if (!chip)
        return fail(ErrorKind::unavailable, reason::gpio_chip, config.chip + ": " + std::strerror(errno));
    auto backend = std::make_unique<GpiodBackend>(chip, config.chip);
    // The relay is requested first and every line starts at "off".
    for (int i = 0; i < kLineCount; ++i)
        CP_TRY(backend->request(static_cast<Line>(i), config.lines[static_cast<std::size_t>(i)],
                                config.consumer));
    return std::unique_ptr<GpioBackend>(std::move(backend));
#else
    return fail(ErrorKind::unavailable, reason::gpiod_disabled, "built without CHECKPOINT_WITH_GPIOD");
#endif
}

}  // namespace cp::gpio
