#include "tools/upstream/console/cli.hpp"

#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/console_server.hpp"
#include "tools/upstream/console/residents.hpp"
#include "tools/upstream/console/travellers.hpp"
#include "tools/upstream/console/import.hpp"
#include "tools/upstream/lists.hpp"

#include "src/cli/args.hpp"
#include "src/common/time.hpp"

#include <cstdio>
#include <iostream>
#include <memory>

namespace cp::upstream::console {

namespace {

int usage(const std::string& msg) {
    std::fprintf(stderr, "upstream: %s\nrun 'upstream --help' for the usage\n", msg.c_str());
    return cli::kExitUsage;
}
int failed(const Error& e) {
    std::fprintf(stderr, "upstream: %s\n", e.describe().c_str());
    return 1;
}

// The options of the console commands; each subcommand registers the ones it takes.
struct CliOptions {
    std::string db, username, role, area, password_file, csv, json, code, name, kind = "gate", device, site;
};

std::string trim_newline(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

class Runtime final : public ConsoleRuntime {
public:
    std::unique_ptr<ConsoleStore> store;
    std::optional<ListSigner> signer;
    std::unique_ptr<TravellersRuntime> travellers;
    std::unique_ptr<ConsoleServer> server;
    int port() const override { return server->port(); }
    int wall_port() const override { return server->wall_port(); }
    ~Runtime() override {
        if (server) server->stop();
    }
};

// Runs `upstream CMD SUB` once its options are parsed; exit status 0 ok, 1 failed, 2 usage.
int run_command(const std::string& cmd, const std::string& sub, const CliOptions& o) {
    auto up = open_store(o.db);
    if (!up) return failed(up.error());
    auto st = open_console_store(o.db);
    if (!st) return failed(st.error());
    ConsoleStore& store = **st;
    const std::int64_t now = wall_now_ms() / 1000;

    auto read_password = [&]() -> Result<std::string> {
        std::string pw;
        if (!o.password_file.empty()) {
            auto t = read_text_file(o.password_file);
            if (!t) return fail(t.error());
            pw = trim_newline(t->substr(0, t->find('\n')));
        } else {
            std::getline(std::cin, pw);
            pw = trim_newline(pw);
        }
        return hash_password(pw);
    };
    if (cmd == "operator" && sub == "passwd") {
        auto op = store.find_operator(o.username);
        if (!op) return failed(op.error());
        if (!*op) return failed(Error(ErrorKind::not_found, reason::operator_, o.username));
        auto h = read_password();
        if (!h) return failed(h.error());
        if (auto r = store.set_password((*op)->id, *h, now); !r) return failed(r.error());
        (void)store.delete_sessions_of((*op)->id);
        (void)store.clear_login_failures("user:" + (*op)->username);
        (void)store.audit({0, now, "host", "host", (*op)->area, "password", (*op)->username, "", "", "reset"});
        std::printf("password of %s set; its sessions ended\n", (*op)->username.c_str());
        return 0;
    }
    if (cmd == "operator" && sub == "add") {
        auto role = parse_role(o.role);
        if (!role) return usage("--role city|district|street|grid|bigscreen");
        if (!valid_username(o.username)) return usage("--username: [a-z0-9._-]{2,64}");
        if (o.area.empty()) return usage("--area CODE is required");
        auto h = read_password();
        if (!h) return failed(h.error());
        Operator op;
        op.username = o.username;
        op.role = *role;
        op.area = o.area;
        op.pw_hash = *h;
        auto id = store.add_operator(op, nullptr, now);
        if (!id) return failed(id.error());
        std::printf("operator %s (%s at %s) added\n", op.username.c_str(), to_string(op.role), op.area.c_str());
        return 0;
    }
    if (cmd == "operator" && sub == "list") {
        auto root = store.areas(Scope{"/", true});
        if (!root) return failed(root.error());
        auto ops = store.operators(Scope{"/", true});
        if (!ops) return failed(ops.error());
        for (const auto& op : *ops)
            std::printf("%-24s %-10s %s\n", op.username.c_str(), to_string(op.role), op.area.c_str());
        return 0;
    }
    if (cmd == "areas" && sub == "import") {
        const bool json = !o.json.empty();
        if (json == !o.csv.empty()) return usage("areas import needs --csv FILE or --json FILE");
        auto text = read_text_file(json ? o.json : o.csv);
        if (!text) return failed(text.error());
        auto nodes = json ? parse_areas_json(*text) : parse_areas_csv(*text);
        if (!nodes) return failed(nodes.error());
        auto r = store.add_areas(*nodes, nullptr);
        if (!r) return failed(r.error());
        std::printf("imported %zu areas\n", nodes->size());
        return 0;
    }
    if (cmd == "areas" && sub == "list") {
        auto nodes = store.areas(Scope{"/", true});
        if (!nodes) return failed(nodes.error());
        for (const auto& n : *nodes)
            std::printf("%-9s %-40s %s %s\n", to_string(n.level), n.path.c_str(), n.name_zh.c_str(), n.name_en.c_str());
        return 0;
    }
    if (cmd == "site" && sub == "add") {
        Site s{0, o.code, o.area, o.name, o.kind};
        auto id = store.add_site(s, nullptr);
        if (!id) return failed(id.error());
        std::printf("site %s added\n", s.code.c_str());
        return 0;
    }
    if (cmd == "site" && sub == "assign") {
        auto r = store.assign_device(o.device, o.site, nullptr);
        if (!r) return failed(r.error());
        std::printf("device %s at site %s\n", o.device.c_str(), o.site.c_str());
        return 0;
    }
    if (cmd == "passes" && sub == "import") {
        auto text = read_text_file(o.csv);
        if (!text) return failed(text.error());
        auto rows = parse_passes_csv(*text);
        if (!rows) return failed(rows.error());
        auto r = store.add_passes(*rows, nullptr, "host", now);
        if (!r) return failed(r.error());
        std::printf("registered %zu passes\n", rows->size());
        return 0;
    }
    return usage("unknown command '" + cmd + " " + sub + "'");
}

}  // namespace

void add_cli_commands(CLI::App& app, cli::Action& action) {
    auto o = std::make_shared<CliOptions>();
    // One leaf command: `upstream CMD SUB --db FILE ...`, run when parsed.
    auto leaf = [&](CLI::App* group, const char* sub, const char* description) {
        CLI::App* c = group->add_subcommand(sub, description);
        c->add_option("--db", o->db, "the upstream database: a SQLite file or a PostgreSQL URI")
            ->required()
            ->type_name("FILE|URI");
        c->callback([o, &action, cmd = group->get_name(), sub = std::string(sub)] {
            action = [o, cmd, sub] { return run_command(cmd, sub, *o); };
        });
        return c;
    };
    auto group = [&](const char* name, const char* description) {
        CLI::App* g = app.add_subcommand(name, description);
        g->require_subcommand(1);
        return g;
    };
    const char* password_file = "read the password from FILE's first line, else from stdin's (never "
                                "from the command line)";

    CLI::App* op = group("operator", "console accounts");
    CLI::App* add = leaf(op, "add", "add an operator account");
    add->add_option("--username", o->username, "[a-z0-9._-]{2,64}")->required()->type_name("NAME");
    add->add_option("--role", o->role, "city|district|street|grid|bigscreen")->required()->type_name("ROLE");
    add->add_option("--area", o->area, "the area the account works in")->required()->type_name("CODE");
    add->add_option("--password-file", o->password_file, password_file)->type_name("FILE");
    CLI::App* passwd = leaf(op, "passwd", "set a new password; ends the account's sessions");
    passwd->add_option("--username", o->username, "the account")->required()->type_name("NAME");
    passwd->add_option("--password-file", o->password_file, password_file)->type_name("FILE");
    leaf(op, "list", "list the operator accounts");

    CLI::App* areas = group("areas", "the area tree");
    CLI::App* import = leaf(areas, "import",
                            "code,parent,name_zh,name_en rows (parents first or in any order; the city has "
                            "an empty parent)");
    auto* csv = import->add_option("--csv", o->csv, "the areas as CSV")->type_name("FILE");
    import->add_option("--json", o->json, "the areas as JSON")->type_name("FILE")->excludes(csv);
    leaf(areas, "list", "list the areas");

    CLI::App* site = group("site", "sites (gates, shops, road and rail entries) and their devices");
    CLI::App* site_add = leaf(site, "add", "add a site");
    site_add->add_option("--code", o->code, "the site's code")->required()->type_name("CODE");
    site_add->add_option("--area", o->area, "the area it is in")->required()->type_name("CODE");
    site_add->add_option("--name", o->name, "its name")->required()->type_name("TEXT");
    site_add->add_option("--kind", o->kind, "gate|shop|road-entry|rail-entry")
        ->check(CLI::IsMember({"gate", "shop", "road-entry", "rail-entry"}))
        ->capture_default_str();
    CLI::App* assign = leaf(site, "assign", "place a device at a site");
    assign->add_option("--device", o->device, "device id")->required()->type_name("ID");
    assign->add_option("--site", o->site, "site code")->required()->type_name("CODE");

    CLI::App* passes = group("passes", "registered passes");
    leaf(passes, "import", "register passes from pass_id,grid,label rows")
        ->add_option("--csv", o->csv, "the passes as CSV")
        ->required()
        ->type_name("FILE");
}

void add_serve_options(CLI::App* serve, ConsoleOptions& o) {
    cli::add_int(serve, "--console-port", o.port, 0, 65535,
                 "the operators' console on its own HTTPS listener (docs/command-centre.md); 0: any free port");
    serve->add_option("--console-host", o.host, "console listener address")->capture_default_str();
    serve->add_option("--console-cert", o.cert_path, "console certificate (default: --cert)")->type_name("PEM");
    serve->add_option("--console-key", o.key_path, "console private key (default: --key)")->type_name("PEM");
    auto* key = serve->add_option("--signing-key", o.signing_key, "list signer key: publish changed statuses "
                                                                   "every --publish-interval-s")
                    ->type_name("PEM");
    auto* cert = serve->add_option("--signing-cert", o.signing_cert, "list signer certificate")->type_name("PEM");
    key->needs(cert);
    cert->needs(key);
    cli::add_int(serve, "--publish-interval-s", o.publish_interval_s, 1, 86400, "seconds between publishing runs")
        ->default_str("60");
    // Residents and travellers (docs/residents-and-travellers.md): read by
    // residents_from_options() and start_travellers() from `o.people`.
    struct PeopleOption {
        const char* name;
        const char* type;
        const char* description;
    };
    static constexpr PeopleOption kPeople[] = {
        {"id-secret", "FILE", "the ID-number hashing secret (0600): enables residents and travellers"},
        {"issuer-key", "PEM", "the CP1 pass issuer's private key (passes issued by the console)"},
        {"issuer-cert", "PEM", "the CP1 pass issuer's certificate"},
        {"issuer-name", "TEXT", "the issuer name written into the passes"},
        {"public-url", "URL", "the public base URL of the pass and registration pages (in text messages)"},
        {"sms-outbox", "DIR", "text messages as files in DIR (one file per message)"},
        {"sms-gateway", "URL", "text messages through an HTTP gateway"},
        {"sms-template", "BODY", "the gateway's request body ({phone}, {text})"},
        {"traveller-retention-days", "N", "days a traveller registration's personal data is kept (default 28)"},
    };
    for (const auto& p : kPeople)
        serve->add_option_function<std::string>(std::string("--") + p.name,
                                                [&o, name = std::string(p.name)](const std::string& v) {
                                                    o.people[name] = v;
                                                },
                                                p.description)
            ->type_name(p.type);
}

Result<std::unique_ptr<ConsoleRuntime>> start_console(const ConsoleOptions& o, const ServerConfig& server,
                                                      const std::string& db_path, UpstreamStore& upstream) {
    auto rt = std::make_unique<Runtime>();
    auto st = open_console_store(db_path);
    if (!st) return fail(st.error());
    rt->store = std::move(*st);
    ConsoleConfig cfg;
    cfg.host = o.host;
    cfg.port = o.port;
    cfg.wall_port = o.wall_port;
    cfg.wall_host = o.wall_host;
    cfg.publish_interval_s = o.publish_interval_s;
    cfg.cert_path = o.cert_path.empty() ? server.cert_path : o.cert_path;
    cfg.key_path = o.key_path.empty() ? server.key_path : o.key_path;
    if (!o.signing_key.empty()) {
        auto s = ListSigner::load(o.signing_key, o.signing_cert);
        if (!s) return fail(s.error());
        rt->signer.emplace(std::move(*s));
    }
    auto residents = residents_from_options(o.people, db_path, *rt->store);
    if (!residents) return fail(residents.error());
    cfg.residents = std::move(*residents);
    if (o.people.count("issuer-key")) {  // traveller registration (travellers_cli.cpp)
        auto t = start_travellers(o.people, db_path, upstream);
        if (!t) return fail(t.error());
        rt->travellers = std::move(*t);
        cfg.travellers = rt->travellers->service.get();
    }
    auto srv = ConsoleServer::create(cfg, upstream, *rt->store, rt->signer ? &*rt->signer : nullptr);
    if (!srv) return fail(srv.error());
    rt->server = std::move(*srv);
    CP_TRY(rt->server->start());
    return std::unique_ptr<ConsoleRuntime>(std::move(rt));
}

}  // namespace cp::upstream::console
