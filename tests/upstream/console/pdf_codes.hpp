// A PDF the console made, as the printed page is read: rendered by pdftoppm
// (poppler-utils) and every QR code on each page decoded by `checkpoint decode`.
#pragma once

#include "tests/testing.hpp"

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace cp::upstream::console::testing {

inline std::string run_command(const std::string& cmd, int* rc) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) throw std::runtime_error("popen " + cmd);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = ::pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

struct PdfPage {
    std::filesystem::path png;
    std::vector<std::string> codes;  // the texts of the QR codes read on it
};

// Renders `pdf` at `dpi` into `dir` and decodes each page with `checkpoint_bin`.
inline std::vector<PdfPage> read_pdf_codes(const std::string& pdf, const std::filesystem::path& dir,
                                           const std::string& checkpoint_bin, int dpi = 150) {
    std::filesystem::create_directories(dir);
    const auto file = dir / "doc.pdf";
    cp::testing::write_file(file, pdf);
    int rc = 0;
    const std::string err = run_command("pdftoppm -r " + std::to_string(dpi) + " -png '" + file.string() + "' '" +
                                            (dir / "page").string() + "' 2>&1",
                                        &rc);
    if (rc != 0) throw std::runtime_error("pdftoppm (poppler-utils) failed: " + err);
    std::vector<PdfPage> pages;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().rfind("page", 0) == 0) pages.push_back({e.path(), {}});
    std::sort(pages.begin(), pages.end(), [](const PdfPage& a, const PdfPage& b) { return a.png < b.png; });
    for (auto& p : pages) {
        const std::string out = run_command(checkpoint_bin + " decode '" + p.png.string() + "'", &rc);
        auto j = nlohmann::json::parse(out, nullptr, false);
        if (!j.is_object()) throw std::runtime_error("checkpoint decode: " + out);
        for (const auto& c : j["codes"]) p.codes.push_back(c["text"].get<std::string>());
    }
    return pages;
}

}  // namespace cp::upstream::console::testing
