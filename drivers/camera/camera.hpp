// Camera: where frames come from. One interface, three kinds of source:
//   v4l2  — a USB/CSI camera through the kernel's V4L2 API: mmap streaming,
//           YUYV/GREY luma, MJPEG through libjpeg (CHECKPOINT_WITH_V4L2),
//   file  — a folder of images or a video file (replays, benchmarks),
//   sim   — a rendered lane: people holding passes on phones or paper.
//
// Thread-safety: a Camera is NOT thread-safe; one capture thread owns it and
// calls next_frame(). Frames are plain values and may be handed to other threads.
// No backend starts a thread of its own.
#pragma once

#include "drivers/camera/reason.hpp"
#include "drivers/sim_lane/lane_script.hpp"
#include "src/common/image.hpp"
#include "src/common/result.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cp::camera {

// One captured frame (src/common/image.hpp): owns its pixels (BGR8 or gray8,
// rows packed). The v4l2 source delivers gray8 (luma: all the decode stage
// reads); file and sim sources BGR8 (gray8 for a gray image file).
using cp::Frame;

// Exposure the lane asks for: the camera's own automatic exposure and gain, or a
// short exposure at low gain while a bright phone screen is in view (glare).
enum class Exposure { automatic, short_exposure };

class Camera {
public:
    virtual ~Camera() = default;
    // Applies `e` now and after every reconnect. Sources without controls (file,
    // sim) accept and ignore it. Errors: unavailable/"camera-control" when the
    // device refuses the exposure controls (the picture keeps its exposure).
    virtual Status set_exposure(Exposure e) {
        (void)e;
        return {};
    }
    // Stops streaming until the next next_frame() (a handheld between trigger
    // presses). V4L2: STREAMOFF, buffers unmapped, the node closed; the next
    // next_frame() opens it again at once. File and sim sources just wait.
    virtual void standby() {}
    // Waits up to timeout_ms for the next frame.
    // Errors: unavailable/"timeout" (no frame yet, try again),
    //         unavailable/"device-lost" (v4l2: reconnecting with backoff, try again),
    //         config/"camera-device" (v4l2: the node is not a streaming capture
    //           device), config/"camera-format" (v4l2: the driver's format cannot
    //           be converted or does not add up); both retried with the backoff,
    //         not_found/"end-of-stream" (file or sim source without looping is done),
    //         io/"frame" (a file or camera frame that cannot be decoded: corrupt or
    //           truncated MJPEG, bytesused beyond the buffer; the source moves on).
    // v4l2: polls up to timeout_ms and returns the newest filled buffer (older
    // ones are requeued, leaving a gap in `sequence`).
    virtual Result<Frame> next_frame(int timeout_ms) = 0;
    // "v4l2:/dev/video0 1280x720 MJPG@15", for logs; a v4l2 source that is
    // streaming shows what the driver granted: "... MJPG@30 3x1843200 B mmap".
    virtual std::string describe() const = 0;
};

struct V4l2Config {
    std::string device = "/dev/video0";
    int width = 1280;               // pixels
    int height = 720;               // pixels
    std::string fourcc = "MJPG";    // MJPG, YUYV or GREY (the driver may answer another)
    double fps = 15;                // frames per second requested
    int reconnect_min_ms = 250;     // first backoff after the device vanished
    int reconnect_max_ms = 8000;    // backoff doubles up to this
    // Exposure::short_exposure: V4L2_CID_EXPOSURE_ABSOLUTE in 100 us units and
    // V4L2_CID_GAIN (driver units; -1 leaves the gain alone).
    int short_exposure_100us = 30;  // 3 ms: a phone screen at full brightness
    int short_gain = 0;
};
// Errors: config/"camera" for bad values; unavailable/"v4l2-disabled" when built
// without CHECKPOINT_WITH_V4L2. The device need not exist yet: next_frame()
// reports device-lost and keeps trying to open it. Loads no plugin.
Result<std::unique_ptr<Camera>> open_v4l2(const V4l2Config& config);

struct FileSourceConfig {
    std::string path;     // a folder of .png/.jpg/.jpeg/.bmp (sorted by name) or a video file
    bool loop = false;    // start over at the end instead of end-of-stream
    double fps = 0;       // pace frames at this rate; 0 = as fast as consumed
};
// Errors: not_found/"camera-source" when the path does not exist or the folder
// holds no images; io/"camera-source" when the video cannot be opened.
Result<std::unique_ptr<Camera>> open_file_source(const FileSourceConfig& config);

struct SimCameraConfig {
    lane::LaneScript script;
    double fps = 15;               // frames per second of lane time
    bool real_time = true;         // true: pace at fps; false: as fast as consumed
    bool loop = false;             // replay the script instead of end-of-stream
    int width = 1280;
    int height = 720;
    std::uint32_t seed = 1;        // noise and jitter are reproducible per seed
    // Published on every frame so the thermometer and input sims follow along.
    std::shared_ptr<lane::LaneCursor> cursor;
};
// Errors: config/"camera" for fps <= 0 or a frame size outside 160x120..3840x2160.
Result<std::unique_ptr<Camera>> open_sim(const SimCameraConfig& config);

// Renders lane frame `frame` of `script` without a source (tests, tools).
Frame render_lane_frame(const lane::LaneScript& script, std::int64_t frame, int width,
                        int height, std::uint32_t seed);

}  // namespace cp::camera
