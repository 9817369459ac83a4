// The guard screen: one verdict, readable from two metres. A ScreenModel (plain
// data the daemon fills) is rendered by GuardScreen into a BGR image, which a
// ScreenSink puts somewhere: the Linux framebuffer, a desktop window, PNG files.
//
// Thread-safety: GuardScreen, the sinks and GuardDisplay are NOT thread-safe;
// one thread (the main loop) owns the screen. ScreenModel is a value.
#pragma once

#include "drivers/display/reason.hpp"
#include "src/common/result.hpp"

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cp::display {

enum class Verdict { idle, green, yellow, red };
const char* to_string(Verdict v);

enum class Health { ok, degraded, fault, unknown };

struct StatusBar {
    std::optional<std::int64_t> list_age_s;  // age of the status list; none: no list
    std::int64_t list_max_age_s = 0;         // older than this: "List: STALE ..." (0: no limit known)
    std::int64_t journal_backlog = 0;        // rows not yet acknowledged upstream
    Health sensor = Health::unknown;         // thermometer ("Temp:")
    Health network = Health::unknown;        // upstream reachable
    bool disk_low = false;                   // free space below the journal floor: "Disk: LOW"
    std::string lane;                        // "Lane 3 IN"
    std::string clock;                       // "2026-12-02 14:32" (date and time), filled by the daemon
};

// The status bar's words, as drawn (the idle screen shows faults in words, no symbols).
std::string list_age_text(const StatusBar& bar);   // "List: 40 s", "List: 12 min", "List: STALE 3 h", "List: NONE"
const char* health_word(Health h);                 // "OK", "DEGRADED", "FAULT", "UNKNOWN"
// The viewfinder's hint under the camera picture (drivers/camera/viewfinder.hpp).
enum class Hint { none, move_closer, hold_still, glare };

struct ScreenModel {
    Verdict verdict = Verdict::idle;
    std::string masked_name;   // "W*** L*", never the full name
    std::string pass_kind;     // "Resident pass", "Visitor"
    std::optional<double> temperature_c;
    std::string reason;        // "pass revoked", "temperature 38.4 °C", "sensor fault"
    StatusBar status;
    // Idle only: the live camera picture (BGR8, already mirrored where the camera
    // faces the person; fitted into the screen body), with the aiming box over it
    // and the hint below. Empty: the plain idle prompt.
    cv::Mat preview;
    Hint hint = Hint::none;
    // Idle: replaces "请出示通行码 / Show your pass" (handheld: "press the trigger").
    std::string prompt_zh, prompt_en;
    // Truck lane plate mismatch: the typed plate and the pass's, shown side by side.
    std::string typed_plate, pass_plate;
};

// Verdict background colours, BGR (tests check pixels against these).
cv::Scalar verdict_colour(Verdict v);

struct ScreenConfig {
    int width = 1280;   // pixels, 320..7680
    int height = 720;   // pixels, 240..4320
    std::string font_path = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
    int font_index = 2;  // face in a .ttc; 2 = Noto Sans CJK SC (simplified Chinese shapes)
};

class GuardScreen {
public:
    // Errors: config/"screen" for a bad size; not_found/"font" when the font file
    // is missing; io/"font" when FreeType cannot load it.
    static Result<std::unique_ptr<GuardScreen>> create(const ScreenConfig& config);
    ~GuardScreen();
    // Renders the model into a width x height BGR8 image.
    cv::Mat render(const ScreenModel& model);
    const ScreenConfig& config() const { return config_; }

private:
    struct Impl;
    GuardScreen(ScreenConfig config, std::unique_ptr<Impl> impl);
    ScreenConfig config_;
    std::unique_ptr<Impl> impl_;
};

class ScreenSink {
public:
    virtual ~ScreenSink() = default;
    // Shows one BGR8 image. Errors: io/"screen" with the detail.
    virtual Status show(const cv::Mat& bgr) = 0;
    virtual std::string describe() const = 0;
};

// Layout of a framebuffer pixel (from FBIOGET_VSCREENINFO).
struct FbFormat {
    int bits_per_pixel = 32;  // 16, 24 or 32
    int red_offset = 16, red_length = 8;
    int green_offset = 8, green_length = 8;
    int blue_offset = 0, blue_length = 8;
};
// Converts a BGR8 image into framebuffer pixels, clipped to width x height.
// Errors: invalid_input/"fb-format" for an unsupported bpp or channel layout.
Status convert_to_fb(const cv::Mat& bgr, const FbFormat& fmt, std::uint8_t* dst,
                     std::size_t line_length, int width, int height);

// /dev/fb0: reads the screen geometry, maps it, scales each image to fit.
// Errors: unavailable/"framebuffer" when the node is absent or unusable.
Result<std::unique_ptr<ScreenSink>> open_framebuffer(const std::string& path = "/dev/fb0");
// A desktop window (development). Errors: unavailable/"window" without a display
// ($DISPLAY / $WAYLAND_DISPLAY unset) or without OpenCV highgui.
Result<std::unique_ptr<ScreenSink>> open_window(const std::string& title = "checkpoint");
// One PNG per update, screen-000001.png, ...; keeps the newest `keep` files.
// Errors: io/"screen" when the folder cannot be created.
Result<std::unique_ptr<ScreenSink>> open_png_folder(const std::string& folder, int keep = 50);

// Renderer + sink, what the daemon holds.
class GuardDisplay {
public:
    GuardDisplay(std::unique_ptr<GuardScreen> screen, std::unique_ptr<ScreenSink> sink)
        : screen_(std::move(screen)), sink_(std::move(sink)) {}
    // Errors: as the sink.
    Status show(const ScreenModel& model) { return sink_->show(screen_->render(model)); }
    // An image rendered elsewhere (the viewfinder thread renders with its own
    // GuardScreen and only puts the result out here). Errors: as the sink.
    Status show_rendered(const cv::Mat& bgr) { return sink_->show(bgr); }
    const ScreenConfig& screen_config() const { return screen_->config(); }

private:
    std::unique_ptr<GuardScreen> screen_;
    std::unique_ptr<ScreenSink> sink_;
};

}  // namespace cp::display
