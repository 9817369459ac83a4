// checkpoint upstream: the reference command-centre server and its operator commands.
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#ifdef CHECKPOINT_WITH_CONSOLE
#include "tools/upstream/console/cli.hpp"
#endif
#include "tools/upstream/lists.hpp"
#include "tools/upstream/server.hpp"
#include "tools/upstream/store.hpp"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

using namespace cp;
using namespace cp::upstream;

namespace {

constexpr const char* kUsage = R"(usage: upstream COMMAND --db FILE [options]

  serve      --cert PEM --key PEM --client-ca PEM [--host 127.0.0.1] [--port 8443]
             [--web-port N] [--web-host 127.0.0.1] [--duration-s N]
             HTTPS with mutual TLS for devices; with --web-port, a read-only dashboard
             on plain HTTP bound to loopback. Runs until SIGTERM/SIGINT (or N seconds).
             [--console-port N [--console-host H] [--console-cert PEM --console-key PEM]
              [--signing-key PEM --signing-cert PEM [--publish-interval-s 60]]]
             the operators' console on its own HTTPS listener (docs/command-centre.md);
             with a signing key it publishes changed statuses every interval.
             [--issuer-key PEM --issuer-cert PEM --id-secret FILE [--public-url URL]
              [--sms-outbox DIR | --sms-gateway URL [--sms-template T]] [--traveller-retention-days 28]]
             the public traveller registration on the console (docs/residents-and-travellers.md).
  enroll     --cert DEVICE.crt [--unrevoke]
             enroll (or re-key) the device named by the CN; a revoked device stays
             revoked unless --unrevoke lifts the revocation (logged)
  revoke     --device ID              refuse the device from now on
  devices                             list devices with last seen, list version, backlog
  set-status --pass HEX32 --status red|yellow|green [--reason TEXT]
  import     --csv FILE               pass_id,status,reason lines (header optional)
  publish    --signing-key PEM --signing-cert PEM [--force | --if-older-than S]
             sign the working statuses as the next list version (snapshot + delta).
             Refused when no status changed, unless --force (re-sign as is);
             --if-older-than S re-signs an unchanged list only when the newest
             version is older than S seconds (run it from cron well inside the
             devices' policy.max_list_age_s: an older list turns every lane YELLOW)
  trust-add  --cert ISSUER.crt        add a pass issuer certificate to the trust list
  trust-publish --signing-key PEM --signing-cert PEM
  scans      [--device ID] [--alerts] [--limit N]  newest first, JSON lines
  operator, areas, site, passes: console accounts and areas (upstream operator --help)

Exit status: 0 ok, 1 failed, 2 usage.
)";

struct Args {
    std::string command;
    std::map<std::string, std::string> opts;
    bool has(const std::string& k) const { return opts.count(k) != 0; }
    std::string get(const std::string& k, const std::string& def = {}) const {
        auto it = opts.find(k);
        return it == opts.end() ? def : it->second;
    }
};

const std::map<std::string, bool> kFlags = {  // option -> takes a value
    {"db", true},          {"cert", true},          {"key", true},
    {"client-ca", true},   {"host", true},          {"port", true},
    {"web-port", true},    {"web-host", true},      {"duration-s", true},
    {"device", true},      {"pass", true},          {"status", true},
    {"reason", true},      {"csv", true},           {"signing-key", true},
    {"signing-cert", true}, {"force", false},       {"alerts", false},
    {"limit", true},       {"unrevoke", false},     {"if-older-than", true},
    {"console-port", true}, {"console-host", true}, {"console-cert", true},
    {"console-key", true},  {"publish-interval-s", true},
    {"issuer-key", true},   {"issuer-cert", true},  {"id-secret", true},
    {"public-url", true},   {"sms-outbox", true},   {"sms-gateway", true},
    {"sms-template", true}, {"traveller-retention-days", true},
};

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "upstream: %s\n\n%s", msg.c_str(), kUsage);
    return 2;
}

int failed(const Error& e) {
    std::fprintf(stderr, "upstream: %s\n", e.describe().c_str());
    return 1;
}

std::optional<int> to_int(const std::string& s, int lo, int hi) {
    try {
        std::size_t n = 0;
        long v = std::stol(s, &n);
        if (n != s.size() || v < lo || v > hi) return std::nullopt;
        return static_cast<int>(v);
    } catch (...) {
        return std::nullopt;
    }
}

std::int64_t now_s() { return wall_now_ms() / 1000; }

bool valid_pass_id(const std::string& s) {
    if (s.size() != 32) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool valid_reason(const std::string& s) {
    if (s.size() > 64) return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == ',') return false;
    return true;
}

// Parses pass_id,status,reason CSV; all-or-nothing, errors name the line.
Result<std::vector<StatusEntry>> parse_csv(const std::string& text) {
    std::vector<StatusEntry> out;
    std::size_t line_no = 0, pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (line_no == 1 && line.rfind("pass_id", 0) == 0) continue;  // header
        auto bad = [&](const char* what) {
            return fail(ErrorKind::invalid_input, "csv",
                        "line " + std::to_string(line_no) + ": " + what);
        };
        auto c1 = line.find(',');
        if (c1 == std::string::npos) return bad("expected pass_id,status,reason");
        auto c2 = line.find(',', c1 + 1);
        std::string id = line.substr(0, c1);
        std::string st = c2 == std::string::npos ? line.substr(c1 + 1) : line.substr(c1 + 1, c2 - c1 - 1);
        std::string reason = c2 == std::string::npos ? "" : line.substr(c2 + 1);
        for (auto& ch : id) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (!valid_pass_id(id)) return bad("pass_id must be 32 hex digits");
        auto status = parse_pass_status(st);
        if (!status) return bad("status must be red, yellow or green");
        if (!valid_reason(reason)) return bad("reason: at most 64 characters, no quotes or commas");
        out.push_back({id, *status, reason});
    }
    return out;
}

// The server's own certificate: every device refuses it once it expired, and a
// device whose clock is behind refuses one that is not yet valid for it.
void warn_own_certificate(const std::string& path) {
    auto pem = read_text_file(path);
    if (!pem) return;  // create() reports the missing file
    auto cert = crypto::Certificate::parse(as_bytes(*pem));
    if (!cert) return;
    const std::int64_t now = now_s();
    const std::int64_t left = cert->not_after() - now;
    if (left < 0) {
        log::error("upstream", "server certificate expired: every device will refuse the TLS handshake",
                   {{"cert", path}, {"not_after", format_iso8601(cert->not_after())}});
        std::fprintf(stderr, "upstream: WARNING: %s expired on %s: devices will refuse it; renew it\n", path.c_str(),
                     format_iso8601(cert->not_after()).c_str());
    } else if (left < 30 * 86400) {
        log::warn("upstream", "server certificate expires soon: renew it",
                  {{"cert", path}, {"not_after", format_iso8601(cert->not_after())}});
        std::fprintf(stderr, "upstream: WARNING: %s expires on %s (under 30 days): renew it\n", path.c_str(),
                     format_iso8601(cert->not_after()).c_str());
    } else if (cert->not_before() > now) {
        log::warn("upstream", "server certificate not valid yet", {{"cert", path}});
    }
}

int cmd_serve(const Args& a, UpstreamStore& store) {
    ServerConfig cfg;
    cfg.cert_path = a.get("cert");
    cfg.key_path = a.get("key");
    cfg.client_ca_path = a.get("client-ca");
    if (cfg.cert_path.empty() || cfg.key_path.empty() || cfg.client_ca_path.empty())
        return usage_error("serve needs --cert, --key and --client-ca");
    cfg.host = a.get("host", "127.0.0.1");
    auto port = to_int(a.get("port", "8443"), 0, 65535);
    auto web_port = to_int(a.get("web-port", "-1"), -1, 65535);
    auto duration = to_int(a.get("duration-s", "0"), 0, 30 * 24 * 3600);
    if (!port || !web_port || !duration) return usage_error("bad --port, --web-port or --duration-s");
    cfg.port = *port;
    cfg.web_port = *web_port;
    cfg.web_host = a.get("web-host", "127.0.0.1");

    // Block the stop signals before any thread starts so that only sigtimedwait sees them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    warn_own_certificate(cfg.cert_path);
    auto server = UpstreamServer::create(cfg, store);
    if (!server) return failed(server.error());
    auto st = (*server)->start();
    if (!st) return failed(st.error());
    std::printf("listening https://%s:%d", cfg.host.c_str(), (*server)->port());
    if ((*server)->web_port() > 0)
        std::printf(" dashboard http://%s:%d/", cfg.web_host.c_str(), (*server)->web_port());
#ifdef CHECKPOINT_WITH_CONSOLE
    std::unique_ptr<console::ConsoleRuntime> console_rt;
    if (a.has("console-port")) {
        auto rt = console::start_console(a.opts, a.get("db"), store);
        if (!rt) return failed(rt.error());
        console_rt = std::move(*rt);
        std::printf(" console https://%s:%d/", a.get("console-host", "127.0.0.1").c_str(), console_rt->port());
    }
#else
    if (a.has("console-port")) return usage_error("this upstream was built without the console (libsodium)");
#endif
    std::printf("\n");
    std::fflush(stdout);

    const std::int64_t deadline = *duration > 0 ? monotonic_now_ms() + *duration * 1000LL : 0;
    for (;;) {
        timespec ts{1, 0};
        int sig = sigtimedwait(&set, nullptr, &ts);
        if (sig == SIGTERM || sig == SIGINT) break;
        if (deadline && monotonic_now_ms() >= deadline) break;
    }
#ifdef CHECKPOINT_WITH_CONSOLE
    console_rt.reset();
#endif
    (*server)->stop();
    log::info("upstream", "stopped");
    return 0;
}

int cmd_scans(const Args& a, UpstreamStore& store) {
    auto limit = to_int(a.get("limit", "50"), 1, 100000);
    if (!limit) return usage_error("bad --limit");
    auto rows = store.scans(static_cast<std::size_t>(*limit), 0, a.has("alerts"), a.get("device"));
    if (!rows) return failed(rows.error());
    for (const auto& r : *rows) {
        const Scan& s = r.scan;
        std::string temp = s.temperature_c ? std::to_string(*s.temperature_c) : "null";
        std::printf(
            "{\"device_id\":\"%s\",\"seq\":%lld,\"scan_id\":\"%s\",\"pass_id\":\"%s\","
            "\"verdict\":\"%s\",\"reason\":\"%s\",\"temperature_c\":%s,\"time\":\"%s\","
            "\"lane\":\"%s\"}\n",
            s.device_id.c_str(), static_cast<long long>(s.seq), s.scan_id.c_str(),
            s.pass_id.c_str(), s.verdict.c_str(), s.reason.c_str(), temp.c_str(),
            format_iso8601(s.time).c_str(), s.lane.c_str());
    }
    return 0;
}

int cmd_devices(UpstreamStore& store) {
    auto devs = store.devices();
    if (!devs) return failed(devs.error());
    std::printf("%-20s %-8s %-20s %6s %8s %8s %s\n", "device", "state", "last_seen", "list",
                "backlog", "acked", "fingerprint");
    for (const auto& d : *devs) {
        std::printf("%-20s %-8s %-20s %6lld %8lld %8lld %.16s\n", d.device.id.c_str(),
                    d.device.revoked ? "revoked" : "enrolled",
                    d.last_seen ? format_iso8601(d.last_seen).c_str() : "never",
                    static_cast<long long>(d.last_heartbeat ? d.last_heartbeat->list_version : 0),
                    static_cast<long long>(d.last_heartbeat ? d.last_heartbeat->backlog : 0),
                    static_cast<long long>(d.device.acked_seq), d.device.fingerprint.c_str());
    }
    return 0;
}

int run(const Args& a) {
    if (!a.has("db")) return usage_error("--db FILE is required");
    auto store_r = open_sqlite_store(a.get("db"));
    if (!store_r) return failed(store_r.error());
    UpstreamStore& store = **store_r;
    const std::string& c = a.command;

    if (c == "serve") return cmd_serve(a, store);
    if (c == "enroll") {
        if (!a.has("cert")) return usage_error("enroll needs --cert");
        auto pem = read_text_file(a.get("cert"));
        if (!pem) return failed(pem.error());
        auto id = certificate_identity(*pem);
        if (!id) return failed(id.error());
        auto known = store.find_device(id->cn);
        if (!known) return failed(known.error());
        const bool revoked = *known && (*known)->revoked;
        if (revoked && !a.has("unrevoke")) {
            // A re-enroll never lifts a revocation: that is an explicit, logged decision.
            log::warn("upstream", "enroll refused: device is revoked", {{"device", id->cn}});
            std::fprintf(stderr,
                         "upstream: device %s is revoked; enrolling it again does not lift the revocation.\n"
                         "  To lift it (logged): upstream enroll --cert %s --unrevoke\n",
                         id->cn.c_str(), a.get("cert").c_str());
            return 1;
        }
        auto st = store.enroll_device(id->cn, id->fingerprint, now_s());
        if (!st) return failed(st.error());
        if (revoked) {
            auto u = store.unrevoke_device(id->cn, now_s());
            if (!u) return failed(u.error());
            log::warn("upstream", "revocation lifted by the operator",
                      {{"device", id->cn}, {"fingerprint", id->fingerprint}});
            std::printf("revocation of %s lifted\n", id->cn.c_str());
        }
        std::printf("enrolled %s sha256:%s\n", id->cn.c_str(), id->fingerprint.c_str());
        return 0;
    }
    if (c == "revoke") {
        if (!a.has("device")) return usage_error("revoke needs --device");
        auto st = store.revoke_device(a.get("device"), now_s());
        if (!st) return failed(st.error());
        std::printf("revoked %s\n", a.get("device").c_str());
        return 0;
    }
    if (c == "devices") return cmd_devices(store);
    if (c == "set-status") {
        std::string id = a.get("pass");
        auto status = parse_pass_status(a.get("status"));
        std::string reason = a.get("reason");
        if (!valid_pass_id(id)) return usage_error("--pass must be 32 lower-case hex digits");
        if (!status) return usage_error("--status must be red, yellow or green");
        if (!valid_reason(reason)) return usage_error("--reason: at most 64 characters, no quotes or commas");
        auto st = store.set_statuses({{id, *status, reason}}, now_s());
        if (!st) return failed(st.error());
        std::printf("%s %s (publish to send it to the devices)\n", id.c_str(), to_string(*status));
        return 0;
    }
    if (c == "import") {
        if (!a.has("csv")) return usage_error("import needs --csv");
        auto text = read_text_file(a.get("csv"));
        if (!text) return failed(text.error());
        auto entries = parse_csv(*text);
        if (!entries) return failed(entries.error());
        auto st = store.set_statuses(*entries, now_s());
        if (!st) return failed(st.error());
        std::printf("imported %zu statuses (publish to send them to the devices)\n", entries->size());
        return 0;
    }
    if (c == "publish" || c == "trust-publish") {
        if (!a.has("signing-key") || !a.has("signing-cert"))
            return usage_error(c + " needs --signing-key and --signing-cert");
        auto signer = ListSigner::load(a.get("signing-key"), a.get("signing-cert"));
        if (!signer) return failed(signer.error());
        if (c == "trust-publish") {
            auto t = publish_trust(store, *signer, now_s());
            if (!t) return failed(t.error());
            std::printf("trust list version %lld (%zu bytes)\n", static_cast<long long>(t->version),
                        t->signed_list.size());
            return 0;
        }
        bool force = a.has("force");
        if (a.has("if-older-than")) {
            auto max_age = to_int(a.get("if-older-than"), 60, 30 * 86400);
            if (!max_age) return usage_error("--if-older-than must be 60..2592000 seconds");
            auto latest = store.latest_list_version();
            if (!latest) return failed(latest.error());
            std::optional<ListVersion> last;
            if (*latest > 0) {
                auto lv = store.list_version(*latest);
                if (!lv) return failed(lv.error());
                last = *lv;
            }
            if (last && now_s() - last->published_at < *max_age) {
                // Changed statuses still go out; an unchanged, young list stays as it is.
                auto v = publish_list(store, *signer, now_s(), false);
                if (!v && v.error().reason == "unchanged") {
                    std::printf("list version %lld is %lld s old: not re-signed\n",
                                static_cast<long long>(last->version),
                                static_cast<long long>(now_s() - last->published_at));
                    return 0;
                }
                if (!v) return failed(v.error());
                std::printf("list version %lld: %lld entries, %lld changes\n", static_cast<long long>(v->version),
                            static_cast<long long>(v->entries), static_cast<long long>(v->changes));
                return 0;
            }
            force = true;  // aging out: re-signed even when nothing changed
        }
        auto v = publish_list(store, *signer, now_s(), force);
        if (!v && v.error().reason == "unchanged") {
            std::fprintf(stderr,
                         "upstream: %s; --force signs it again as a new version (devices need a list younger "
                         "than their policy.max_list_age_s), or --if-older-than S does that only when due\n",
                         v.error().message.c_str());
            return 1;
        }
        if (!v) return failed(v.error());
        std::printf("list version %lld: %lld entries, %lld changes, snapshot %zu bytes, delta %zu bytes\n",
                    static_cast<long long>(v->version), static_cast<long long>(v->entries),
                    static_cast<long long>(v->changes), v->snapshot.size(), v->delta.size());
        return 0;
    }
    if (c == "trust-add") {
        if (!a.has("cert")) return usage_error("trust-add needs --cert");
        auto pem = read_text_file(a.get("cert"));
        if (!pem) return failed(pem.error());
        auto der = certificate_der(as_bytes(*pem));
        if (!der) return failed(der.error());
        auto fp = fingerprint(*der);
        auto st = store.add_issuer(fp, *der, now_s());
        if (!st) return failed(st.error());
        std::printf("issuer %s added (trust-publish to send it to the devices)\n", fp.c_str());
        return 0;
    }
    if (c == "scans") return cmd_scans(a, store);
    return usage_error("unknown command '" + c + "'");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
#ifdef CHECKPOINT_WITH_CONSOLE
    if (console::is_cli_command(argv[1])) {
        if (argc < 3 || std::string(argv[2]) == "--help") {
            std::fputs(console::kCliUsage, argc < 3 ? stderr : stdout);
            return argc < 3 ? 2 : 0;
        }
        return console::cli_main(argc, argv);
    }
#endif
    Args a;
    a.command = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0) return usage_error("unexpected argument '" + s + "'");
        std::string name = s.substr(2);
        auto it = kFlags.find(name);
        if (it == kFlags.end()) return usage_error("unknown option '" + s + "'");
        if (it->second) {
            if (i + 1 >= argc) return usage_error(s + " needs a value");
            a.opts[name] = argv[++i];
        } else {
            a.opts[name] = "1";
        }
    }
    return run(a);
}
