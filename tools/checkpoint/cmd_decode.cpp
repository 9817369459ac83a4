// `checkpoint decode FILE...`: one JSON line per image with the QR codes found,
// their corners (image pixels) and the decode time.
#include "src/imagefile/image_file.hpp"
#include "tools/checkpoint/commands.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace cp::cli {

namespace {

int run_decode(const std::vector<std::string>& args) {
    int rc = 0;
    for (const auto& path : args) {
        nlohmann::ordered_json line;
        line["file"] = path;
        const auto t0 = std::chrono::steady_clock::now();
        auto codes = imagefile::decode_file(path);
        const auto t1 = std::chrono::steady_clock::now();
        // Includes reading the file: what a user of the command waits for.
        line["ms"] = std::chrono::duration<double, std::milli>(t1 - t0).count();
        if (!codes) {
            line["error"] = codes.error().describe();
            line["codes"] = nlohmann::ordered_json::array();
            rc = 2;
        } else {
            auto arr = nlohmann::ordered_json::array();
            for (const auto& c : *codes) {
                auto pts = nlohmann::ordered_json::array();
                for (const auto& p : c.corners) {
                    pts.push_back(p.x);
                    pts.push_back(p.y);
                }
                // Invalid UTF-8 in a QR payload is replaced rather than aborting the dump.
                arr.push_back({{"text", c.text}, {"pts", pts}});
            }
            line["codes"] = arr;
        }
        std::printf("%s\n", line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    }
    return rc;
}

}  // namespace

void add_decode(CLI::App& app, Action& action) {
    auto files = std::make_shared<std::vector<std::string>>();
    CLI::App* c = app.add_subcommand(
        "decode",
        "decode QR codes in image files: one JSON line per image, the QR codes found (text, corners) and the "
        "time taken (a file whose name starts with '-': write it as ./-name)");
    c->add_option("FILE", *files, "image files")->required();
    c->callback([files, &action] { action = [files] { return run_decode(*files); }; });
}

}  // namespace cp::cli
