// Read rate on the BoofCV QR photographs (the full set in ../shared/data/boofcv-qr
// when present, or --data DIR, e.g. the vendored subset tests/data/boofcv-qr), per
// category, scored with the rule of tests/data/boofcv-qr/README.md: our QrDecoder
// beside bare ZXing-cpp (the reference setting there) and ZBar, in the same run on the same gray frames.
//
//   bench_decode [--data DIR] [--only cat1,cat2] [--ablate] [--budget MS] [--no-zbar]
//                [--quick PX] [--stages] [--verbose]
#define ZX_USE_UTF8 1
#if CHECKPOINT_WITH_ZBAR
#include <zbar.h>  // before ZXing: ZXing's Error.h defines macros that clash with ZBar's C++ names
#endif
#include "src/cli/args.hpp"
#include "src/decode/decoder.hpp"
#include "tests/bench/bench.hpp"
#include "tests/decode/scoring.hpp"

#include <ZXing/ReadBarcode.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace cp::decode;
using scoring::Quad;

namespace {

using Clock = std::chrono::steady_clock;

struct Reader {
    std::string name;
    std::function<std::vector<Quad>(const cv::Mat& gray)> read;
};

struct Tally {
    int labels = 0, read = 0, false_reads = 0, images = 0;
    std::vector<double> ms;
    std::vector<double> cpu_ms;  // process CPU time: steadier than wall time on a loaded machine
};

Quad to_quad(const Code& c) {
    Quad q;
    for (std::size_t i = 0; i < 4; ++i) q[i] = {c.corners[i].x, c.corners[i].y};
    return q;
}

// Time spent per phase of our pipeline, summed over the run.
struct Phases {
    double plain = 0, proposals = 0, regions = 0, rest = 0;
};

Reader ours(DecoderOptions opt, std::map<std::string, int>* stages = nullptr, Phases* phases = nullptr) {
    auto dec = std::make_shared<QrDecoder>(opt);
    return {"ours", [dec, stages, phases](const cv::Mat& g) {
                ImageView v{g.data, g.cols, g.rows, static_cast<int>(g.step[0]), PixelFormat::gray8};
                std::vector<Quad> out;
                auto r = dec->decode(v);
                if (phases) {
                    const auto& rep = dec->last_report();
                    if (std::getenv("BENCH_PHASES"))
                        std::fprintf(stderr, "phases plain %.1f proposals %.1f regions %.1f rest %.1f tries %d\n",
                                     rep.ms_plain, rep.ms_proposals, rep.ms_regions, rep.ms_rest, rep.tries);
                    phases->plain += rep.ms_plain;
                    phases->proposals += rep.ms_proposals;
                    phases->regions += rep.ms_regions;
                    phases->rest += rep.ms_rest;
                }
                if (!r) return out;
                for (const auto& c : *r) {
                    out.push_back(to_quad(c));
                    if (stages) ++(*stages)[c.stage];
                }
                return out;
            }};
}

Reader bare_zxing() {
    return {"zxing", [](const cv::Mat& g) {
                return scoring::read_bare_zxing(g.data, g.cols, g.rows, static_cast<int>(g.step[0]));
            }};
}

#if CHECKPOINT_WITH_ZBAR
Reader zbar_reader() {
    using namespace zbar;
    return {"zbar", [](const cv::Mat& g0) {
                cv::Mat g = g0.isContinuous() ? g0 : g0.clone();
                zbar_image_scanner_t* sc = zbar_image_scanner_create();
                zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
                zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
                zbar_image_t* img = zbar_image_create();
                const unsigned long y800 = 'Y' | ('8' << 8) | ('0' << 16) | (static_cast<unsigned long>('0') << 24);
                zbar_image_set_format(img, y800);
                zbar_image_set_size(img, static_cast<unsigned>(g.cols), static_cast<unsigned>(g.rows));
                zbar_image_set_data(img, g.data, g.total(), nullptr);
                zbar_scan_image(sc, img);
                std::vector<Quad> out;
                for (const zbar_symbol_t* s = zbar_image_first_symbol(img); s; s = zbar_symbol_next(s)) {
                    const unsigned n = zbar_symbol_get_loc_size(s);
                    if (n == 0) continue;
                    // ZBar gives the outline; its corners (or their bounding box) form the quad.
                    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
                    for (unsigned i = 0; i < n; ++i) {
                        x0 = std::min<double>(x0, zbar_symbol_get_loc_x(s, i));
                        x1 = std::max<double>(x1, zbar_symbol_get_loc_x(s, i));
                        y0 = std::min<double>(y0, zbar_symbol_get_loc_y(s, i));
                        y1 = std::max<double>(y1, zbar_symbol_get_loc_y(s, i));
                    }
                    if (n == 4) {
                        Quad q;
                        for (unsigned i = 0; i < 4; ++i)
                            q[i] = {static_cast<double>(zbar_symbol_get_loc_x(s, i)),
                                    static_cast<double>(zbar_symbol_get_loc_y(s, i))};
                        out.push_back(q);
                    } else {
                        out.push_back(Quad{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}});
                    }
                }
                zbar_image_destroy(img);
                zbar_image_scanner_destroy(sc);
                return out;
            }};
}
#endif

double cpu_now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ','))
        if (!x.empty()) out.push_back(x);
    return out;
}

struct Run {
    std::map<std::string, Tally> per_cat;
    Tally all;
};

Run evaluate(const std::vector<scoring::Sample>& samples, const std::vector<cv::Mat>& frames, const Reader& r,
             bool verbose) {
    Run run;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const double c0 = cpu_now_ms();
        const auto t0 = Clock::now();
        auto quads = r.read(frames[i]);
        const double ms = ms_since(t0);
        const double cpu = cpu_now_ms() - c0;
        auto s = scoring::score(samples[i].labels, quads);
        for (Tally* t : {&run.per_cat[samples[i].category], &run.all}) {
            t->labels += s.labels;
            t->read += s.read;
            t->false_reads += s.false_reads;
            t->images += 1;
            t->ms.push_back(ms);
            t->cpu_ms.push_back(cpu);
        }
        if (verbose)
            std::fprintf(stderr, "%-6s %-14s %-14s %d/%d false=%d %.1f ms %.1f cpu\n", r.name.c_str(),
                         samples[i].category.c_str(), samples[i].image.filename().c_str(), s.read, s.labels,
                         s.false_reads, ms, cpu);
    }
    return run;
}

double median_ms(std::vector<double> v) { return cp::bench::summarize(std::move(v)).median_us; }
double p95_ms(std::vector<double> v) { return cp::bench::summarize(std::move(v)).p95_us; }

}  // namespace

int main(int argc, char** argv) {
    fs::path data = fs::path(CHECKPOINT_SOURCE_DIR) / ".." / "shared" / "data" / "boofcv-qr";
    if (const char* env = std::getenv("CHECKPOINT_SHARED_DATA"); env && *env) data = fs::path(env) / "boofcv-qr";
    std::set<std::string> only;
    bool ablate = false, with_zbar = true, with_zxing = true, verbose = false, stages = false;
    DecoderOptions opt;
    std::string only_list;
    bool no_zbar = false, no_zxing = false;
    CLI::App app{"QR read rate and time on the BoofCV photographs, beside bare ZXing-cpp and ZBar "
                 "(docs/benchmarks.md)",
                 "bench_decode"};
    cp::cli::configure(app);
    app.add_option("--data", data, "the photographs (default: CHECKPOINT_SHARED_DATA/boofcv-qr)")->type_name("DIR");
    app.add_option("--only", only_list, "only these categories")->type_name("CAT,...");
    app.add_flag("--ablate", ablate, "also run with each stage of the pipeline turned off");
    app.add_flag("--no-zbar", no_zbar, "skip ZBar");
    app.add_flag("--no-zxing", no_zxing, "skip bare ZXing-cpp");
    cp::cli::add_int(&app, "--budget", opt.budget_ms, 0, 10000, "decode budget per image, ms (0: none)");
    cp::cli::add_int(&app, "--work", opt.work_long_side, 0, 10000, "working long side, px");
    cp::cli::add_int(&app, "--quick", opt.quick_long_side, 0, 10000, "quick pass long side, px");
    cp::cli::add_int(&app, "--proposal", opt.proposal_long_side, 0, 10000, "proposal long side, px");
    app.add_option("--recheck", opt.recheck_long_side, "recheck long side")->check(CLI::NonNegativeNumber);
    app.add_option("--room", opt.room_for_more, "room for more")->check(CLI::NonNegativeNumber);
    app.add_flag("--verbose", verbose, "one line per image");
    app.add_flag("--stages", stages, "time per pipeline stage");
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    for (auto& c : split(only_list)) only.insert(c);
    with_zbar = !no_zbar;
    with_zxing = !no_zxing;
    if (!fs::is_directory(data)) {
        std::fprintf(stderr,
                     "no data at %s (set CHECKPOINT_SHARED_DATA, or --data tests/data/boofcv-qr for the subset "
                     "in the repository)\n",
                     data.c_str());
        return 0;
    }
    auto samples = scoring::load_dataset(data);
    if (!only.empty())
        std::erase_if(samples, [&](const scoring::Sample& s) { return !only.count(s.category); });
    // Frames are decoded once, outside the timing: gray, pixels as stored.
    std::vector<cv::Mat> frames;
    for (const auto& s : samples) frames.push_back(cv::imread(s.image.string(), cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION));
    std::printf("boofcv-qr: %zu images from %s, budget %d ms\n\n", samples.size(), data.c_str(), opt.budget_ms);

    std::map<std::string, int> stage_counts;
    Phases phases;
    std::vector<Reader> readers{ours(opt, stages ? &stage_counts : nullptr, &phases)};
    if (with_zxing) readers.push_back(bare_zxing());
#if CHECKPOINT_WITH_ZBAR
    if (with_zbar) readers.push_back(zbar_reader());
#else
    (void)with_zbar;
#endif
    std::vector<Run> runs;
    for (const auto& r : readers) runs.push_back(evaluate(samples, frames, r, verbose));

    std::printf("| category | codes |");
    for (const auto& r : readers) std::printf(" %s |", r.name.c_str());
    std::printf("\n|---|---:|");
    for (std::size_t i = 0; i < readers.size(); ++i) std::printf("---:|");
    std::printf("\n");
    for (const auto& [cat, t] : runs[0].per_cat) {
        std::printf("| %s | %d |", cat.c_str(), t.labels);
        for (const auto& run : runs) std::printf(" %d |", run.per_cat.at(cat).read);
        std::printf("\n");
    }
    const auto& tot = runs[0].all;
    std::printf("| **all** | %d |", tot.labels);
    for (const auto& run : runs)
        std::printf(" %d (%.1f%%) |", run.all.read, 100.0 * run.all.read / std::max(1, run.all.labels));
    std::printf("\n| false reads | |");
    for (const auto& run : runs) std::printf(" %d |", run.all.false_reads);
    std::printf("\n| median ms/image | |");
    for (const auto& run : runs) std::printf(" %.1f |", median_ms(run.all.ms));
    std::printf("\n| p95 ms/image | |");
    for (const auto& run : runs) std::printf(" %.1f |", p95_ms(run.all.ms));
    std::printf("\n| median CPU ms/image | |");
    for (const auto& run : runs) std::printf(" %.1f |", median_ms(run.all.cpu_ms));
    std::printf("\n");
    if (stages) {
        std::printf("\ntime by phase (ms, all images): plain %.0f, proposals %.0f, regions %.0f, rest %.0f\n",
                    phases.plain, phases.proposals, phases.regions, phases.rest);
        std::printf("codes by the stage that read them first:");
        for (const auto& [s, n] : stage_counts) std::printf(" %s=%d", s.c_str(), n);
        std::printf("\n");
    }

    if (ablate) {
        // Each stage switched off in turn: what it earns (codes) and costs (time).
        struct Knob {
            const char* name;
            bool DecoderOptions::*flag;
        };
        const Knob knobs[] = {{"rescale", &DecoderOptions::rescale},   {"contrast", &DecoderOptions::contrast},
                              {"smooth", &DecoderOptions::smooth},     {"sharpen", &DecoderOptions::sharpen},
                              {"multiscale", &DecoderOptions::multiscale}, {"inverted", &DecoderOptions::inverted},
                              {"full_resolution", &DecoderOptions::full_resolution},
                              {"regions", &DecoderOptions::regions},   {"aspect", &DecoderOptions::aspect},
                              {"global_threshold", &DecoderOptions::global_threshold},
                              {"grid_sampler", &DecoderOptions::grid_sampler}};
        std::printf("\n| variant | codes read | false reads | median ms | p95 ms | median CPU ms |\n|---|---:|---:|---:|---:|---:|\n");
        auto row = [&](const char* name, const Run& r) {
            std::printf("| %s | %d (%.1f%%) | %d | %.1f | %.1f | %.1f |\n", name, r.all.read,
                        100.0 * r.all.read / std::max(1, r.all.labels), r.all.false_reads,
                        median_ms(r.all.ms), p95_ms(r.all.ms), median_ms(r.all.cpu_ms));
        };
        row("all stages", runs[0]);
        for (const auto& k : knobs) {
            DecoderOptions o = opt;
            o.*(k.flag) = false;
            row((std::string("without ") + k.name).c_str(), evaluate(samples, frames, ours(o), false));
        }
        DecoderOptions no_quick = opt;
        no_quick.quick_long_side = 0;
        row("without quick", evaluate(samples, frames, ours(no_quick), false));
    }
    return 0;
}
