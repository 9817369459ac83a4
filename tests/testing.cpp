#include "tests/testing.hpp"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace cp::testing {

TempDir::TempDir() {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
        fs::path p = fs::temp_directory_path() / ("cp-test-" + std::to_string(rd()));
        std::error_code ec;
        if (fs::create_directory(p, ec)) {
            path_ = p;
            return;
        }
    }
    throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

fs::path vendored_data(const std::string& sub) {
    return fs::path(CHECKPOINT_SOURCE_DIR) / "tests" / "data" / sub;
}

std::optional<fs::path> shared_data(const std::string& sub) {
    fs::path base;
    if (const char* env = std::getenv("CHECKPOINT_SHARED_DATA"); env && *env) {
        base = env;
    } else {
        base = fs::path(CHECKPOINT_SOURCE_DIR) / ".." / "shared" / "data";
    }
    fs::path p = sub.empty() ? base : base / sub;
    std::error_code ec;
    if (!fs::is_directory(p, ec)) return std::nullopt;
    return fs::canonical(p, ec);
}

fs::path require_shared_data(const std::string& sub) {
    auto p = shared_data(sub);
    if (!p) {
        std::fprintf(stderr, "SKIP: shared test data '%s' not found (set CHECKPOINT_SHARED_DATA)\n",
                     sub.c_str());
        std::exit(kSkip);
    }
    return *p;
}

fs::path bin_dir() {
    if (const char* env = std::getenv("CHECKPOINT_BIN"); env && *env) return env;
    return fs::path(CHECKPOINT_BINARY_DIR) / "bin";
}

std::vector<std::string> argv_for(const std::string& exe) {
    std::vector<std::string> argv;
    if (const char* env = std::getenv("CHECKPOINT_EMULATOR"); env && *env) {
        std::istringstream words(env);
        for (std::string w; words >> w;) argv.push_back(w);
    }
    argv.push_back(exe);
    return argv;
}

bool emulated() {
    const char* env = std::getenv("CHECKPOINT_EMULATOR");
    return env && *env;
}

std::string command_for(const std::string& exe) {
    std::string cmd;
    for (const auto& word : argv_for(exe)) {
        if (!cmd.empty()) cmd += ' ';
        cmd += '\'';
        for (char c : word) {
            if (c == '\'') cmd += "'\\''";
            else cmd += c;
        }
        cmd += '\'';
    }
    return cmd;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

}  // namespace cp::testing
