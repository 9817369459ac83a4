// Fuzz target: bytes → image → QrDecoder. Bounded: src/image refuses headers
// above 1 Mpx before decoding and the decoder rejects sides above 1024 px, so
// one input stays fast and small.
#include "src/decode/decoder.hpp"
#include "src/imagefile/image_file.hpp"

#include <cstddef>
#include <cstdint>

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
    cp::imagefile::Limits limits;
    limits.max_pixels = 1 << 20;
    limits.max_side = 1024;
    auto img = cp::imagefile::decode({data + 1, size - 1}, cp::decode::PixelFormat::bgr8, limits);
    if (!img) return 0;  // a typed refusal of the file; not the decoder's concern
    auto r = dec.decode(img->view());
    (void)r;
    return 0;
}
