// The camera driver's error reasons. "end-of-stream" (a file or sim source has no
// more frames) and "timeout" (no frame within the wait) are normal outcomes of
// Camera::next(); "device-lost" means the device went away (it reconnects).
#pragma once

#include "src/common/result.hpp"

namespace cp::camera::reason {
inline constexpr Reason camera{"camera"};
inline constexpr Reason camera_control{"camera-control"};
inline constexpr Reason camera_device{"camera-device"};
inline constexpr Reason camera_format{"camera-format"};
inline constexpr Reason camera_source{"camera-source"};
inline constexpr Reason device_lost{"device-lost"};
inline constexpr Reason end_of_stream{"end-of-stream"};
inline constexpr Reason frame{"frame"};
inline constexpr Reason image{"image"};
inline constexpr Reason image_header{"image-header"};
inline constexpr Reason timeout{"timeout"};
inline constexpr Reason v4l2_disabled{"v4l2-disabled"};
}  // namespace cp::camera::reason
