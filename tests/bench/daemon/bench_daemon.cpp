// checkpointd benchmarks. Prints, beside a baseline measured in the same run:
//   1. frame -> verdict latency of the scan pipeline (decode + verify + status
//      lookup + decide + journal commit) on rendered 1280x720 lane frames, vs
//      bare ZXing ReadBarcodes on the same frames (target: <= 1.2x);
//   2. checkpointd's peak RSS (VmHWM from /proc) running a sim lane against an
//      N-entry status list (default 10 million; target < 64 MiB), with its frame ->
//      verdict times (the `frame_ms` of each decision log line), dropped frames and
//      CPU time, as the board has it and with the frame-difference gate off or the
//      viewfinder on;
//   3. checkpointd's CPU time over an empty lane (nobody walks up) for IDLE_S
//      seconds of camera time (default 60; 0 skips), gate and viewfinder on and off.
// Usage: bench_daemon [N] [IDLE_S]
// The list is generated the way tests/bench/status does it (sorted ids that look
// random, streamed twice), so the sizes compare. Numbers only; nothing asserts.
#include "src/cli/args.hpp"
#include "drivers/camera/frame_gate.hpp"
#include "firmware/checkpointd/scan_pipeline.hpp"
#include "tests/bench/list_gen.hpp"
#include "drivers/camera/camera.hpp"
#include "src/common/time.hpp"
#include "src/pass/issuer.hpp"
#include "src/status/list_format.hpp"
#include "src/status/store.hpp"
#include "tests/bench/bench.hpp"

#include <ZXing/ReadBarcode.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <map>
#include <sstream>
#include <thread>

extern char** environ;

using namespace cp;
namespace fs = std::filesystem;

namespace {

double secs_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
double us_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::micro>(b - a).count();
}

using bench::splitmix;
// Entry i of n, the same synthetic list as tests/bench/status.
status::ListEntry gen(std::uint64_t i, std::uint64_t n) { return bench::gen_entry(i, n); }
// The people of the lane carry the ids of these entries (all green).
std::uint64_t person_entry(std::uint64_t k, std::uint64_t n) {
    for (std::uint64_t i = (k * 7919 + 11) % n;; i = (i + 1) % n) {
        if (gen(i, n).op == status::Op::green) return i;
    }
}

void write_list(const fs::path& path, std::uint64_t n, std::int64_t created_at, const crypto::PrivateKey& key,
                const Bytes& kid) {
    status::ListHeader h;
    h.version = 1;
    h.created_at = created_at;
    h.reasons = {"", "isolation", "close-contact"};
    h.entry_count = n;
    constexpr std::size_t kBatch = 65536;
    std::vector<std::uint8_t> buf(kBatch * status::kRecordSize);
    auto each_batch = [&](auto&& sink) {
        for (std::uint64_t i = 0; i < n;) {
            std::size_t k = 0;
            for (; k < kBatch && i < n; ++k, ++i) status::encode_record(gen(i, n), buf.data() + k * status::kRecordSize);
            sink(ByteView(buf.data(), k * status::kRecordSize));
        }
    };
    status::EntriesDigest digest;
    each_batch([&](ByteView b) { digest.update(b); });
    h.entries_sha256 = digest.finish();
    auto prefix = status::signed_prefix(h, key, kid);
    if (!prefix) std::abort();
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (!out) std::abort();
    std::fwrite(prefix->data(), 1, prefix->size(), out);
    each_batch([&](ByteView b) { std::fwrite(b.data(), 1, b.size(), out); });
    if (std::fclose(out) != 0) std::abort();
}

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) {
        std::fprintf(stderr, "%s: %s\n", what, r.error().describe().c_str());
        std::exit(1);
    }
    return std::move(r).value();
}

// A field of /proc/PID/status in KiB ("VmHWM", "RssAnon", "RssFile"), -1 when gone.
long proc_kib(pid_t pid, const char* field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    const std::string key = std::string(field) + ":";
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key, 0) == 0) return std::strtol(line.c_str() + key.size(), nullptr, 10);
    }
    return -1;
}

// The value of " key=" in a log line, -1 when absent.
long log_field(const std::string& line, const std::string& key) {
    const auto at = line.find(" " + key + "=");
    if (at == std::string::npos) return -1;
    return std::strtol(line.c_str() + at + key.size() + 2, nullptr, 10);
}

// CPU seconds (utime + stime) of each named thread of PID, added into `out` as the
// largest value seen per thread id; threads that ended keep their last sample.
void sample_threads(pid_t pid, std::map<std::string, std::map<long, double>>& out) {
    static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(e.path() / "stat");
        std::string line;
        if (!std::getline(in, line)) continue;
        const auto open = line.find('('), close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        const std::string comm = line.substr(open + 1, close - open - 1);
        std::istringstream rest(line.substr(close + 2));
        std::string field;
        double ut = 0, st = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14, 15: utime, stime
            if (i == 14) ut = std::strtod(field.c_str(), nullptr);
            if (i == 15) st = std::strtod(field.c_str(), nullptr);
        }
        double& v = out[comm][std::strtol(e.path().filename().c_str(), nullptr, 10)];
        v = std::max(v, (ut + st) / tick);
    }
}

double cpu_seconds(const struct rusage& ru) {
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t n = 10'000'000ULL;
    int idle_s = 60;
    CLI::App app{"the lane daemon's scan pipeline and idle cost (docs/benchmarks.md)", "bench_daemon"};
    cp::cli::configure(app);
    cp::cli::add_int(&app, "N", n, 1, 1'000'000'000'000LL, "status list entries")->default_str("10000000");
    cp::cli::add_int(&app, "IDLE_S", idle_s, 1, 86400, "seconds of idle lane measured")->default_str("60");
    if (auto rc = cp::cli::parse(app, argc, argv)) return *rc;
    const int frames_per_person = 3, people = 20;
    fs::path dir = fs::temp_directory_path() / ("cp-bench-daemon-" + std::to_string(::getpid()));
    fs::create_directories(dir / "trust");
    std::printf("checkpointd benchmark, status list of %llu entries, in %s\n", static_cast<unsigned long long>(n),
                dir.c_str());
    const std::int64_t now_s = wall_now_ms() / 1000;

    // Keys: a pass issuer (trusted by the lane) and a list signer.
    auto issuer = must(crypto::PrivateKey::generate_p256(), "keygen");
    auto issuer_der = must(issuer.self_signed_certificate("bench issuer", now_s - 86400, 3650), "cert");
    const Bytes issuer_kid = crypto::kid_of(issuer_der);
    {
        std::ofstream(dir / "trust" / "issuer.crt") << crypto::certificate_pem(issuer_der);
    }
    auto signer = must(crypto::PrivateKey::generate_p256(), "keygen");
    auto signer_der = must(signer.self_signed_certificate("bench list signer", now_s - 86400, 3650), "cert");
    crypto::TrustStore list_trust;
    if (!list_trust.add_pem_or_der(signer_der)) return 1;

    // The list: generate, import (in a child, as the CLI or sync client would).
    const fs::path list = dir / "list.cpsl", db = dir / "status.db";
    auto t0 = std::chrono::steady_clock::now();
    write_list(list, n, now_s - 600, signer, crypto::kid_of(signer_der));
    std::printf("%-44s %8.2f s  (%.1f MB)\n", "generate signed list file", secs_since(t0),
                static_cast<double>(fs::file_size(list)) / 1e6);
    t0 = std::chrono::steady_clock::now();
    pid_t imp = ::fork();
    if (imp == 0) {
        auto store = status::open_sqlite_status_list(db.string());
        if (!store) ::_exit(2);
        ::_exit((*store)->import_file(list.string(), list_trust).ok() ? 0 : 3);
    }
    int st = 0;
    ::waitpid(imp, &st, 0);
    std::printf("%-44s %8.2f s  exit %d  db %.1f MB\n", "import", secs_since(t0), WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                static_cast<double>(fs::file_size(db)) / 1e6);
    fs::remove(list);

    // Passes for the lane's people, with ids from the list.
    lane::LaneScript script;
    script.lead_frames = 0;
    for (int k = 0; k < people; ++k) {
        pass::Pass p;
        p.issuer = "CN-HL-DQ";
        p.issued_at = now_s - 86400;
        p.expires_at = now_s + 365 * 86400;
        p.id = gen(person_entry(static_cast<std::uint64_t>(k), n), n).id;
        p.kind = pass::Kind::resident;
        p.name = "张*明";
        p.grid = "ranghulu.xinghua.07";
        lane::Person person;
        person.qr = must(pass::issue_cp1(p, issuer, issuer_kid), "issue");
        person.temperature_c = 36.6;
        person.arrive_frames = 0;
        person.hold_frames = frames_per_person;
        person.leave_frames = 0;
        person.gap_frames = 0;
        script.people.push_back(person);
    }

    // ---- 1. latency -------------------------------------------------------------
    std::vector<camera::Frame> frames;
    for (std::int64_t f = 0; f < script.total_frames(); ++f) frames.push_back(camera::render_lane_frame(script, f, 1280, 720, 1));
    auto trust = must(crypto::TrustStore::load((dir / "trust").string()), "trust");
    pass::PassVerifier verifier(trust);
    auto store = must(status::open_sqlite_status_list(db.string()), "status open");
    journal::JournalOptions jo;
    jo.device_id = "bench";
    jo.disk_floor_bytes = 0;
    auto journal = must(journal::ScanJournal::open((dir / "journal.db").string(), jo), "journal");
    daemon::PipelineOptions po;
    po.policy.temperature_required = false;  // the sensor's time is not CPU; this measures the chain
    decode::DecoderOptions dopt;
    dopt.budget_ms = 15;  // as checkpointd
    dopt.stop_at_first = true;

    std::vector<double> zx, total, dec, eval, commit, eval_hit, gate_us;
    camera::FrameGate gate;  // the check checkpointd makes before each decode
    int zx_read = 0, green = 0;
    ZXing::DecodeHints hints;
    hints.setFormats(ZXing::BarcodeFormat::QRCode);
    for (int round = 0; round < 2; ++round) {  // round 0 warms caches and is not counted
        for (const auto& f : frames) {
            auto a = std::chrono::steady_clock::now();
            ZXing::ImageView iv(f.pixels.data(), f.width, f.height, ZXing::ImageFormat::BGR, f.stride);
            auto results = ZXing::ReadBarcodes(iv, hints);
            auto b = std::chrono::steady_clock::now();
            // A fresh pipeline per frame: every frame is a first sighting, as the
            // first frame of each person is on the lane (no hold-off, no repeat).
            daemon::ScanPipeline pipe(verifier, store.get(), nullptr, *journal, po, dopt);
            auto c = std::chrono::steady_clock::now();
            auto code = pipe.read_code(f.view(), monotonic_now_ms());
            auto d = std::chrono::steady_clock::now();
            daemon::ScanResult r;
            if (code && *code) r = pipe.evaluate(**code, daemon::LaneInput{}, wall_now_ms());
            auto e = std::chrono::steady_clock::now();
            if (code && *code) pipe.commit(r);
            auto g = std::chrono::steady_clock::now();
            // Not part of the total: the same text evaluated again by this pipeline
            // (a repeat sighting), which the verification cache answers.
            auto h0 = std::chrono::steady_clock::now();
            if (code && *code) (void)pipe.evaluate(**code, daemon::LaneInput{}, wall_now_ms());
            auto h1 = std::chrono::steady_clock::now();
            auto g0 = std::chrono::steady_clock::now();
            (void)gate.should_decode(f, monotonic_now_ms(), false);
            auto g1 = std::chrono::steady_clock::now();
            if (round == 0) continue;
            gate_us.push_back(us_between(g0, g1));
            if (code && *code) eval_hit.push_back(us_between(h0, h1));
            zx.push_back(us_between(a, b));
            zx_read += results.empty() ? 0 : 1;
            dec.push_back(us_between(c, d));
            eval.push_back(us_between(d, e));
            commit.push_back(us_between(e, g));
            total.push_back(us_between(c, g));
            green += (code && *code && r.journaled && r.verdict == decision::Verdict::green) ? 1 : 0;
        }
    }
    auto zs = bench::summarize(zx), ts = bench::summarize(total);
    std::printf("\nframe -> verdict, %zu frames 1280x720 BGR (%d people x %d frames)\n", frames.size(), people,
                frames_per_person);
    bench::print_row("bare ZXing ReadBarcodes (QR)", zs);
    bench::print_row("pipeline: decode (QrDecoder)", bench::summarize(dec));
    bench::print_row("pipeline: verify + lookup + decide", bench::summarize(eval));
    bench::print_row("pipeline: journal commit (fsync)", bench::summarize(commit));
    bench::print_row("pipeline: total frame -> verdict", ts);
    bench::print_row("(repeat sighting: verify from cache + lookup + decide)", bench::summarize(eval_hit));
    bench::print_row("(frame-difference gate check, before each decode)", bench::summarize(gate_us));
    std::printf("read by ZXing %d/%zu, GREEN verdicts journaled %d/%zu\n", zx_read, zx.size(), green, total.size());
    std::printf("ratio pipeline/ZXing: median %.2fx, mean %.2fx (target <= 1.2x)\n", ts.median_us / zs.median_us,
                ts.mean_us / zs.mean_us);
    std::vector<double> no_io;
    for (std::size_t i = 0; i < total.size(); ++i) no_io.push_back(total[i] - commit[i]);
    auto ns = bench::summarize(no_io);
    std::printf("ratio without the journal's fsync: median %.2fx\n", ns.median_us / zs.median_us);
    journal.reset();
    store.reset();
    // The same frames as files, for a run with the file camera (what a device's
    // camera costs, without the sim renderer's float images).
    fs::create_directories(dir / "frames");
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const auto& f = frames[i];
        cv::Mat m(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.pixels.data()), static_cast<std::size_t>(f.stride));
        char name[32];
        std::snprintf(name, sizeof name, "f%04zu.png", i);
        cv::imwrite((dir / "frames" / name).string(), m);
    }
    frames.clear();
    frames.shrink_to_fit();

    // ---- 2. checkpointd peak RSS with the big list ------------------------------------
    fs::create_directories(dir / "data");
    nlohmann::json lane_json;
    lane_json["version"] = 1;
    lane_json["lead_frames"] = 5;
    for (std::size_t k = 0; k < script.people.size(); ++k) {
        lane_json["people"].push_back({{"qr", *script.people[k].qr}, {"temperature_c", 36.6}, {"hold_frames", 15},
                                       {"arrive_frames", 3}, {"leave_frames", 3}, {"gap_frames", 5}});
    }
    std::ofstream(dir / "lane.json") << lane_json.dump();
    std::ofstream(dir / "checkpointd.conf")
        << "[device]\nid = bench\n[paths]\ndata_dir = " << (dir / "data").string()
        << "\njournal = " << (dir / "data" / "journal.db").string() << "\nstatus_db = " << db.string()
        << "\ntrust_dir = " << (dir / "trust").string() << "\nscreen_dir = " << (dir / "screens").string()
        << "\n[input]\nbackend = sim\n[log]\nlevel = warn\n";
    const fs::path exe = fs::canonical(fs::path(argv[0])).parent_path().parent_path() / "bin" / "checkpointd";
    const fs::path board = fs::path(CHECKPOINT_SOURCE_DIR) / "board" / "host-sim" / "board.conf";
    auto run_daemon = [&](const char* title, const std::string& extra_config, const fs::path& lane_file) {
        fs::remove_all(dir / "data");
        fs::create_directories(dir / "data");
        std::ofstream(dir / "checkpointd.conf")
            << "[device]\nid = bench\n[paths]\ndata_dir = " << (dir / "data").string()
            << "\njournal = " << (dir / "data" / "journal.db").string() << "\nstatus_db = " << db.string()
            << "\ntrust_dir = " << (dir / "trust").string() << "\nscreen_dir = " << (dir / "screens").string()
            << "\n[input]\nbackend = sim\n[log]\nlevel = info\n" << extra_config;
        std::vector<std::string> args{exe.string(), "--config", (dir / "checkpointd.conf").string(), "--board",
                                      board.string(), "--json", "--exit-when-done"};
        if (!lane_file.empty()) args.insert(args.end(), {"--lane", lane_file.string()});
        std::vector<char*> cargs;
        for (auto& a : args) cargs.push_back(a.data());
        cargs.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, (dir / "decisions.jsonl").c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, (dir / "log.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        pid_t pid = -1;
        auto t1 = std::chrono::steady_clock::now();
        if (posix_spawn(&pid, exe.c_str(), &fa, nullptr, cargs.data(), environ) != 0) std::exit(1);
        posix_spawn_file_actions_destroy(&fa);
        long hwm = -1, anon = -1, file = -1;
        int status = 0;
        struct rusage ru {};
        std::map<std::string, std::map<long, double>> threads;
        for (;;) {
            sample_threads(pid, threads);
            hwm = std::max(hwm, proc_kib(pid, "VmHWM"));
            anon = std::max(anon, proc_kib(pid, "RssAnon"));
            file = std::max(file, proc_kib(pid, "RssFile"));
            if (::wait4(pid, &status, WNOHANG, &ru) == pid) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::ifstream dec_in(dir / "decisions.jsonl");
        int lines = 0, greens = 0;
        for (std::string l; std::getline(dec_in, l); ++lines) greens += l.find("\"verdict\":\"GREEN\"") != std::string::npos;
        std::printf("\ncheckpointd, %s, %llu-entry list: %d decisions (%d GREEN) in %.1f s, exit %d\n", title,
                    static_cast<unsigned long long>(n), lines, greens, secs_since(t1),
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        // VmHWM is the kernel's peak; RssAnon/RssFile peaks are sampled every 20 ms.
        // (wait4's ru_maxrss is no use here: posix_spawn's child starts in this
        // process's memory, which held the rendered frames.)
        std::vector<double> frame_us;
        long dropped = -1, unchanged = -1, decoded = -1;
        std::ifstream log_in(dir / "log.txt");
        for (std::string l; std::getline(log_in, l);) {
            if (l.find(" msg=decision ") != std::string::npos && log_field(l, "frame_ms") >= 0)
                frame_us.push_back(static_cast<double>(log_field(l, "frame_ms")) * 1000.0);
            if (l.find(" msg=stopped ") != std::string::npos) {
                dropped = log_field(l, "frames_dropped");
                unchanged = log_field(l, "frames_unchanged");
                decoded = log_field(l, "frames_decoded");
            }
        }
        if (!frame_us.empty()) bench::print_row("  frame -> verdict (capture to decision line)", bench::summarize(frame_us));
        std::printf("  frames: %ld dropped, %ld decoded, %ld unchanged (not decoded); CPU %.2f s user+sys\n", dropped,
                    decoded, unchanged, cpu_seconds(ru));
        // Sampled every 20 ms: the last 20 ms of a thread may be missing.
        std::printf("  CPU by thread (s):");
        for (const auto& [name, tids] : threads) {
            double sum = 0;
            for (const auto& [tid, v] : tids) sum += v;
            if (sum >= 0.01) std::printf(" %s %.2f", name.c_str(), sum);
        }
        std::printf("\n");
        std::printf("%-44s %8.1f MiB  target < 64 MiB\n", "  peak RSS (VmHWM)", static_cast<double>(hwm) / 1024.0);
        std::printf("%-44s %8.1f MiB private (RssAnon) + %.1f MiB mapped files, libraries (RssFile)\n",
                    "  of which, sampled peaks", static_cast<double>(anon) / 1024.0, static_cast<double>(file) / 1024.0);
    };
    run_daemon("file camera (20 people, 1280x720 PNG frames), no screen, no thermometer",
               "[camera]\nbackend = file\ndevice = " + (dir / "frames").string() +
                   "\n[thermometer]\nbackend = none\n[policy]\ntemperature_required = false\n[display]\nbackend = sim\n",
               fs::path());
    // The same frames through the frame-difference gate off and the viewfinder on
    // (sim screen: the preview is built, not written out). The file camera keeps
    // its 30 fps, so frame -> verdict is the daemon's, not a simulator's backlog.
    const std::string file_cam = "[camera]\nbackend = file\ndevice = " + (dir / "frames").string();
    const std::string file_rest = "\n[thermometer]\nbackend = none\n[policy]\ntemperature_required = false\n";
    run_daemon("file camera as above, no frame-difference gate", file_cam + "\nmotion_gate = false" + file_rest +
               "[display]\nbackend = sim\n", fs::path());
    run_daemon("file camera as above, viewfinder at 10 fps", file_cam + file_rest +
               "[display]\nbackend = sim\npreview_fps = 10\n", fs::path());
    run_daemon("file camera as above, viewfinder at 10 fps, no gate", file_cam + "\nmotion_gate = false" + file_rest +
               "[display]\nbackend = sim\npreview_fps = 10\n", fs::path());
    const fs::path lane = dir / "lane.json";
    run_daemon("host-sim board (sim camera rendering 1280x720, sim thermometer, PNG screen)", "", lane);
    run_daemon("host-sim board, no frame-difference gate", "[camera]\nmotion_gate = false\n", lane);
    run_daemon("host-sim board with the viewfinder at 10 fps (PNG screen)", "[display]\npreview_fps = 10\n", lane);
    run_daemon("host-sim board, viewfinder at 10 fps, no frame-difference gate",
               "[camera]\nmotion_gate = false\n[display]\npreview_fps = 10\n", lane);

    // ---- 3. idle CPU over an empty lane -------------------------------------------
    if (idle_s > 0) {
        const fs::path empty = dir / "empty-lane.json";
        std::ofstream(empty) << "{\"version\":1,\"lead_frames\":" << idle_s * 30 << ",\"people\":[]}";
        const std::string secs = std::to_string(idle_s) + " s";
        run_daemon(("empty lane " + secs + " (30 fps), gate on (as the board has it)").c_str(), "", empty);
        run_daemon(("empty lane " + secs + ", no frame-difference gate").c_str(), "[camera]\nmotion_gate = false\n", empty);
        run_daemon(("empty lane " + secs + ", viewfinder at 10 fps, gate on").c_str(), "[display]\npreview_fps = 10\n", empty);
        run_daemon(("empty lane " + secs + ", viewfinder at 10 fps, no gate").c_str(),
                   "[camera]\nmotion_gate = false\n[display]\npreview_fps = 10\n", empty);
    }
    std::error_code ec;
    fs::remove_all(dir, ec);
    return 0;
}
