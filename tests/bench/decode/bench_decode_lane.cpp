// Lane simulation: a 1280x720 camera at 30 fps while a pass is presented.
// Frames are synthetic (generated QR codes on a phone-like card that approaches,
// tilted, motion-blurred, with glare and noise) or BoofCV photographs shaken and
// blurred. The decode thread always takes the newest frame; frames that arrive
// while it is busy are dropped. Reported: frames until the first correct read,
// frames dropped, and decode time against the 33 ms frame interval.
//
//   bench_decode_lane [--scenarios N] [--budget MS] [--no-photos] [--slow MS] [--ours-only]
#define ZX_USE_UTF8 1
#include "src/cli/args.hpp"
#include "src/decode/decoder.hpp"
#include "tests/bench/bench.hpp"
#include "tests/decode/scoring.hpp"

#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <ZXing/ReadBarcode.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace cp::decode;
namespace sc = cp::decode::scoring;

namespace {

constexpr int kW = 1280, kH = 720;
constexpr double kFrameMs = 1000.0 / 30.0;
constexpr int kFrames = 90;  // 3 s per presentation

struct Found {
    std::string text;
    sc::Pt centre;
};

// One presentation: renders frame k, and judges a read.
struct Scenario {
    std::string kind;
    std::function<cv::Mat(int)> frame;                        // BGR 1280x720
    std::function<bool(const Found&, int frame)> correct;
};

double lerp(double a, double b, double t) { return a + (b - a) * t; }

cv::Mat symbol(const std::string& text, int module_px) {
    auto bm = ZXing::MultiFormatWriter(ZXing::BarcodeFormat::QRCode).setMargin(4).encode(text, 0, 0);
    cv::Mat m(bm.height(), bm.width(), CV_8UC1);
    for (int y = 0; y < bm.height(); ++y)
        for (int x = 0; x < bm.width(); ++x) m.at<std::uint8_t>(y, x) = bm.get(x, y) ? 0 : 255;
    cv::resize(m, m, cv::Size(), module_px, module_px, cv::INTER_NEAREST);
    return m;
}

void motion_blur(cv::Mat& img, double length, double angle_deg) {
    const int n = static_cast<int>(std::lround(length));
    if (n < 2) return;
    cv::Mat k = cv::Mat::zeros(n, n, CV_32F);
    const double a = angle_deg * CV_PI / 180.0;
    for (int i = 0; i < n; ++i) {
        const double t = i - (n - 1) / 2.0;
        const int x = std::clamp(static_cast<int>(std::lround((n - 1) / 2.0 + t * std::cos(a))), 0, n - 1);
        const int y = std::clamp(static_cast<int>(std::lround((n - 1) / 2.0 + t * std::sin(a))), 0, n - 1);
        k.at<float>(y, x) = 1.0f;
    }
    k /= cv::sum(k)[0];
    cv::filter2D(img, img, -1, k);
}

Scenario synthetic(int id) {
    std::mt19937 rng(static_cast<unsigned>(1000 + id));
    std::uniform_real_distribution<double> u(0, 1);
    // A pass-like payload: prefix plus base45-ish body, ~110 characters.
    const std::string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    std::string text = "CP1:";
    for (int i = 0; i < 110; ++i) text += alphabet[static_cast<std::size_t>(rng()) % alphabet.size()];
    const double final_side = lerp(170, 330, u(rng));
    const double roll = lerp(-40, 40, u(rng));
    const double tilt0 = lerp(20, 45, u(rng)), tilt1 = lerp(0, 15, u(rng));
    const double glare = u(rng) < 0.5 ? lerp(80, 200, u(rng)) : 0.0;
    const double dark = lerp(0, 70, u(rng)), light = lerp(150, 255, u(rng));
    const double blur_dir = lerp(0, 180, u(rng));
    const cv::Point2d start(lerp(200, 1080, u(rng)), lerp(150, 570, u(rng)));
    const cv::Point2d end(lerp(500, 780, u(rng)), lerp(280, 440, u(rng)));
    const double bg = lerp(40, 200, u(rng));
    auto code = std::make_shared<cv::Mat>(symbol(text, 8));
    auto quad_at = std::make_shared<std::vector<std::array<cv::Point2f, 4>>>(kFrames);

    Scenario s;
    s.kind = "synthetic";
    s.frame = [=](int k) {
        const double p = std::min(1.0, k / 45.0);  // approaches for 1.5 s, then held
        const double side = lerp(70, final_side, p);
        const cv::Point2d c = start + (end - start) * p +
                              cv::Point2d(6 * std::sin(k * 0.7), 4 * std::cos(k * 0.9)) * (1.0 - 0.7 * p);
        const double tilt = lerp(tilt0, tilt1, p) * CV_PI / 180.0;
        const double r = roll * CV_PI / 180.0;
        // Card corners: a square foreshortened along x (tilt about the vertical axis), rolled.
        std::array<cv::Point2f, 4> dst;
        const double hx = side / 2 * std::cos(tilt), hy = side / 2;
        const double skew = side * 0.15 * std::sin(tilt);
        const cv::Point2d local[4] = {{-hx, -hy - skew}, {hx, -hy + skew}, {hx, hy - skew}, {-hx, hy + skew}};
        for (int i = 0; i < 4; ++i) {
            const double x = local[i].x * std::cos(r) - local[i].y * std::sin(r);
            const double y = local[i].x * std::sin(r) + local[i].y * std::cos(r);
            dst[static_cast<std::size_t>(i)] = cv::Point2f(static_cast<float>(c.x + x), static_cast<float>(c.y + y));
        }
        const float w = static_cast<float>(code->cols);
        const cv::Point2f src[4] = {{0, 0}, {w, 0}, {w, w}, {0, w}};
        cv::Mat h = cv::getPerspectiveTransform(src, dst.data());
        cv::Mat frame(kH, kW, CV_8UC1, cv::Scalar(bg));
        cv::Mat card;
        code->convertTo(card, CV_8UC1, (light - dark) / 255.0, dark);
        cv::warpPerspective(card, frame, h, frame.size(), cv::INTER_LINEAR, cv::BORDER_TRANSPARENT);
        if (glare > 0) {
            // A specular spot drifting across the card.
            cv::Mat spot(kH, kW, CV_32F, cv::Scalar(0));
            const double gx = c.x + side * (0.6 * std::sin(k * 0.05)), gy = c.y - side * 0.2;
            const double sigma = side * 0.25;
            const int x0 = std::max(0, static_cast<int>(gx - 3 * sigma)), x1 = std::min(kW, static_cast<int>(gx + 3 * sigma));
            const int y0 = std::max(0, static_cast<int>(gy - 3 * sigma)), y1 = std::min(kH, static_cast<int>(gy + 3 * sigma));
            for (int y = y0; y < y1; ++y)
                for (int x = x0; x < x1; ++x)
                    spot.at<float>(y, x) = static_cast<float>(
                        glare * std::exp(-((x - gx) * (x - gx) + (y - gy) * (y - gy)) / (2 * sigma * sigma)));
            cv::Mat f32;
            frame.convertTo(f32, CV_32F);
            f32 += spot;
            f32.convertTo(frame, CV_8UC1);
        }
        motion_blur(frame, lerp(14, 1, p), blur_dir);
        cv::Mat noise(kH, kW, CV_16S);
        cv::randn(noise, 0, 4);
        cv::Mat f16;
        frame.convertTo(f16, CV_16S);
        f16 += noise;
        f16.convertTo(frame, CV_8UC1);
        cv::Mat bgr;
        cv::cvtColor(frame, bgr, cv::COLOR_GRAY2BGR);
        return bgr;
    };
    s.correct = [text](const Found& f, int) { return f.text == text; };
    return s;
}

Scenario photo(const sc::Sample& sample, int id) {
    cv::Mat img = cv::imread(sample.image.string(), cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    const double f = std::min(static_cast<double>(kW) / img.cols, static_cast<double>(kH) / img.rows);
    auto scaled = std::make_shared<cv::Mat>();
    cv::resize(img, *scaled, cv::Size(), f, f, cv::INTER_AREA);
    const int ox = (kW - scaled->cols) / 2, oy = (kH - scaled->rows) / 2;
    std::mt19937 rng(static_cast<unsigned>(2000 + id));
    const double blur_dir = std::uniform_real_distribution<double>(0, 180)(rng);
    auto labels = std::make_shared<std::vector<sc::Quad>>(sample.labels);
    Scenario s;
    s.kind = "photo/" + sample.category;
    auto shake = [](int k) {
        const double p = std::min(1.0, k / 45.0);
        return cv::Point2d(12 * std::sin(k * 0.8) * (1 - 0.8 * p), 9 * std::cos(k * 1.1) * (1 - 0.8 * p));
    };
    s.frame = [=](int k) {
        const double p = std::min(1.0, k / 45.0);
        const cv::Point2d d = shake(k);
        cv::Mat frame(kH, kW, CV_8UC3, cv::Scalar(90, 90, 90));
        cv::Mat m = (cv::Mat_<double>(2, 3) << 1, 0, ox + d.x, 0, 1, oy + d.y);
        cv::warpAffine(*scaled, frame, m, frame.size(), cv::INTER_LINEAR, cv::BORDER_TRANSPARENT);
        motion_blur(frame, lerp(10, 1, p), blur_dir);
        return frame;
    };
    s.correct = [=](const Found& fd, int k) {
        const cv::Point2d d = shake(k);
        for (const auto& q : *labels) {
            sc::Quad t;
            for (std::size_t i = 0; i < 4; ++i) t[i] = {q[i].x * f + ox + d.x, q[i].y * f + oy + d.y};
            if (sc::inside(t, fd.centre)) return true;
        }
        return false;
    };
    return s;
}

struct LaneDecoder {
    std::string name;
    std::function<std::vector<Found>(const cv::Mat& bgr)> decode;
    std::function<void()> reset;
};

struct Outcome {
    int first_read = -1;  // camera frame index, -1 = never
    int dropped = 0;
    int decoded = 0;
    bool wrong = false;   // a read that is not the presented code
    std::vector<double> ms;
    std::vector<double> cpu_ms;  // process CPU time per decode: steadier than wall time on a loaded machine
};

double cpu_now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Newest-frame-first: when the decoder becomes free it takes the latest frame
// captured; the ones it skipped are dropped. Time advances by measured decode time.
Outcome simulate(const Scenario& s, LaneDecoder& d) {
    Outcome o;
    d.reset();
    double now = 0;
    int last_taken = -1;
    while (true) {
        int k = static_cast<int>(std::floor(now / kFrameMs));
        if (k <= last_taken) {
            k = last_taken + 1;
            now = k * kFrameMs;  // idle until the next frame arrives
        }
        if (k >= kFrames) break;
        o.dropped += k - last_taken - 1;
        last_taken = k;
        cv::Mat frame = s.frame(k);
        const double c0 = cpu_now_ms();
        const auto t0 = std::chrono::steady_clock::now();
        auto found = d.decode(frame);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        o.ms.push_back(ms);
        o.cpu_ms.push_back(cpu_now_ms() - c0);
        ++o.decoded;
        now += ms;
        for (const auto& f : found) {
            if (s.correct(f, k)) {
                if (o.first_read < 0) o.first_read = k;
            } else {
                o.wrong = true;
            }
        }
        if (o.first_read >= 0) break;  // the lane moves on after a read
    }
    if (o.first_read < 0) o.dropped += kFrames - 1 - last_taken;
    return o;
}

std::vector<Found> to_found(const std::vector<Code>& codes) {
    std::vector<Found> out;
    for (const auto& c : codes) {
        sc::Pt ctr;
        for (const auto& p : c.corners) {
            ctr.x += p.x / 4.0;
            ctr.y += p.y / 4.0;
        }
        out.push_back({c.text, ctr});
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int n_synth = 24;
    bool photos = true;
    bool ours_only = false;  // only our decoder with video ROI (quicker A/B runs)
    double slow_ms = 0;  // > 0: where the time of our decodes slower than this went (stderr)
    DecoderOptions lane;
    lane.budget_ms = 30;       // one frame interval, minus headroom for the capture thread
    lane.stop_at_first = true; // one pass per scan
    bool no_photos = false;
    CLI::App app{"the lane's video: decode time per frame at 30 fps (docs/benchmarks.md)", "bench_decode_lane"};
    cp::cli::configure(app);
    cp::cli::add_int(&app, "--scenarios", n_synth, 0, 10000, "synthetic presentations")->default_str("24");
    cp::cli::add_int(&app, "--budget", lane.budget_ms, 0, 10000, "decode budget per frame, ms")->default_str("30");
    app.add_flag("--no-photos", no_photos, "synthetic presentations only");
    app.add_option("--slow", slow_ms, "where the time of decodes slower than this went (stderr), ms")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--ours-only", ours_only, "only our decoder with video ROI");
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    photos = !no_photos;
    std::vector<Scenario> scenarios;
    for (int i = 0; i < n_synth; ++i) scenarios.push_back(synthetic(i));
    fs::path data = fs::path(CHECKPOINT_SOURCE_DIR) / ".." / "shared" / "data" / "boofcv-qr";
    if (const char* env = std::getenv("CHECKPOINT_SHARED_DATA"); env && *env) data = fs::path(env) / "boofcv-qr";
    if (photos && !fs::is_directory(data))
        std::fprintf(stderr, "no photographs at %s (the full set; set CHECKPOINT_SHARED_DATA): synthetic "
                     "presentations only, not comparable with docs/benchmarks.md\n", data.c_str());
    if (photos && fs::is_directory(data)) {
        // Every third photograph of the conditions a lane meets: phones, paper, light.
        const std::vector<std::string> cats = {"nominal", "monitor", "glare", "bright_spots", "blurred", "shadows", "perspective"};
        auto samples = sc::load_dataset(data);
        int id = 0;
        for (const auto& smp : samples) {
            if (std::find(cats.begin(), cats.end(), smp.category) == cats.end()) continue;
            if (id++ % 3 == 0) scenarios.push_back(photo(smp, id));
        }
    }

    auto ours = std::make_shared<QrDecoder>(lane);
    DecoderOptions still = lane;
    still.roi_reuse = false;
    auto no_roi = std::make_shared<QrDecoder>(still);
    std::vector<LaneDecoder> decoders = {
        {"ours (video ROI)", [&](const cv::Mat& f) {
             const auto t0 = std::chrono::steady_clock::now();
             auto r = ours->decode_video_frame({f.data, f.cols, f.rows, static_cast<int>(f.step[0]), PixelFormat::bgr8});
             const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
             if (slow_ms > 0 && ms > slow_ms) {
                 const auto& rep = ours->last_report();
                 std::fprintf(stderr,
                              "slow %.1f ms: plain %.1f proposals %.1f regions %.1f rest %.1f, tries %d, regions %d, "
                              "skipped %d, read %zu\n",
                              ms, rep.ms_plain, rep.ms_proposals, rep.ms_regions, rep.ms_rest, rep.tries, rep.regions,
                              rep.skipped, r ? r->size() : 0);
             }
             return r ? to_found(*r) : std::vector<Found>{};
         },
         [&] { ours->reset_tracking(); }},
        {"ours (no ROI reuse)", [&](const cv::Mat& f) {
             auto r = no_roi->decode({f.data, f.cols, f.rows, static_cast<int>(f.step[0]), PixelFormat::bgr8});
             return r ? to_found(*r) : std::vector<Found>{};
         },
         [] {}},
        {"bare ZXing", [](const cv::Mat& f) {
             cv::Mat g;
             cv::cvtColor(f, g, cv::COLOR_BGR2GRAY);
             ZXing::DecodeHints h;
             h.setFormats(ZXing::BarcodeFormat::QRCode);
             ZXing::ImageView iv(g.data, g.cols, g.rows, ZXing::ImageFormat::Lum, static_cast<int>(g.step[0]));
             std::vector<Found> out;
             for (const auto& r : ZXing::ReadBarcodes(iv, h)) {
                 if (!r.isValid()) continue;
                 sc::Pt c;
                 for (std::size_t i = 0; i < 4; ++i) {
                     c.x += r.position()[i].x / 4.0;
                     c.y += r.position()[i].y / 4.0;
                 }
                 out.push_back({r.text(), c});
             }
             return out;
         },
         [] {}},
    };

    if (ours_only) decoders.resize(1);
    std::printf("lane: %zu presentations of %d frames (1280x720 @ 30 fps), budget %d ms\n\n", scenarios.size(),
                kFrames, lane.budget_ms);
    std::printf("| decoder | read | wrong | frames to first read (median / p90) | dropped frames | decode p50 / p99 ms | over 33 ms | CPU p50 / p99 ms |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (auto& d : decoders) {
        int read = 0, wrong = 0, dropped = 0, decoded = 0, over = 0;
        std::vector<double> firsts, all_ms, all_cpu;
        for (const auto& s : scenarios) {
            auto o = simulate(s, d);
            if (o.first_read >= 0) {
                ++read;
                firsts.push_back(o.first_read);
            } else {
                firsts.push_back(kFrames);  // never read counts as the whole presentation
            }
            wrong += o.wrong;
            dropped += o.dropped;
            decoded += o.decoded;
            all_cpu.insert(all_cpu.end(), o.cpu_ms.begin(), o.cpu_ms.end());
            for (double m : o.ms) {
                all_ms.push_back(m);
                over += m > kFrameMs;
            }
        }
        auto fr = cp::bench::summarize(firsts);
        auto ms = cp::bench::summarize(all_ms);
        auto cpu = cp::bench::summarize(all_cpu);
        const auto p90 = [&] {
            std::sort(firsts.begin(), firsts.end());
            return firsts[static_cast<std::size_t>(0.9 * static_cast<double>(firsts.size() - 1))];
        }();
        std::printf("| %s | %d/%zu | %d | %.0f / %.0f | %d of %d | %.1f / %.1f | %.1f%% | %.1f / %.1f |\n", d.name.c_str(), read,
                    scenarios.size(), wrong, fr.median_us, p90, dropped, dropped + decoded, ms.median_us, ms.p99_us,
                    100.0 * over / static_cast<double>(std::max<std::size_t>(1, all_ms.size())), cpu.median_us,
                    cpu.p99_us);
    }
    return 0;
}
