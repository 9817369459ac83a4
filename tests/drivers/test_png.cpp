#include "drivers/png/png_io.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>
#include <opencv2/imgcodecs.hpp>

using namespace cp;

namespace {

cv::Mat gradient(int w, int h) {
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x), static_cast<uchar>(y), static_cast<uchar>(x ^ y));
    return m;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
    return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("png::write is read back losslessly, by libpng and by OpenCV") {
    testing::TempDir dir;
    const cv::Mat img = gradient(97, 61);  // odd sizes: row padding must not matter
    const auto path = (dir / "a.png").string();
    REQUIRE(png::write(path, img).ok());
    auto back = png::read_bgr(path);
    REQUIRE(back.ok());
    CHECK(same(*back, img));
    CHECK(same(cv::imread(path, cv::IMREAD_COLOR), img));
    // A region of a larger image (stride > width * 3) is written as the region.
    const cv::Mat roi = gradient(200, 100)(cv::Rect(10, 20, 50, 30));
    REQUIRE(png::write(path, roi).ok());
    CHECK(same(png::read_bgr(path).value(), roi));
}

TEST_CASE("png reads gray and alpha files as BGR") {
    testing::TempDir dir;
    cv::Mat gray(8, 8, CV_8UC1, cv::Scalar(77));
    REQUIRE(cv::imwrite((dir / "g.png").string(), gray));
    auto g = png::read_bgr((dir / "g.png").string());
    REQUIRE(g.ok());
    CHECK(g->type() == CV_8UC3);
    CHECK(g->at<cv::Vec3b>(3, 3) == cv::Vec3b(77, 77, 77));
    cv::Mat bgra(8, 8, CV_8UC4, cv::Scalar(10, 20, 30, 255));
    REQUIRE(cv::imwrite((dir / "a.png").string(), bgra));
    auto a = png::read_bgr((dir / "a.png").string());
    REQUIRE(a.ok());
    CHECK(a->at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
}

TEST_CASE("png rejects damaged, truncated, oversized and unreadable input with a typed error") {
    testing::TempDir dir;
    CHECK(png::decode_bgr(as_bytes("not a png")).error().is(cp::png::reason::png));
    CHECK(png::decode_bgr({}).error().kind == ErrorKind::invalid_input);
    const auto path = (dir / "a.png").string();
    REQUIRE(png::write(path, gradient(64, 64)).ok());
    const std::string full = testing::read_file(path);
    auto cut = png::decode_bgr(as_bytes(std::string_view(full).substr(0, full.size() / 2)));
    REQUIRE_FALSE(cut.ok());
    CHECK(cut.error().kind == ErrorKind::invalid_input);
    std::string flipped = full;
    flipped[full.size() / 2] = static_cast<char>(flipped[full.size() / 2] ^ 0x55);  // IDAT CRC no longer matches
    CHECK_FALSE(png::decode_bgr(as_bytes(flipped)).ok());
    // A header claiming more than kMaxWidth pixels is refused before allocating.
    cv::Mat wide(1, png::kMaxWidth + 1, CV_8UC1, cv::Scalar(0));
    REQUIRE(cv::imwrite((dir / "wide.png").string(), wide));
    auto w = png::read_bgr((dir / "wide.png").string());
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().message.find("outside") != std::string::npos);
    CHECK(png::read_bgr((dir / "missing.png").string()).error().kind == ErrorKind::io);
    CHECK(png::write((dir / "no" / "such" / "dir.png").string(), gradient(4, 4)).error().kind == ErrorKind::io);
    CHECK(png::write(path, cv::Mat(4, 4, CV_32FC3)).error().kind == ErrorKind::invalid_input);
}
