// Image files: format and size from the header before any pixel is decoded;
// refusals are typed and nothing is allocated for what a header merely claims.
#include "src/imagefile/image_file.hpp"
#include "tests/testing.hpp"

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <doctest/doctest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <string>
#include <vector>

namespace img = cp::imagefile;
using cp::decode::PixelFormat;

namespace {

std::vector<std::uint8_t> encode(const cv::Mat& m, const std::string& ext) {
    std::vector<std::uint8_t> out;
    REQUIRE(cv::imencode(ext, m, out));
    return out;
}

cv::Mat gradient(int w, int h) {
    cv::Mat m(h, w, CV_8UC3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) m.at<cv::Vec3b>(y, x) = {static_cast<std::uint8_t>(x), static_cast<std::uint8_t>(y), 7};
    return m;
}

std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

void put_be32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

std::string reason_of(const cp::Result<img::Header>& r) { return r ? std::string("ok") : r.error().reason; }

}  // namespace

TEST_CASE("probe: the three formats give their size from the header") {
    const cv::Mat m = gradient(37, 21);
    for (const auto& [ext, fmt] : {std::pair{".png", img::Format::png}, {".jpg", img::Format::jpeg},
                                   {".bmp", img::Format::bmp}}) {
        CAPTURE(ext);
        auto h = img::probe(encode(m, ext));
        REQUIRE(h.ok());
        CHECK(h->format == fmt);
        CHECK(h->width == 37);
        CHECK(h->height == 21);
    }
    // PNM is not accepted: OpenCV's reader and the Netpbm rules disagree on
    // comments, so the size checked would not be the size allocated.
    CHECK(reason_of(img::probe(bytes_of("P4\n84#444442*\n5"))) == "image-format");
    CHECK(reason_of(img::probe(bytes_of("P5 4 2 255\n01234567"))) == "image-format");
}

TEST_CASE("probe: formats outside the list, truncated and oversized headers are refused") {
    CHECK(reason_of(img::probe(bytes_of("not an image at all"))) == "image-format");
    CHECK(reason_of(img::probe(bytes_of(""))) == "image-format");
    CHECK(reason_of(img::probe(bytes_of("II*\0\x08\0\0\0"))) == "image-format");           // TIFF
    CHECK(reason_of(img::probe(bytes_of("DTED0000000000000000"))) == "image-format");     // GDAL's
    CHECK(reason_of(img::probe(bytes_of("GIF89a\x10\0\x10\0"))) == "image-format");

    auto png = encode(gradient(16, 16), ".png");
    CHECK(reason_of(img::probe(std::span(png).first(20))) == "image-header");
    auto huge = png;
    put_be32(huge, 16, 100000);  // 100000 × 100000 claimed
    put_be32(huge, 20, 100000);
    CHECK(reason_of(img::probe(huge)) == "image-size");
    put_be32(huge, 16, 0);
    CHECK(reason_of(img::probe(huge)) == "image-size");

    auto jpg = encode(gradient(16, 16), ".jpg");
    CHECK(reason_of(img::probe(std::span(jpg).first(30))) == "image-header");
    CHECK(reason_of(img::probe(bytes_of("\xff\xd8\xff\xda\x00\x02"))) == "image-header");  // scan before frame

    CHECK(reason_of(img::probe(bytes_of("BM\0\0\0\0\0\0\0\0\0\0\0\0\x07\0\0\0"))) == "image-header");

    img::Limits small;
    small.max_pixels = 100;
    CHECK(reason_of(img::probe(png, small)) == "image-size");
}

TEST_CASE("decode: pixels match the source; a header that lies about the size is refused") {
    const cv::Mat m = gradient(40, 30);
    auto bgr = img::decode(encode(m, ".png"), PixelFormat::bgr8);
    REQUIRE(bgr.ok());
    CHECK(bgr->width == 40);
    CHECK(bgr->height == 30);
    CHECK(bgr->stride == 120);
    CHECK(bgr->pixels.size() == 3600);
    CHECK(bgr->pixels[3 * 39] == 39);                 // blue = x on row 0
    CHECK(bgr->pixels[29 * 120 + 1] == 29);            // green = y at column 0
    auto gray = img::decode(encode(m, ".bmp"), PixelFormat::gray8);
    REQUIRE(gray.ok());
    CHECK(gray->stride == 40);
    CHECK(gray->view().format == PixelFormat::gray8);

    // A PNG whose IHDR was edited after the CRC: OpenCV refuses it, or the
    // decoded size does not match; either way a typed error, never pixels.
    auto lying = encode(m, ".png");
    put_be32(lying, 16, 41);
    auto r = img::decode(lying, PixelFormat::gray8);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == cp::ErrorKind::invalid_input);

    auto png = encode(m, ".png");
    auto t = img::decode(std::span(png).first(60), PixelFormat::gray8);  // header, no pixels
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().reason == "image-data");
}

TEST_CASE("load and decode_file: files, missing files, directories, garbage, size cap") {
    cp::testing::TempDir dir;
    auto bm = ZXing::MultiFormatWriter(ZXing::BarcodeFormat::QRCode).setMargin(4).encode("CP1:7QKD2M4ZRA8C1N5X0B9T3W6Y", 0, 0);
    cv::Mat sym(bm.height(), bm.width(), CV_8UC1);
    for (int y = 0; y < bm.height(); ++y)
        for (int x = 0; x < bm.width(); ++x) sym.at<std::uint8_t>(y, x) = bm.get(x, y) ? 0 : 255;
    cv::Mat frame;
    cv::resize(sym, frame, cv::Size(300, 300), 0, 0, cv::INTER_NEAREST);
    const auto png = (dir / "code.png").string();
    REQUIRE(cv::imwrite(png, frame));
    auto ok = img::decode_file(png);
    REQUIRE(ok.ok());
    REQUIRE(ok->size() == 1);
    CHECK((*ok)[0].text == "CP1:7QKD2M4ZRA8C1N5X0B9T3W6Y");

    auto missing = img::decode_file((dir / "absent.png").string());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().kind == cp::ErrorKind::io);
    CHECK(missing.error().reason == "image");

    cp::testing::write_file(dir / "garbage.jpg", "not an image at all");
    auto garbage = img::decode_file((dir / "garbage.jpg").string());
    REQUIRE_FALSE(garbage.ok());
    CHECK(garbage.error().kind == cp::ErrorKind::invalid_input);
    CHECK(garbage.error().reason == "image-format");
    CHECK(garbage.error().message.find("garbage.jpg") != std::string::npos);

    CHECK(img::decode_file(dir.path().string()).error().reason == "image");  // a directory

    img::Limits tiny;
    tiny.max_file_bytes = 10;
    auto big = img::load(png, PixelFormat::gray8, tiny);
    REQUIRE_FALSE(big.ok());
    CHECK(big.error().reason == "image-size");
}
