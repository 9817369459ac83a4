// The decode stage: frames in, QR codes with their corners out. The core sees
// frames only as a non-owning view (architecture principle 2); OpenCV stays an
// implementation detail of this module.
#pragma once

#include "src/common/image.hpp"
#include "src/common/result.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cp::decode {

// The frames the decoder reads (src/common/image.hpp); a view is read during
// the call only.
using cp::ImageView;
using cp::PixelFormat;

struct Point {
    float x = 0;
    float y = 0;
};

struct Code {
    std::string text;             // the QR text as read (CP1:/HC1: ...)
    std::array<Point, 4> corners; // image pixels, clockwise from top-left of the code
    std::string stage;            // the try that read it first ("plain", "clahe", ...)
};

// Stages of the pipeline, in the order they are tried (cheap first). Each can be
// switched off, which is how the ablation table in docs/decoding.md is measured.
struct DecoderOptions {
    // Per-frame time budget (ms, monotonic wall clock). Before each try its cost
    // is estimated from the pixels it will process (at a rate the decoder learns
    // from its own tries) and the try is skipped when it would end past the
    // budget; the first try always runs, and a try in progress is not
    // interrupted. 0 = no limit. The default suits still images; a lane decoding
    // 30 fps video sets about one frame interval and stop_at_first
    // (docs/decoding.md).
    int budget_ms = 1000;
    // First try on a reduced copy of the frame (long side, px; 0 = off) when the
    // working image is at least 1.5 times larger: a pass held up to the camera
    // is read in a quarter of the time; the full-size try follows only when it
    // reads nothing.
    int quick_long_side = 640;
    // Video: try the region of the last code first (decode_video_frame only).
    bool roi_reuse = true;
    // Rescale to a working size (long side, px) before the first try; big
    // photographs waste time at full size and hide big codes from the finder.
    bool rescale = true;
    int work_long_side = 1100;  // px
    // Contrast-limited histogram equalisation, for glare, shadows, dim screens.
    bool contrast = true;
    // Smoothing: JPEG noise, moiré from screens, print halftone.
    bool smooth = false;  // off: read no extra code in the BoofCV ablation
    // Unsharp masking, for out-of-focus codes.
    bool sharpen = true;
    // Other scales: down for codes that fill the frame, up for small codes.
    bool multiscale = false;  // off: read no extra code in the BoofCV ablation
    // Light-on-dark codes (phones in dark mode).
    bool inverted = true;
    // Codes seen at a steep angle: one axis foreshortened so much that ZXing's
    // finder scan misses the patterns. Two tries with the aspect ratio changed by
    // 2 (x stretched and y shrunk by sqrt 2, then the other way round); same
    // pixel count as the working image.
    bool aspect = true;
    // A global-histogram threshold (ZXing's GlobalHistogram binariser) after the
    // local one: evenly lit codes whose fine modules or large dark areas defeat
    // the local-average binariser.
    bool global_threshold = true;
    // The whole frame at full resolution when the working image is much
    // smaller: small codes in big photographs.
    bool full_resolution = true;
    // Our own grid sampler for large codes (version >= grid_min_version by
    // their finder spacing) still unread after every other try: alignment
    // patterns located one by one, modules placed by local fits between them,
    // so a bent sheet does not make the grid drift (docs/decoding.md).
    bool grid_sampler = true;
    int grid_min_version = 14;
    // Finder-pattern region proposals: crops around candidates not yet read,
    // for frames with many or small codes.
    bool regions = true;
    // After a read, search for further codes only while the codes read cover
    // less than this fraction of the frame.
    double room_for_more = 0.1;
    double recheck_long_side = 640;  // px; smallest finder search size after a read
    int max_regions = 64;          // regions decoded per frame at most
    int proposal_long_side = 1600; // px; finder search size when nothing was read yet
    double region_side = 400;      // px; a region crop is scaled to about this size
    // Stop after the first try that reads a code (the lane needs one pass per
    // scan); false keeps looking for further codes within the budget.
    bool stop_at_first = false;
    // Frames larger than this (either side, px) are rejected as invalid input.
    int max_side = 8192;
};

// What one call did (for benchmarks and logs).
struct DecodeReport {
    int tries = 0;           // ZXing runs
    int regions = 0;         // region proposals decoded
    bool budget_hit = false; // some tries were skipped for time
    int conflicts = 0;       // positions dropped for reading different texts
    int skipped = 0;         // tries skipped because their estimated cost exceeded the budget left
    // Where the time went (ms): working image and whole-frame first try, finder search, crops
    // around likely codes, and the remaining whole-frame tries.
    double ms_plain = 0, ms_proposals = 0, ms_regions = 0, ms_rest = 0;
};

// Decodes every QR code in a frame. Not thread-safe: one instance per thread
// (decode_video_frame keeps the last code position between calls).
class QrDecoder {
public:
    explicit QrDecoder(DecoderOptions options = {});
    ~QrDecoder();
    QrDecoder(QrDecoder&&) noexcept;
    QrDecoder& operator=(QrDecoder&&) noexcept;

    // One still image: every valid QR code found within the budget.
    // Errors: invalid_input/"image" for a null, empty, oversized or
    // inconsistent view (stride smaller than a row).
    Result<std::vector<Code>> decode(const ImageView& frame);

    // One frame of a video stream: tries the region where a code was read in a
    // recent frame first, then the still-image pipeline. Same errors as decode().
    Result<std::vector<Code>> decode_video_frame(const ImageView& frame);

    // Forget the tracked position (e.g. when the lane is idle).
    void reset_tracking();

    const DecoderOptions& options() const;
    // Report of the last decode()/decode_video_frame() call.
    const DecodeReport& last_report() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Where a code is in a frame without reading it: the decoder's finder-pattern
// search on a copy scaled to `long_side` px (reduced, or enlarged up to 2x). For the viewfinder's hints
// ("move closer" when modules are too small to read); runs on its own thread,
// never on the decode path. Errors: as QrDecoder::decode().
struct Sighting {
    bool seen = false;     // three finder patterns of one likely code
    float module_px = 0;   // module size in frame pixels
    Point centre;          // centre of the likely code, frame pixels
    float half = 0;        // half side of the code with its quiet zone, frame pixels
};
Result<Sighting> find_code(const ImageView& frame, int long_side = 640);

// Image files: src/imagefile/image_file.hpp (cp::imagefile::decode_file).

}  // namespace cp::decode
