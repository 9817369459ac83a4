// Where the rendered screen goes.
#include "drivers/display/display.hpp"
#include "drivers/display/reason.hpp"

#include "drivers/plugin/plugin.hpp"
#include "drivers/png/png_io.hpp"
#include "src/common/log.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <linux/fb.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace cp::display {

Status convert_to_fb(const cv::Mat& bgr, const FbFormat& f, std::uint8_t* dst,
                     std::size_t line_length, int width, int height) {
    if (f.bits_per_pixel != 16 && f.bits_per_pixel != 24 && f.bits_per_pixel != 32)
        return fail(ErrorKind::invalid_input, reason::fb_format,
                    std::to_string(f.bits_per_pixel) + " bpp is not supported");
    const int lens[3] = {f.red_length, f.green_length, f.blue_length};
    const int offs[3] = {f.red_offset, f.green_offset, f.blue_offset};
    for (int i = 0; i < 3; ++i)
        if (lens[i] < 1 || lens[i] > 8 || offs[i] < 0 || offs[i] + lens[i] > f.bits_per_pixel)
            return fail(ErrorKind::invalid_input, reason::fb_format, "channel layout outside the pixel");
    if (bgr.type() != CV_8UC3) return fail(ErrorKind::invalid_input, reason::fb_format, "need BGR8");
    const auto bytes = static_cast<std::size_t>(f.bits_per_pixel / 8);
    if (line_length < bytes * static_cast<std::size_t>(width))
        return fail(ErrorKind::invalid_input, reason::fb_format, "line_length shorter than a row");
    const int rows = std::min(height, bgr.rows), cols = std::min(width, bgr.cols);
    for (int y = 0; y < rows; ++y) {
        const std::uint8_t* src = bgr.ptr<std::uint8_t>(y);
        std::uint8_t* out = dst + line_length * static_cast<std::size_t>(y);
        for (int x = 0; x < cols; ++x) {
            const std::uint32_t b = src[3 * x], g = src[3 * x + 1], r = src[3 * x + 2];
            const std::uint32_t v = ((r >> (8 - f.red_length)) << f.red_offset) |
                                    ((g >> (8 - f.green_length)) << f.green_offset) |
                                    ((b >> (8 - f.blue_length)) << f.blue_offset);
            for (std::size_t k = 0; k < bytes; ++k)  // framebuffers are little-endian here
                out[static_cast<std::size_t>(x) * bytes + k] =
                    static_cast<std::uint8_t>((v >> (8 * k)) & 0xff);
        }
    }
    return {};
}

namespace {

class FramebufferSink final : public ScreenSink {
public:
    FramebufferSink(int fd, std::string path, fb_var_screeninfo var, fb_fix_screeninfo fix,
                    std::uint8_t* mem, std::size_t len)
        : fd_(fd), path_(std::move(path)), var_(var), fix_(fix), mem_(mem), len_(len) {}
    ~FramebufferSink() override {
        ::munmap(mem_, len_);
        ::close(fd_);
    }
    FramebufferSink(const FramebufferSink&) = delete;
    FramebufferSink& operator=(const FramebufferSink&) = delete;

    Status show(const cv::Mat& bgr) override {
        const int w = static_cast<int>(var_.xres), h = static_cast<int>(var_.yres);
        cv::Mat fitted;
        if (bgr.cols != w || bgr.rows != h)
            cv::resize(bgr, fitted, cv::Size(w, h), 0, 0, cv::INTER_AREA);
        else
            fitted = bgr;
        FbFormat f;
        f.bits_per_pixel = static_cast<int>(var_.bits_per_pixel);
        f.red_offset = static_cast<int>(var_.red.offset);
        f.red_length = static_cast<int>(var_.red.length);
        f.green_offset = static_cast<int>(var_.green.offset);
        f.green_length = static_cast<int>(var_.green.length);
        f.blue_offset = static_cast<int>(var_.blue.offset);
        f.blue_length = static_cast<int>(var_.blue.length);
        const std::size_t start = static_cast<std::size_t>(var_.yoffset) * fix_.line_length +
                                  static_cast<std::size_t>(var_.xoffset) *
                                      static_cast<std::size_t>(var_.bits_per_pixel / 8);
        if (start + static_cast<std::size_t>(h) * fix_.line_length > len_)
            return fail(ErrorKind::io, reason::screen, path_ + ": visible area beyond the mapping");
        auto s = convert_to_fb(fitted, f, mem_ + start, fix_.line_length, w, h);
        if (!s.ok()) return fail(s.error().with_context(path_));
        return {};
    }
    std::string describe() const override {
        return "fbdev:" + path_ + " " + std::to_string(var_.xres) + "x" +
               std::to_string(var_.yres) + "x" + std::to_string(var_.bits_per_pixel);
    }

private:
    int fd_;
    std::string path_;
    fb_var_screeninfo var_;
    fb_fix_screeninfo fix_;
    std::uint8_t* mem_;
    std::size_t len_;
};

// highgui lives in the plugin libcp_display_window.so (window_plugin.cpp).
using WindowShowFn = bool(const char* title, const cv::Mat* bgr, std::string* error);

class WindowSink final : public ScreenSink {
public:
    WindowSink(std::string title, WindowShowFn* show_fn) : title_(std::move(title)), show_(show_fn) {}
    Status show(const cv::Mat& bgr) override {
        std::string error;
        if (!show_(title_.c_str(), &bgr, &error)) return fail(ErrorKind::io, reason::screen, "window: " + error);
        return {};
    }
    std::string describe() const override { return "window:" + title_; }

private:
    std::string title_;
    WindowShowFn* show_;
};

class PngFolderSink final : public ScreenSink {
public:
    PngFolderSink(std::filesystem::path folder, int keep, std::uint64_t next)
        : folder_(std::move(folder)), keep_(keep), next_(next) {}

    Status show(const cv::Mat& bgr) override {
        char name[32];
        std::snprintf(name, sizeof name, "screen-%06llu.png",
                      static_cast<unsigned long long>(next_));
        const auto final_path = folder_ / name;
        // Write under a temporary name then rename, so a viewer never sees half a file.
        const auto tmp = folder_ / (".partial-" + std::string(name));
        if (auto w = png::write(tmp.string(), bgr); !w) return fail(ErrorKind::io, reason::screen, w.error().message);
        std::error_code ec;
        std::filesystem::rename(tmp, final_path, ec);
        if (ec) return fail(ErrorKind::io, reason::screen, final_path.string() + ": " + ec.message());
        ++next_;
        // Rotation: keep the newest `keep` screens so the folder stays bounded.
        if (next_ > static_cast<std::uint64_t>(keep_)) {
            char old[32];
            std::snprintf(old, sizeof old, "screen-%06llu.png",
                          static_cast<unsigned long long>(next_ - static_cast<std::uint64_t>(keep_) - 1));
            std::filesystem::remove(folder_ / old, ec);
        }
        return {};
    }
    std::string describe() const override { return "png:" + folder_.string(); }

private:
    std::filesystem::path folder_;
    int keep_;
    std::uint64_t next_;
};

}  // namespace

Result<std::unique_ptr<ScreenSink>> open_framebuffer(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(ErrorKind::unavailable, reason::framebuffer, path + ": " + std::strerror(errno));
    fb_var_screeninfo var{};
    fb_fix_screeninfo fix{};
    if (::ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0 || ::ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0) {
        const int err = errno;
        ::close(fd);
        return fail(ErrorKind::unavailable, reason::framebuffer, path + ": " + std::strerror(err));
    }
    if (var.bits_per_pixel != 16 && var.bits_per_pixel != 24 && var.bits_per_pixel != 32) {
        ::close(fd);
        return fail(ErrorKind::unavailable, reason::framebuffer,
                    path + ": " + std::to_string(var.bits_per_pixel) + " bpp not supported");
    }
    void* mem = ::mmap(nullptr, fix.smem_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        return fail(ErrorKind::unavailable, reason::framebuffer, path + ": mmap: " + std::strerror(err));
    }
    return std::unique_ptr<ScreenSink>(new FramebufferSink(
        fd, path, var, fix, static_cast<std::uint8_t*>(mem), fix.smem_len));
}

Result<std::unique_ptr<ScreenSink>> open_window(const std::string& title) {
    const char* x11 = std::getenv("DISPLAY");
    const char* wl = std::getenv("WAYLAND_DISPLAY");
    if ((!x11 || !*x11) && (!wl || !*wl))
        return fail(ErrorKind::unavailable, reason::window, "no DISPLAY or WAYLAND_DISPLAY");
    WindowShowFn* show_fn = nullptr;
    if (auto s = plugin::plugin_function("cp_display_window", "cp_display_window_show", show_fn); !s)
        return fail(ErrorKind::unavailable, reason::window, s.error().message);
    return std::unique_ptr<ScreenSink>(new WindowSink(title, show_fn));
}

Result<std::unique_ptr<ScreenSink>> open_png_folder(const std::string& folder, int keep) {
    if (keep < 1 || keep > 100000)
        return fail(ErrorKind::config, reason::screen, "keep: must be 1..100000");
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) return fail(ErrorKind::io, reason::screen, folder + ": " + ec.message());
    // Continue numbering after what is there, so a restart does not overwrite.
    std::uint64_t next = 0;
    for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
        const std::string n = e.path().filename().string();
        unsigned long long k = 0;
        if (std::sscanf(n.c_str(), "screen-%llu.png", &k) == 1) next = std::max<std::uint64_t>(next, k + 1);
    }
    return std::unique_ptr<ScreenSink>(new PngFolderSink(folder, keep, next));
}

}  // namespace cp::display
