// File sources: replay recorded frames through the same interface as a camera.
#include "drivers/camera/camera_internal.hpp"

#include "src/common/time.hpp"
#include "src/imagefile/image_file.hpp"

#include <opencv2/videoio.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace cp::camera {
namespace {

namespace fs = std::filesystem;

bool is_image(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

class FolderSource final : public Camera {
public:
    FolderSource(FileSourceConfig c, std::vector<fs::path> files)
        : config_(std::move(c)), files_(std::move(files)), pacer_(config_.fps) {}

    Result<Frame> next_frame(int timeout_ms) override {
        if (index_ >= files_.size()) {
            if (!config_.loop) return fail(ErrorKind::not_found, "end-of-stream", config_.path);
            index_ = 0;
        }
        if (config_.fps > 0 && !pacer_.wait_for(sequence_, timeout_ms))
            return fail(ErrorKind::unavailable, "timeout");
        const fs::path& file = files_[index_++];
        const std::uint64_t seq = sequence_++;
        // Format and size are checked before decoding (src/image): a stray file
        // in the folder is a typed error for this frame, not a huge allocation.
        auto img = imagefile::load(file.string(), decode::PixelFormat::bgr8);
        if (!img) return fail(ErrorKind::io, "frame", img.error().describe());
        const cv::Mat mat(img->height, img->width, CV_8UC3, img->pixels.data(),
                          static_cast<std::size_t>(img->stride));
        return detail::frame_from_mat(mat, seq, monotonic_now_ms());
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
    explicit VideoSource(FileSourceConfig c) : config_(std::move(c)), pacer_(config_.fps) {}
    bool open() {
        try {
            // FFmpeg only: CAP_ANY would also probe camera backends (dc1394,
            // gphoto2) with a file name, slowly and with leaks in them.
            return cap_.open(config_.path, cv::CAP_FFMPEG) && cap_.isOpened();
        } catch (const cv::Exception&) {
            return false;
        }
    }

    Result<Frame> next_frame(int timeout_ms) override {
        if (config_.fps > 0 && !pacer_.wait_for(sequence_, timeout_ms))
            return fail(ErrorKind::unavailable, "timeout");
        cv::Mat img;
        try {
            if (!cap_.read(img) || img.empty()) {
                if (!config_.loop || !reopen() || !cap_.read(img) || img.empty())
                    return fail(ErrorKind::not_found, "end-of-stream", config_.path);
            }
        } catch (const cv::Exception& e) {
            return fail(ErrorKind::io, "frame", config_.path + ": " + e.what());
        }
        return detail::frame_from_mat(img, sequence_++, monotonic_now_ms());
    }
    std::string describe() const override { return "video:" + config_.path; }

private:
    bool reopen() {
        cap_.release();
        return open();
    }
    FileSourceConfig config_;
    cv::VideoCapture cap_;
    detail::Pacer pacer_;
    std::uint64_t sequence_ = 0;
};

}  // namespace

Result<std::unique_ptr<Camera>> open_file_source(const FileSourceConfig& config) {
    std::error_code ec;
    if (config.fps < 0 || config.fps > 240)
        return fail(ErrorKind::config, "camera", "file source fps must be in [0, 240]");
    if (!fs::exists(config.path, ec))
        return fail(ErrorKind::not_found, "camera-source", config.path + ": does not exist");
    if (fs::is_directory(config.path, ec)) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(config.path, ec)) {
            if (entry.is_regular_file(ec) && is_image(entry.path())) files.push_back(entry.path());
            if (files.size() > 1000000) break;  // bounded: a runaway folder is not a camera
        }
        if (ec) return fail(ErrorKind::io, "camera-source", config.path + ": " + ec.message());
        if (files.empty())
            return fail(ErrorKind::not_found, "camera-source", config.path + ": no images");
        std::sort(files.begin(), files.end());
        return std::unique_ptr<Camera>(new FolderSource(config, std::move(files)));
    }
    auto src = std::make_unique<VideoSource>(config);
    if (!src->open())
        return fail(ErrorKind::io, "camera-source", config.path + ": cannot open as video");
    return std::unique_ptr<Camera>(std::move(src));
}

}  // namespace cp::camera
