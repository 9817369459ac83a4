// `checkpoint verify (--text QRTEXT | --image FILE) --trust PATH [--at ISO8601] [--skew SECONDS]`
// Prints one JSON object: text, format, verified, signature, expired, reason, kid, pass.
// Exit 0 verified, 1 rejected, 2 usage or file error.
#include "src/common/time.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/pass/verifier.hpp"
#include "tools/checkpoint/commands.hpp"

#ifdef CHECKPOINT_HAVE_DECODE
#include "src/imagefile/image_file.hpp"
#endif

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace cp::cli {

namespace {

int usage_error(const char* msg) {
    std::fprintf(stderr, "checkpoint verify: %s\nrun 'checkpoint verify --help' for the usage\n", msg);
    return kExitUsage;
}

struct VerifyOptions {
    std::optional<std::string> text, image, trust, at;
    std::int64_t skew = 300;
};

void print(const nlohmann::json& j) {
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

int run_verify(VerifyOptions opt) {
    auto& [text, image, trust, at, skew] = opt;
    if (text.has_value() == image.has_value()) return usage_error("give exactly one of --text and --image");
    if (!trust) return usage_error("--trust is required");
    std::int64_t now = wall_now_ms() / 1000;
    if (at) {
        auto t = parse_iso8601(*at);
        if (!t) return usage_error("--at is not an ISO 8601 time (e.g. 2021-06-09T15:15:36+02:00, +0200 or Z)");
        now = *t;
    }
    auto store = crypto::TrustStore::load(*trust);
    if (!store) {
        std::fprintf(stderr, "checkpoint verify: trust store: %s\n", store.error().describe().c_str());
        return 2;
    }

    nlohmann::json out;
    if (image) {
#ifdef CHECKPOINT_HAVE_DECODE
        auto codes = imagefile::decode_file(*image);
        if (!codes) {
            std::fprintf(stderr, "checkpoint verify: %s\n", codes.error().describe().c_str());
            return 2;
        }
        // Several codes in one picture: prefer one that looks like a pass.
        for (const auto& c : *codes) {
            if (pass::split_prefix(c.text)) {
                text = c.text;
                break;
            }
        }
        if (!text && !codes->empty()) text = codes->front().text;
        if (!text) {
            out = {{"text", nullptr}, {"format", nullptr}, {"verified", false}, {"signature", "unchecked"},
                   {"expired", nullptr}, {"reason", "no-code"}, {"kid", nullptr}, {"pass", nullptr}};
            print(out);
            return 1;
        }
#else
        return usage_error("--image needs the decode module, which this build lacks");
#endif
    }

    pass::PassVerifier verifier(*store, pass::VerifierOptions{skew});
    pass::Verification v = verifier.verify(*text, now);
    out["text"] = *text;
    out["format"] = v.format ? nlohmann::json(pass::to_string(*v.format)) : nlohmann::json(nullptr);
    out["verified"] = v.verified();
    out["signature"] = pass::to_string(v.signature);
    out["expired"] = v.expired ? nlohmann::json(*v.expired) : nlohmann::json(nullptr);
    out["reason"] = v.reason ? nlohmann::json(*v.reason) : nlohmann::json(nullptr);
    out["kid"] = v.kid.empty() ? nlohmann::json(nullptr) : nlohmann::json(to_hex(v.kid));
    if (v.pass) {
        nlohmann::json claims = nlohmann::json::parse(v.pass->claims_json, nullptr, false);
        out["pass"] = claims.is_discarded() ? nlohmann::json(nullptr) : claims;
    } else {
        out["pass"] = nullptr;
    }
    if (!v.verified() && !v.detail.empty()) std::fprintf(stderr, "checkpoint verify: %s: %s\n", v.reason->c_str(), v.detail.c_str());
    print(out);
    return v.verified() ? 0 : 1;
}

}  // namespace

void add_verify(CLI::App& app, Action& action) {
    auto opt = std::make_shared<VerifyOptions>();
    CLI::App* c = app.add_subcommand("verify",
                                     "verify a pass QR text or image against a trust store; prints one JSON object "
                                     "(text, format, verified, signature, expired, reason, kid, pass). Exit 0 "
                                     "verified, 1 rejected, 2 usage or file error");
    c->add_option("--text", opt->text, "the QR text")->type_name("QRTEXT");
    c->add_option("--image", opt->image, "an image holding the QR code")->type_name("FILE");
    c->add_option("--trust", opt->trust, "issuer certificate or folder of them")->type_name("PATH");
    c->add_option("--at", opt->at, "the time to verify at, e.g. 2021-06-09T15:15:36+02:00, +0200 or Z (default: now)")
        ->type_name("ISO8601");
    cli::add_int(c, "--skew", opt->skew, 0, 86400, "clock tolerance in seconds")->type_name("SECONDS")->default_str("300");
    c->callback([opt, &action] { action = [opt] { return run_verify(*opt); }; });
}

}  // namespace cp::cli
