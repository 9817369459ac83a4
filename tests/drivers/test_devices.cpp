// Tests against real device nodes. Each executable is built with one
// CP_DEVICE_TEST_* define and skips (exit 77) when its node is absent, so a CI
// machine without the hardware shows a skip, not a pass.
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace {
void require_node(const char* path, const char* why = nullptr) {
    if (!std::filesystem::exists(path)) {
        std::cerr << "SKIP: " << path << " is absent" << (why ? why : "") << "\n";
        std::exit(cp::testing::kSkip);
    }
}
}  // namespace

#ifdef CP_DEVICE_TEST_CAMERA
#include "drivers/camera/camera.hpp"
TEST_CASE("v4l2: /dev/video0 delivers frames of the requested size") {
    require_node("/dev/video0");
    cp::camera::V4l2Config c;
    c.width = 640;
    c.height = 480;
    c.fourcc = "YUYV";
    auto cam = cp::camera::open_v4l2(c);
    REQUIRE(cam.ok());
    cp::Result<cp::camera::Frame> f = cp::fail(cp::ErrorKind::unavailable, "none");
    for (int i = 0; i < 50 && !f.ok(); ++i) f = (*cam)->next_frame(500);
    REQUIRE_MESSAGE(f.ok(), f.error().describe());
    CHECK(f->width > 0);
    CHECK(f->pixels.size() == static_cast<std::size_t>(f->stride) * static_cast<std::size_t>(f->height));
}
#endif

#ifdef CP_DEVICE_TEST_THERMOMETER
#include "drivers/thermometer/thermometer.hpp"
TEST_CASE("i2c: an MLX90614 on /dev/i2c-1 gives a status, never a made-up value") {
    require_node("/dev/i2c-1");
    cp::thermo::I2cThermometerConfig c;
    auto t = cp::thermo::open_mlx90614(c);
    REQUIRE_MESSAGE(t.ok(), t.error().describe());
    auto m = (*t)->measure();
    MESSAGE("status=", cp::thermo::to_string(m.status), " reason=", m.fault_reason);
    if (m.status == cp::thermo::MeasureStatus::ok) {
        CHECK(m.body_c.has_value());
        CHECK(*m.object_c >= c.measure.object_min_c);
    } else {
        CHECK_FALSE(m.body_c.has_value());
    }
}
#endif

#ifdef CP_DEVICE_TEST_GPIO
#include "drivers/gpio/gpio.hpp"
TEST_CASE("gpiod: four lines from CHECKPOINT_TEST_GPIO_OFFSETS pulse and close") {
    require_node("/dev/gpiochip0");
    // Driving arbitrary pins of a development machine is unsafe: the offsets of
    // free test lines (or a gpio-sim chip) must be given explicitly.
    const char* offsets = std::getenv("CHECKPOINT_TEST_GPIO_OFFSETS");
    if (!offsets) {
        std::cerr << "SKIP: set CHECKPOINT_TEST_GPIO_OFFSETS=relay,green,red,buzzer\n";
        std::exit(cp::testing::kSkip);
    }
    cp::gpio::GpiodConfig g;
    const char* chip = std::getenv("CHECKPOINT_TEST_GPIO_CHIP");
    if (chip) g.chip = chip;
    int vals[4] = {-1, -1, -1, -1};
    REQUIRE(std::sscanf(offsets, "%d,%d,%d,%d", &vals[0], &vals[1], &vals[2], &vals[3]) == 4);
    for (int i = 0; i < 4; ++i) g.lines[static_cast<std::size_t>(i)].offset = vals[i];
    auto backend = cp::gpio::open_gpiod(g);
    REQUIRE_MESSAGE(backend.ok(), backend.error().describe());
    cp::gpio::ActuatorConfig ac;
    ac.relay_pulse_ms = 100;
    cp::gpio::Actuators a(std::move(*backend), ac);
    CHECK(a.safe());
    REQUIRE(a.pulse_gate().ok());
    REQUIRE(a.close_gate().ok());
}
#endif

#ifdef CP_DEVICE_TEST_DISPLAY
#include "drivers/display/display.hpp"
TEST_CASE("fbdev: /dev/fb0 shows a rendered screen") {
    require_node("/dev/fb0");
    auto fb = cp::display::open_framebuffer("/dev/fb0");
    REQUIRE_MESSAGE(fb.ok(), fb.error().describe());
    cv::Mat img(720, 1280, CV_8UC3, cp::display::verdict_colour(cp::display::Verdict::yellow));
    CHECK((*fb)->show(img).ok());
}
#endif
