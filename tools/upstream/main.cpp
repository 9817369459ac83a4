// checkpoint upstream: the reference command-centre server and its operator commands.
#include "src/cli/args.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#ifdef CHECKPOINT_WITH_CONSOLE
#include "tools/upstream/console/cli.hpp"
#endif
#include "tools/upstream/lists.hpp"
#include "tools/upstream/lists_export.hpp"
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

// The options of every subcommand; each subcommand registers the ones it takes.
struct Options {
    std::string db;
    std::string scan_retention_days;  // PostgreSQL: daily scan partitions kept (empty: all)
    ServerConfig server;
    int duration_s = 0;
    int web_port = -1;  // the console's read-only big screen on loopback (-1: off)
    std::string web_host = "127.0.0.1";
    std::string cert, device, pass, status, reason, csv, signing_key, signing_cert;
    bool force = false, alerts = false, unrevoke = false;
    int if_older_than = 0;  // 0: not given
    int limit = 50;
    int keep_deltas = kDefaultKeepDeltas;
    std::string export_dir;  // publish --export DIR
    int export_window = kDefaultExportWindow;
#ifdef CHECKPOINT_WITH_CONSOLE
    console::ConsoleOptions console;
#endif
};

int usage_error(const std::string& msg) {
    std::fprintf(stderr, "upstream: %s\nrun 'upstream --help' for the usage\n", msg.c_str());
    return cli::kExitUsage;
}

int failed(const Error& e) {
    std::fprintf(stderr, "upstream: %s\n", e.describe().c_str());
    return 1;
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
            return fail(ErrorKind::invalid_input, reason::csv,
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

int cmd_serve(const Options& a, UpstreamStore& store) {
    const ServerConfig& cfg = a.server;
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
#ifdef CHECKPOINT_WITH_CONSOLE
    std::unique_ptr<console::ConsoleRuntime> console_rt;
    if (a.console.enabled() || a.web_port >= 0) {
        console::ConsoleOptions co = a.console;
        co.wall_port = a.web_port;
        co.wall_host = a.web_host;
        auto rt = console::start_console(co, cfg, a.db, store);
        if (!rt) return failed(rt.error());
        console_rt = std::move(*rt);
        if (console_rt->port() > 0)
            std::printf(" console https://%s:%d/", a.console.host.c_str(), console_rt->port());
        if (console_rt->wall_port() > 0)
            std::printf(" big screen http://%s:%d/", a.web_host.c_str(), console_rt->wall_port());
    }
#else
    if (a.web_port >= 0) return usage_error("this upstream was built without the console (libsodium)");
#endif
    std::printf("\n");
    std::fflush(stdout);

    const std::int64_t deadline = a.duration_s > 0 ? monotonic_now_ms() + a.duration_s * 1000LL : 0;
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

int cmd_scans(const Options& a, UpstreamStore& store) {
    auto rows = store.scans(static_cast<std::size_t>(a.limit), 0, a.alerts, a.device);
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

int run(const std::string& c, const Options& a) {
    auto store_opts = store_options(a.scan_retention_days);
    if (!store_opts) return failed(store_opts.error());
    auto store_r = open_store(a.db, *store_opts);
    if (!store_r) return failed(store_r.error());
    UpstreamStore& store = **store_r;

    if (c == "serve") return cmd_serve(a, store);
    if (c == "enroll") {
        auto pem = read_text_file(a.cert);
        if (!pem) return failed(pem.error());
        auto id = certificate_identity(*pem);
        if (!id) return failed(id.error());
        auto known = store.find_device(id->cn);
        if (!known) return failed(known.error());
        const bool revoked = *known && (*known)->revoked;
        if (revoked && !a.unrevoke) {
            // A re-enroll never lifts a revocation: that is an explicit, logged decision.
            log::warn("upstream", "enroll refused: device is revoked", {{"device", id->cn}});
            std::fprintf(stderr,
                         "upstream: device %s is revoked; enrolling it again does not lift the revocation.\n"
                         "  To lift it (logged): upstream enroll --cert %s --unrevoke\n",
                         id->cn.c_str(), a.cert.c_str());
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
        auto st = store.revoke_device(a.device, now_s());
        if (!st) return failed(st.error());
        std::printf("revoked %s\n", a.device.c_str());
        return 0;
    }
    if (c == "devices") return cmd_devices(store);
    if (c == "set-status") {
        const std::string& id = a.pass;
        auto status = parse_pass_status(a.status);
        const std::string& reason = a.reason;
        if (!valid_pass_id(id)) return usage_error("--pass must be 32 lower-case hex digits");
        if (!status) return usage_error("--status must be red, yellow or green");
        if (!valid_reason(reason)) return usage_error("--reason: at most 64 characters, no quotes or commas");
        auto st = store.set_statuses({{id, *status, reason}}, now_s());
        if (!st) return failed(st.error());
        std::printf("%s %s (publish to send it to the devices)\n", id.c_str(), to_string(*status));
        return 0;
    }
    if (c == "import") {
        auto text = read_text_file(a.csv);
        if (!text) return failed(text.error());
        auto entries = parse_csv(*text);
        if (!entries) return failed(entries.error());
        auto st = store.set_statuses(*entries, now_s());
        if (!st) return failed(st.error());
        std::printf("imported %zu statuses (publish to send them to the devices)\n", entries->size());
        return 0;
    }
    if (c == "publish" && !a.export_dir.empty()) {
        // Publish as without --export, then write the signed files (lists_export.hpp).
        Options plain = a;
        plain.export_dir.clear();
        if (const int rc = run(c, plain); rc != 0) return rc;
        return export_command(store, a.export_dir, a.export_window);
    }
    if (c == "publish" || c == "trust-publish") {
        auto signer = ListSigner::load(a.signing_key, a.signing_cert);
        if (!signer) return failed(signer.error());
        if (c == "trust-publish") {
            auto t = publish_trust(store, *signer, now_s());
            if (!t) return failed(t.error());
            std::printf("trust list version %lld (%zu bytes)\n", static_cast<long long>(t->version),
                        t->signed_list.size());
            return 0;
        }
        bool force = a.force;
        if (a.if_older_than > 0) {
            const std::int64_t max_age = a.if_older_than;
            auto latest = store.latest_list_version();
            if (!latest) return failed(latest.error());
            std::optional<ListVersion> last;
            if (*latest > 0) {
                auto lv = store.list_version(*latest);
                if (!lv) return failed(lv.error());
                last = *lv;
            }
            if (last && now_s() - last->published_at < max_age) {
                // Changed statuses still go out; an unchanged, young list stays as it is.
                auto v = publish_list(store, *signer, now_s(), false, a.keep_deltas);
                if (!v && v.error().is(reason::unchanged)) {
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
        auto v = publish_list(store, *signer, now_s(), force, a.keep_deltas);
        if (!v && v.error().is(reason::unchanged)) {
            std::fprintf(stderr,
                         "upstream: %s; --force signs it again as a new version (devices need a list younger "
                         "than their policy.max_list_age_s), or --if-older-than S does that only when due\n",
                         v.error().message.c_str());
            return 1;
        }
        if (!v) return failed(v.error());
        std::printf("list version %lld: %lld entries, %lld changes, snapshot %zu bytes, delta %zu bytes\n",
                    static_cast<long long>(v->version), static_cast<long long>(v->entries),
                    static_cast<long long>(v->changes), static_cast<std::size_t>(v->snapshot_size),
                    static_cast<std::size_t>(v->delta_size));
        return 0;
    }
    if (c == "trust-add") {
        auto pem = read_text_file(a.cert);
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

// The command line: one subcommand, each with the options it takes. `--db FILE` is
// required by every subcommand.
CLI::App* command(CLI::App& app, Options& o, const char* name, const char* description) {
    CLI::App* c = app.add_subcommand(name, description);
    c->add_option("--db", o.db,
                  "the upstream database: a SQLite file (created if missing) or a PostgreSQL URI "
                  "(postgresql://user@host/db, postgresql:///db?host=/run/postgresql) for several replicas "
                  "on one database (docs/deployment.md)")
        ->required()
        ->type_name("FILE|URI");
    c->add_option("--scan-retention-days", o.scan_retention_days,
                  "PostgreSQL: drop daily scan partitions older than N days")
        ->type_name("N");
    return c;
}

void add_commands(CLI::App& app, Options& o) {
    CLI::App* serve = command(app, o, "serve",
                              "HTTPS with mutual TLS for devices; with --web-port, the console's read-only big "
                              "screen on plain HTTP bound to loopback. Runs until SIGTERM/SIGINT (or --duration-s).");
    serve->add_option("--cert", o.server.cert_path, "server certificate chain")->required()->type_name("PEM");
    serve->add_option("--key", o.server.key_path, "server private key")->required()->type_name("PEM");
    serve->add_option("--client-ca", o.server.client_ca_path, "fleet CA: devices' certificates chain to it")
        ->required()
        ->type_name("PEM");
    serve->add_option("--host", o.server.host, "device listener address")->capture_default_str();
    o.server.port = 8443;
    cli::add_int(serve, "--port", o.server.port, 0, 65535, "device listener port (0: any free port)")
        ->default_str("8443");
    cli::add_int(serve, "--workers", o.server.worker_threads, 2, 4096,
                 "device listener threads; an open (keep-alive) connection holds one, so a replica serves "
                 "about this many devices at once (docs/deployment.md)")
        ->default_str(std::to_string(o.server.worker_threads));
    cli::add_int(serve, "--web-port", o.web_port, -1, 65535,
                 "the console's read-only big screen on plain HTTP (-1: off)")
        ->default_str("-1");
    serve->add_option("--web-host", o.web_host, "big-screen address (numeric loopback only)")->capture_default_str();
    cli::add_int(serve, "--duration-s", o.duration_s, 0, 30 * 24 * 3600, "stop after N seconds (0: run until a signal)")
        ->default_str("0");
#ifdef CHECKPOINT_WITH_CONSOLE
    console::add_serve_options(serve, o.console);
#endif

    CLI::App* enroll = command(app, o, "enroll",
                               "enroll (or re-key) the device named by the certificate's CN; a revoked device "
                               "stays revoked unless --unrevoke lifts the revocation (logged)");
    enroll->add_option("--cert", o.cert, "the device's certificate")->required()->type_name("DEVICE.crt");
    enroll->add_flag("--unrevoke", o.unrevoke, "lift the device's revocation");

    command(app, o, "revoke", "refuse the device from now on")
        ->add_option("--device", o.device, "device id")
        ->required()
        ->type_name("ID");
    command(app, o, "devices", "list devices with last seen, list version, backlog");

    CLI::App* set_status = command(app, o, "set-status", "set one pass's working status (publish sends it)");
    set_status->add_option("--pass", o.pass, "pass id, 32 lower-case hex digits")->required()->type_name("HEX32");
    set_status->add_option("--status", o.status, "red, yellow or green")->required()->type_name("STATUS");
    set_status->add_option("--reason", o.reason, "at most 64 characters, no quotes or commas")->type_name("TEXT");

    command(app, o, "import", "set working statuses from pass_id,status,reason lines (header optional)")
        ->add_option("--csv", o.csv, "the CSV file")
        ->required()
        ->type_name("FILE");

    CLI::App* publish = command(app, o, "publish",
                                "sign the working statuses as the next list version (snapshot + delta). Refused "
                                "when no status changed, unless --force (re-sign as is); --if-older-than S re-signs "
                                "an unchanged list only when the newest version is older than S seconds (run it "
                                "from cron well inside the devices' policy.max_list_age_s: an older list turns "
                                "every lane YELLOW)");
    CLI::App* trust_publish = command(app, o, "trust-publish", "sign the issuer trust list as its next version");
    for (CLI::App* c : {publish, trust_publish}) {
        c->add_option("--signing-key", o.signing_key, "list signer private key")->required()->type_name("PEM");
        c->add_option("--signing-cert", o.signing_cert, "list signer certificate")->required()->type_name("PEM");
    }
    publish->add_flag("--force", o.force, "sign an unchanged list again as a new version");
    cli::add_int(publish, "--if-older-than", o.if_older_than, 60, 30 * 86400,
                 "re-sign an unchanged list only when the newest version is older than S seconds")
        ->type_name("S");
    cli::add_int(publish, "--keep-deltas", o.keep_deltas, 1, 100'000,
                 "versions kept: the latest snapshot and this many deltas; older ones are pruned")
        ->default_str(std::to_string(kDefaultKeepDeltas));
    publish->add_option("--export", o.export_dir,
                        "then write the signed snapshot, the last deltas, the plan and the trust list as plain "
                        "files under DIR for a static server (a device's upstream.list_url)")
        ->type_name("DIR");
    cli::add_int(publish, "--export-window", o.export_window, 1, 10'000, "deltas written by --export")
        ->default_str(std::to_string(kDefaultExportWindow));

    command(app, o, "trust-add", "add a pass issuer certificate to the trust list")
        ->add_option("--cert", o.cert, "the issuer's certificate")
        ->required()
        ->type_name("ISSUER.crt");

    CLI::App* scans = command(app, o, "scans", "uploaded scans, newest first, as JSON lines");
    scans->add_option("--device", o.device, "only this device's scans")->type_name("ID");
    scans->add_flag("--alerts", o.alerts, "only RED and YELLOW verdicts");
    cli::add_int(scans, "--limit", o.limit, 1, 100000, "at most N scans")->default_str("50");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"checkpoint upstream: the reference command-centre server and its operator commands.\n"
                 "Exit status: 0 ok, 1 failed, 2 usage.",
                 "upstream"};
    cli::configure(app);
    app.require_subcommand(1);
    Options o;
    add_commands(app, o);
#ifdef CHECKPOINT_WITH_CONSOLE
    cli::Action console_action;
    console::add_cli_commands(app, console_action);
#endif
    if (auto rc = cli::parse(app, argc, argv)) return *rc;
    const CLI::App* chosen = app.get_subcommands().front();
#ifdef CHECKPOINT_WITH_CONSOLE
    if (console_action) return console_action();
#endif
    return run(chosen->get_name(), o);
}
