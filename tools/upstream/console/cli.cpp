#include "tools/upstream/console/cli.hpp"

#include "tools/upstream/console/auth.hpp"
#include "tools/upstream/console/console_server.hpp"
#include "tools/upstream/console/travellers.hpp"
#include "tools/upstream/console/import.hpp"
#include "tools/upstream/lists.hpp"

#include "src/common/time.hpp"

#include <cstdio>
#include <iostream>
#include <set>

namespace cp::upstream::console {

const char* const kCliUsage = R"(usage: upstream CONSOLE-COMMAND --db FILE [options]

  operator add  --username NAME --role city|district|street|grid|bigscreen --area CODE
                [--password-file FILE]   the password is read from FILE, or else
                from the first line of stdin; never from the command line
  operator passwd --username NAME [--password-file FILE]
                set a new password (stdin or file as above); ends the account's sessions
  operator list
  areas import  --csv FILE | --json FILE   code,parent,name_zh,name_en (parents first
                or in any order; the city has an empty parent)
  areas list
  site add      --code CODE --area CODE --name TEXT [--kind gate|shop|road-entry|rail-entry]
  site assign   --device ID --site CODE
  passes import --csv FILE                 pass_id,grid,label

Exit status: 0 ok, 1 failed, 2 usage.
)";

namespace {

int usage(const std::string& msg) {
    std::fprintf(stderr, "upstream: %s\n\n%s", msg.c_str(), kCliUsage);
    return 2;
}
int failed(const Error& e) {
    std::fprintf(stderr, "upstream: %s\n", e.describe().c_str());
    return 1;
}

const std::set<std::string> kOptions = {"db", "username", "role", "area", "password-file", "csv", "json",
                                        "code", "name", "kind", "device", "site"};

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
    ~Runtime() override {
        if (server) server->stop();
    }
};

}  // namespace

bool is_cli_command(const std::string& c) {
    return c == "operator" || c == "areas" || c == "site" || c == "passes";
}

int cli_main(int argc, char** argv) {
    if (argc < 3) return usage("missing subcommand");
    const std::string cmd = argv[1], sub = argv[2];
    std::map<std::string, std::string> o;
    for (int i = 3; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) != 0 || !kOptions.count(s.substr(2))) return usage("unknown option '" + s + "'");
        if (i + 1 >= argc) return usage(s + " needs a value");
        o[s.substr(2)] = argv[++i];
    }
    auto get = [&](const char* k) { return o.count(k) ? o[k] : std::string(); };
    if (get("db").empty()) return usage("--db FILE is required");
    auto up = open_sqlite_store(get("db"));
    if (!up) return failed(up.error());
    auto st = open_sqlite_console_store(get("db"));
    if (!st) return failed(st.error());
    ConsoleStore& store = **st;
    const std::int64_t now = wall_now_ms() / 1000;

    auto read_password = [&]() -> Result<std::string> {
        std::string pw;
        if (!get("password-file").empty()) {
            auto t = read_text_file(get("password-file"));
            if (!t) return fail(t.error());
            pw = trim_newline(t->substr(0, t->find('\n')));
        } else {
            std::getline(std::cin, pw);
            pw = trim_newline(pw);
        }
        return hash_password(pw);
    };
    if (cmd == "operator" && sub == "passwd") {
        auto op = store.find_operator(get("username"));
        if (!op) return failed(op.error());
        if (!*op) return failed(Error(ErrorKind::not_found, "operator", get("username")));
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
        auto role = parse_role(get("role"));
        if (!role) return usage("--role city|district|street|grid|bigscreen");
        if (!valid_username(get("username"))) return usage("--username: [a-z0-9._-]{2,64}");
        if (get("area").empty()) return usage("--area CODE is required");
        auto h = read_password();
        if (!h) return failed(h.error());
        Operator op;
        op.username = get("username");
        op.role = *role;
        op.area = get("area");
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
        const bool json = !get("json").empty();
        if (json == !get("csv").empty()) return usage("areas import needs --csv FILE or --json FILE");
        auto text = read_text_file(json ? get("json") : get("csv"));
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
        Site s{0, get("code"), get("area"), get("name"), get("kind").empty() ? "gate" : get("kind")};
        auto id = store.add_site(s, nullptr);
        if (!id) return failed(id.error());
        std::printf("site %s added\n", s.code.c_str());
        return 0;
    }
    if (cmd == "site" && sub == "assign") {
        auto r = store.assign_device(get("device"), get("site"), nullptr);
        if (!r) return failed(r.error());
        std::printf("device %s at site %s\n", get("device").c_str(), get("site").c_str());
        return 0;
    }
    if (cmd == "passes" && sub == "import") {
        auto text = read_text_file(get("csv"));
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

Result<std::unique_ptr<ConsoleRuntime>> start_console(const std::map<std::string, std::string>& opts,
                                                      const std::string& db_path, UpstreamStore& upstream) {
    auto get = [&](const char* k, const std::string& def = {}) {
        auto it = opts.find(k);
        return it == opts.end() ? def : it->second;
    };
    auto rt = std::make_unique<Runtime>();
    auto st = open_sqlite_console_store(db_path);
    if (!st) return fail(st.error());
    rt->store = std::move(*st);
    ConsoleConfig cfg;
    cfg.host = get("console-host", "127.0.0.1");
    try {
        cfg.port = std::stoi(get("console-port", "0"));
        cfg.publish_interval_s = std::stoll(get("publish-interval-s", "60"));
    } catch (...) {
        return fail(ErrorKind::config, "console", "bad --console-port or --publish-interval-s");
    }
    if (cfg.port < 0 || cfg.port > 65535 || cfg.publish_interval_s < 1 || cfg.publish_interval_s > 86400)
        return fail(ErrorKind::config, "console", "--console-port 0..65535, --publish-interval-s 1..86400");
    cfg.cert_path = get("console-cert", get("cert"));
    cfg.key_path = get("console-key", get("key"));
    if (!get("signing-key").empty()) {
        auto s = ListSigner::load(get("signing-key"), get("signing-cert"));
        if (!s) return fail(s.error());
        rt->signer.emplace(std::move(*s));
    }
    if (!get("issuer-key").empty()) {  // traveller registration (travellers_cli.cpp)
        auto t = start_travellers(opts, db_path, upstream);
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
