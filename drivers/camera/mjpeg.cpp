// MJPEG frames from a V4L2 camera, decoded with libjpeg(-turbo) straight to
// luma. The bytes come from a USB device and are untrusted: sizes are bounded
// before libjpeg sees them, libjpeg's errors and its corrupt-data warnings
// longjmp back here and become io/"frame", and the frame must have exactly the
// negotiated dimensions before a single row is written.
#include "drivers/camera/v4l2_io.hpp"
#include "drivers/camera/reason.hpp"

#include <csetjmp>
#include <cstdio>
#include <string>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

namespace cp::camera::detail {

namespace {

// libjpeg's working memory for one frame: a few MCU rows for baseline coding.
// Progressive coding (whole-image coefficient buffers) is refused anyway.
constexpr long kMaxJpegMemory = 16L << 20;

struct ErrorManager {
    jpeg_error_mgr pub;  // first: libjpeg hands back a pointer to it
    std::jmp_buf jump;
    char* message;       // JMSG_LENGTH_MAX bytes
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
    auto* m = reinterpret_cast<ErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, m->message);
    std::longjmp(m->jump, 1);
}

// Warnings (level -1) mean corrupt or truncated data that libjpeg would paper
// over with gray; a frame like that is refused. Stray bytes before a marker are
// common in camera MJPEG and harmless. Trace messages (level >= 0) are dropped.
void on_message(j_common_ptr cinfo, int level) {
    if (level >= 0 || cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
    on_error(cinfo);
}

void no_output(j_common_ptr) {}

// Returns true when `out` holds the frame; otherwise `message` says why. No
// object with a destructor lives in this frame: libjpeg errors longjmp into it.
bool decode_gray(const std::uint8_t* data, std::size_t size, int width, int height, std::uint8_t* out,
                 char* message) {
    jpeg_decompress_struct cinfo{};
    ErrorManager err{};
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    err.pub.output_message = no_output;
    err.message = message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = kMaxJpegMemory;
    jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width != static_cast<JDIMENSION>(width) || cinfo.image_height != static_cast<JDIMENSION>(height)) {
        std::snprintf(message, JMSG_LENGTH_MAX, "frame is %ux%u, the format says %dx%d", cinfo.image_width,
                      cinfo.image_height, width, height);
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    if (cinfo.progressive_mode) {
        std::snprintf(message, JMSG_LENGTH_MAX, "progressive JPEG (cameras send baseline)");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    cinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_width != static_cast<JDIMENSION>(width) ||
        cinfo.output_height != static_cast<JDIMENSION>(height) || cinfo.output_components != 1) {
        std::snprintf(message, JMSG_LENGTH_MAX, "unexpected output geometry");
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out + static_cast<std::size_t>(cinfo.output_scanline) * static_cast<std::size_t>(width);
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return true;
}

}  // namespace

Status decode_mjpeg_gray(std::span<const std::uint8_t> jpeg, int width, int height, std::uint8_t* out) {
    if (width <= 0 || height <= 0 || out == nullptr)
        return fail(ErrorKind::io, reason::frame, "MJPEG: no frame geometry");
    if (jpeg.size() < 4) return fail(ErrorKind::io, reason::frame, "MJPEG: empty or truncated frame");
    if (jpeg.size() > kMaxMjpegBytes)
        return fail(ErrorKind::io, reason::frame, "MJPEG: frame of " + std::to_string(jpeg.size()) + " bytes exceeds the cap");
    if (jpeg[0] != 0xFF || jpeg[1] != 0xD8) return fail(ErrorKind::io, reason::frame, "MJPEG: no JPEG start marker");
    char message[JMSG_LENGTH_MAX] = {};
    if (!decode_gray(jpeg.data(), jpeg.size(), width, height, out, message))
        return fail(ErrorKind::io, reason::frame, std::string("MJPEG: ") + message);
    return {};
}

}  // namespace cp::camera::detail
