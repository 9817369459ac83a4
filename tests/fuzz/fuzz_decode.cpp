// Fuzz target: bytes → image → QrDecoder. Bounded: OpenCV refuses images above
// 4 Mpx and the decoder rejects sides above 1024 px, so one input stays fast.
#include "src/decode/decoder.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "4194304", 1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    cp::decode::DecoderOptions opt;
    opt.max_side = 1024;
    opt.budget_ms = 200;
    cp::decode::QrDecoder dec(opt);
    if (data[0] & 1) {
        // A raw gray frame: width from the next byte, rows from the rest.
        const int width = 1 + data[1];
        const int height = static_cast<int>((size - 2) / static_cast<std::size_t>(width));
        if (height < 1) return 0;
        auto r = dec.decode({data + 2, width, height, width, cp::decode::PixelFormat::gray8});
        (void)r;
        return 0;
    }
    std::vector<std::uint8_t> buf(data + 1, data + size);
    cv::Mat img;
    try {
        img = cv::imdecode(buf, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception&) {
        return 0;  // OpenCV's own rejection; not the decoder's concern
    }
    if (img.empty()) return 0;
    auto r = dec.decode({img.data, img.cols, img.rows, static_cast<int>(img.step[0]), cp::decode::PixelFormat::bgr8});
    (void)r;
    return 0;
}
