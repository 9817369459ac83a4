// File sources: replay recorded frames through the same interface as a camera.
#include "drivers/camera/camera_internal.hpp"
#include "drivers/camera/reason.hpp"

#include "src/common/time.hpp"
#include "src/imagefile/image_header.hpp"

#include "drivers/png/png_io.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace cp::camera {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}
bool is_image(const fs::path& p) {
    const std::string ext = lower_extension(p);
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

Result<cv::Mat> read_checked(const std::string& path) {
    auto bytes = imagefile::read_file(path);
    if (!bytes) return fail(bytes.error());
    auto header = imagefile::probe(*bytes);
    if (!header) return fail(header.error().with_context(path));
    auto img = header->format == imagefile::Format::png ? png::decode_bgr(*bytes) : detail::cv_imdecode(*bytes);
    if (!img) return fail(img.error().with_context(path));
    if (img->cols != header->width || img->rows != header->height)
        return fail(ErrorKind::invalid_input, reason::image_header, path + ": decoded size differs from the header");
    return img;
}

class FolderSource final : public Camera {
public:
    FolderSource(FileSourceConfig c, std::vector<fs::path> files)
        : config_(std::move(c)), files_(std::move(files)), pacer_(config_.fps) {}

    Result<Frame> next_frame(int timeout_ms) override {
        if (index_ >= files_.size()) {
            if (!config_.loop) return fail(ErrorKind::not_found, reason::end_of_stream, config_.path);
            index_ = 0;
        }
        if (config_.fps > 0 && !pacer_.wait_for(sequence_, timeout_ms))
            return fail(ErrorKind::unavailable, reason::timeout);
        const fs::path& file = files_[index_++];
        const std::uint64_t seq = sequence_++;
        // Format and size come from the header before any decoder sees the bytes
        // (src/imagefile): a stray or hostile file in the folder is a typed error
        // for this frame, not a huge allocation. PNG through libpng; JPEG and BMP
        // through OpenCV's imgcodecs (plugin).
        auto img = read_checked(file.string());
        if (!img) return fail(ErrorKind::io, reason::frame, img.error().describe());
        return detail::frame_from_mat(*img, seq, monotonic_now_ms());
    }
    std::string describe() const override {
        return "folder:" + config_.path + " (" + std::to_string(files_.size()) + " images)";
    }

private:
    FileSourceConfig config_;
    std::vector<fs::path> files_;
    detail::Pacer pacer_;
    std::size_t index_ = 0;
    std::uint64_t sequence_ = 0;
};

class VideoSource final : public Camera {
public:
    VideoSource(FileSourceConfig c, std::unique_ptr<detail::CvCapture> cap)
        : config_(std::move(c)), cap_(std::move(cap)), pacer_(config_.fps) {}
    bool open() {
        std::string error;
        return cap_->open_file(config_.path, error);
    }

    Result<Frame> next_frame(int timeout_ms) override {
        if (config_.fps > 0 && !pacer_.wait_for(sequence_, timeout_ms))
            return fail(ErrorKind::unavailable, reason::timeout);
        cv::Mat img;
        std::string error;
        if (!cap_->read(img, error)) {
            if (!error.empty()) return fail(ErrorKind::io, reason::frame, config_.path + ": " + error);
            if (!config_.loop || !reopen() || !cap_->read(img, error))
                return fail(ErrorKind::not_found, reason::end_of_stream, config_.path);
        }
        return detail::frame_from_mat(img, sequence_++, monotonic_now_ms());
    }
    std::string describe() const override { return "video:" + config_.path; }

private:
    bool reopen() {
        cap_->release();
        return open();
    }
    FileSourceConfig config_;
    std::unique_ptr<detail::CvCapture> cap_;
    detail::Pacer pacer_;
    std::uint64_t sequence_ = 0;
};

}  // namespace

Result<std::unique_ptr<Camera>> open_file_source(const FileSourceConfig& config) {
    std::error_code ec;
    if (config.fps < 0 || config.fps > 240)
        return fail(ErrorKind::config, reason::camera, "file source fps must be in [0, 240]");
    if (!fs::exists(config.path, ec))
        return fail(ErrorKind::not_found, reason::camera_source, config.path + ": does not exist");
    if (fs::is_directory(config.path, ec)) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(config.path, ec)) {
            if (entry.is_regular_file(ec) && is_image(entry.path())) files.push_back(entry.path());
            if (files.size() > 1000000) break;  // bounded: a runaway folder is not a camera
        }
        if (ec) return fail(ErrorKind::io, reason::camera_source, config.path + ": " + ec.message());
        if (files.empty())
            return fail(ErrorKind::not_found, reason::camera_source, config.path + ": no images");
        std::sort(files.begin(), files.end());
        return std::unique_ptr<Camera>(new FolderSource(config, std::move(files)));
    }
    auto cap = detail::new_cv_capture();
    if (!cap) return fail(cap.error());
    auto src = std::make_unique<VideoSource>(config, std::move(*cap));
    if (!src->open())
        return fail(ErrorKind::io, reason::camera_source, config.path + ": cannot open as video");
    return std::unique_ptr<Camera>(std::move(src));
}

}  // namespace cp::camera
