// Every board definition in board/ is accepted by the daemon's config parser, and
// the generic arm64 board names the devices docs/boards.md documents.
#include "src/config/config.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

namespace fs = std::filesystem;

TEST_CASE("every board/*/board.conf parses") {
    const fs::path boards = fs::path(CHECKPOINT_SOURCE_DIR) / "board";
    int n = 0;
    for (const auto& entry : fs::directory_iterator(boards)) {
        const fs::path conf = entry.path() / "board.conf";
        if (!fs::exists(conf)) continue;
        CAPTURE(conf.string());
        auto c = cp::config::parse("", cp::testing::read_file(conf));
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
        CHECK(c->board_name == entry.path().filename().string());
        ++n;
    }
    CHECK(n >= 1);
}

TEST_CASE("generic-arm64: USB camera, MLX90614 on i2c-1 at 0x5a, named gpiochip0 lines") {
    const fs::path conf = fs::path(CHECKPOINT_SOURCE_DIR) / "board" / "generic-arm64" / "board.conf";
    auto c = cp::config::parse("", cp::testing::read_file(conf));
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
    CHECK(c->camera.backend == "v4l2");
    CHECK(c->camera.device == "/dev/video0");
    CHECK(c->thermometer.backend == "mlx90614");
    CHECK(c->thermometer.bus == "/dev/i2c-1");
    CHECK(c->thermometer.address == 0x5a);
    CHECK(c->gpio.backend == "gpiod");
    CHECK(c->gpio.chip == "gpiochip0");
    CHECK(c->gpio.relay == "CP_RELAY");
    CHECK(c->gpio.green == "CP_GREEN");
    CHECK(c->gpio.red == "CP_RED");
    CHECK(c->gpio.buzzer == "CP_BUZZER");
}

TEST_CASE("handheld-rpi: a trigger on GPIO26, a small screen, the camera facing away") {
    const fs::path conf = fs::path(CHECKPOINT_SOURCE_DIR) / "board" / "handheld-rpi" / "board.conf";
    auto c = cp::config::parse("[device]\nlane = truck\n", cp::testing::read_file(conf));
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().describe()));
    CHECK(c->handheld.trigger == "gpio");
    CHECK(c->handheld.device == "gpiochip0");
    CHECK(c->handheld.line == "GPIO26");
    CHECK(c->display.width == 480);
    CHECK(c->display.height == 320);
    CHECK_FALSE(c->camera.faces_person);
    CHECK(c->audio.backend == "alsa");
}
