// `checkpoint list build --csv FILE --key KEY --cert CERT --version N --out FILE
//                       [--created TIME] [--issuer CODE] [--delta-base N]`
//     signs a status list (or, with --delta-base, a delta) with the command
//     centre's key. CSV lines: pass_id,status,reason[,since]; status is
//     green|yellow|red (remove in deltas); a first line starting "pass_id" is a
//     header. TIME is epoch seconds or ISO 8601 (default: now).
// `checkpoint list import FILE --db PATH --trust CERT_OR_DIR [--reset-version-floor]`
//     verifies and installs a full list, or applies a delta. A list older than
//     the highest version ever installed (the version floor, PATH.floor) is
//     refused even when the database is gone; --reset-version-floor is the
//     technician's override for a deliberate re-provision (full lists only; logged).
// `checkpoint list floor (--db PATH | --trust-dir DIR) [--reset]`
//     prints the version floor of a status database or of a trust-list folder;
//     --reset removes it (logged), so the next list of any version installs.
// `checkpoint list lookup PASSID --db PATH`   JSON; exit 1 when not in the list
// `checkpoint list info --db PATH`            JSON; exit 1 when no list installed
// Exit 0 success, 1 negative answer or refused list, 2 usage or file error.
#include "src/common/time.hpp"
#include "src/crypto/crypto.hpp"
#include "src/crypto/trust_store.hpp"
#include "src/status/list_format.hpp"
#include "src/status/store.hpp"
#include "src/status/version_floor.hpp"
#include "src/status/reason.hpp"
#include "tools/checkpoint/commands.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>

namespace cp::cli {

namespace {

int error(const std::string& msg, int code = 2) {
    std::fprintf(stderr, "checkpoint list: %s\n", msg.c_str());
    return code;
}

// The options of every list subcommand; each subcommand registers the ones it takes.
struct Parsed {
    std::string csv, key, cert, out, issuer, created, db, trust, trust_dir, file, pass_id;
    std::int64_t version = 0, delta_base = 0;  // 0: not given
    bool reset_version_floor = false, reset = false;
};

// A time given as epoch seconds or ISO 8601.
std::optional<std::int64_t> epoch_or_iso8601(const std::string& s) {
    if (auto v = cli::parse_int(s, 0, std::numeric_limits<std::int64_t>::max())) return *v;
    auto t = parse_iso8601(s);
    if (!t || *t < 0) return std::nullopt;
    return *t;
}

std::optional<std::string> slurp(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return std::nullopt;
    std::string data;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
    bool ok = !std::ferror(f);
    std::fclose(f);
    if (!ok) return std::nullopt;
    return data;
}

std::string trim(std::string s) {
    auto b = s.find_first_not_of(" \t\r");
    auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

int build(const Parsed& p) {
    status::ListHeader h;
    h.version = p.version;
    h.created_at = wall_now_ms() / 1000;
    if (!p.created.empty()) {
        auto t = epoch_or_iso8601(p.created);
        if (!t) return error("--created must be epoch seconds or ISO 8601");
        h.created_at = *t;
    }
    if (!p.issuer.empty()) h.issuer = p.issuer;
    if (p.delta_base != 0) {
        if (p.delta_base >= h.version) return error("--delta-base must be >= 1 and below --version");
        h.kind = status::ListKind::delta;
        h.base_version = p.delta_base;
    }

    auto key_pem = slurp(p.key);
    auto cert_pem = slurp(p.cert);
    if (!key_pem || !cert_pem) return error("cannot read --key or --cert");
    auto key = crypto::PrivateKey::parse(as_bytes(*key_pem));
    if (!key) return error("key: " + key.error().describe());
    auto cert = crypto::Certificate::parse(as_bytes(*cert_pem));
    if (!cert) return error("cert: " + cert.error().describe());
    // A list signed with a key that does not match the certificate would be
    // refused by every device: catch it here.
    auto probe = key->sign_es256(as_bytes("probe"));
    if (!probe || !cert->verify_es256(as_bytes("probe"), *probe).ok()) return error("--key does not match --cert");

    std::ifstream csv(p.csv);
    if (!csv) return error("cannot read " + p.csv);
    std::vector<status::ListEntry> entries;
    std::map<std::string, std::uint8_t> reason_idx;
    h.reasons.push_back("");
    reason_idx[""] = 0;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(csv, line)) {
        ++line_no;
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        if (line_no == 1 && line.rfind("pass_id", 0) == 0) continue;
        std::vector<std::string> f;
        std::size_t start = 0;
        for (;;) {
            auto comma = line.find(',', start);
            f.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        auto where = p.csv + ":" + std::to_string(line_no) + ": ";
        if (f.size() < 2 || f.size() > 4) return error(where + "expected pass_id,status,reason[,since]");
        auto id = from_hex(f[0]);
        if (!id || id->size() != 16) return error(where + "pass id must be 32 hex digits");
        status::ListEntry e;
        std::copy(id->begin(), id->end(), e.id.begin());
        if (f[1] == "green") e.op = status::Op::green;
        else if (f[1] == "yellow") e.op = status::Op::yellow;
        else if (f[1] == "red") e.op = status::Op::red;
        else if (f[1] == "remove" && h.kind == status::ListKind::delta) e.op = status::Op::remove;
        else return error(where + "status must be green, yellow or red (remove in deltas)");
        std::string reason = f.size() > 2 ? f[2] : "";
        auto it = reason_idx.find(reason);
        if (it == reason_idx.end()) {
            if (h.reasons.size() >= status::kMaxReasons) return error(where + "more than 255 distinct reasons");
            it = reason_idx.emplace(reason, static_cast<std::uint8_t>(h.reasons.size())).first;
            h.reasons.push_back(reason);
        }
        e.reason = it->second;
        if (f.size() > 3 && !f[3].empty()) {
            auto since = epoch_or_iso8601(f[3]);
            if (!since || *since > 0xffffffffLL) return error(where + "since must be epoch seconds or ISO 8601");
            e.since = static_cast<std::uint32_t>(*since);
        }
        entries.push_back(e);
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (std::size_t i = 1; i < entries.size(); ++i) {
        if (entries[i - 1].id == entries[i].id) return error("duplicate pass id " + to_hex(entries[i].id));
    }
    auto st = status::write_list_file(p.out, h, entries, *key, cert->kid());
    if (!st) return error(st.error().describe());
    nlohmann::ordered_json j;
    j["out"] = p.out;
    j["kind"] = h.kind == status::ListKind::delta ? "delta" : "full";
    j["version"] = h.version;
    if (h.kind == status::ListKind::delta) j["base_version"] = h.base_version;
    j["created_at"] = h.created_at;
    j["entries"] = entries.size();
    j["kid"] = to_hex(cert->kid());
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

nlohmann::ordered_json info_json(const status::ListInfo& i) {
    nlohmann::ordered_json j;
    j["version"] = i.version;
    j["created_at"] = i.created_at;
    j["created"] = format_iso8601(i.created_at);
    j["imported_at"] = i.imported_at;
    j["signer_kid"] = i.signer_kid;
    j["entries"] = i.entries;
    j["issuer"] = i.issuer;
    return j;
}

int import(const Parsed& p) {
    auto trust = crypto::TrustStore::load(p.trust);
    if (!trust) return error("trust: " + trust.error().describe());
    auto store = status::open_sqlite_status_list(p.db);
    if (!store) return error(store.error().describe());
    status::ImportOptions o;
    o.reset_version_floor = p.reset_version_floor;
    if (o.reset_version_floor)
        std::fprintf(stderr, "checkpoint list: --reset-version-floor: installing whatever the version floor\n");
    auto r = (*store)->import_file(p.file, *trust, o);
    if (!r && r.error().is(status::reason::list_kind)) {
        if (o.reset_version_floor) return error("--reset-version-floor applies to full lists, not deltas");
        auto bytes = slurp(p.file);
        if (!bytes) return error("cannot read " + p.file);
        r = (*store)->apply_delta(as_bytes(*bytes), *trust);
    }
    if (!r) {
        nlohmann::ordered_json j;
        j["installed"] = false;
        j["reason"] = r.error().reason;
        j["detail"] = r.error().message;
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return r.error().kind == ErrorKind::io ? 2 : 1;
    }
    auto j = info_json(*r);
    j["installed"] = true;
    if (o.reset_version_floor) j["version_floor_reset"] = true;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
}

int floor_cmd(const Parsed& p) {
    if (p.db.empty() == p.trust_dir.empty()) {
        std::fprintf(stderr, "checkpoint list floor: give one of --db and --trust-dir\n");
        return kExitUsage;
    }
    const std::string path = !p.db.empty() ? status::list_floor_path(p.db)
                                               : status::trust_floor_path(p.trust_dir);
    nlohmann::ordered_json j;
    j["path"] = path;
    if (p.reset) {
        auto s = status::reset_version_floor(path, 0, "checkpoint list floor --reset");
        if (!s) return error(s.error().describe());
        std::fprintf(stderr, "checkpoint list: version floor %s removed: the next list of any version installs\n",
                     path.c_str());
        j["floor"] = 0;
        j["reset"] = true;
    } else {
        auto f = status::read_version_floor(path);
        if (!f) return error(f.error().describe());
        j["floor"] = *f;
    }
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
}

int lookup(const Parsed& p) {
    auto id = from_hex(p.pass_id);
    if (!id || id->size() != 16) return error("pass id must be 32 hex digits");
    pass::PassId pid{};
    std::copy(id->begin(), id->end(), pid.begin());
    status::StoreOptions so;
    so.create = false;
    auto store = status::open_sqlite_status_list(p.db, so);
    if (!store) return error(store.error().describe());
    auto info = (*store)->info();
    auto e = (*store)->lookup(pid);
    if (!e) return error(e.error().describe());
    nlohmann::ordered_json j;
    j["pass_id"] = to_hex(pid);
    j["found"] = e->has_value();
    if (e->has_value()) {
        j["status"] = status::to_string((*e)->status);
        j["reason"] = (*e)->reason;
        j["since"] = (*e)->since;
    }
    if (info) j["list_version"] = info->version;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return e->has_value() ? 0 : 1;
}

int info(const Parsed& p) {
    status::StoreOptions so;
    so.create = false;
    auto store = status::open_sqlite_status_list(p.db, so);
    if (!store) return error(store.error().describe());
    auto i = (*store)->info();
    if (!i) {
        std::printf("{\"installed\":false}\n");
        return 1;
    }
    std::printf("%s\n", info_json(*i).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
}

}  // namespace

void add_list(CLI::App& app, Action& action) {
    auto p = std::make_shared<Parsed>();
    CLI::App* list = app.add_subcommand(
        "list",
        "status lists: build (sign), import, lookup, info, floor. Versions are 1..2^53-1; "
        "--reset-version-floor and --reset are for a deliberate re-provision only "
        "(docs/status-list-format.md, \"Version floor\")");
    list->require_subcommand(1);
    auto command = [&](const char* name, const char* description, int (*run)(const Parsed&)) {
        CLI::App* c = list->add_subcommand(name, description);
        c->callback([p, run, &action] { action = [p, run] { return run(*p); }; });
        return c;
    };
    auto db = [&](CLI::App* c) { return c->add_option("--db", p->db, "the status database")->type_name("PATH"); };

    CLI::App* b = command("build",
                          "sign a status list (or, with --delta-base, a delta) with the command centre's key. CSV "
                          "lines: pass_id,status,reason[,since]; status is green|yellow|red (remove in deltas); a "
                          "first line starting \"pass_id\" is a header; TIME and since: epoch seconds or ISO 8601",
                          build);
    b->add_option("--csv", p->csv, "the statuses")->required()->type_name("FILE");
    b->add_option("--key", p->key, "list signer private key")->required()->type_name("KEY");
    b->add_option("--cert", p->cert, "list signer certificate")->required()->type_name("CERT");
    cli::add_int(b, "--version", p->version, 1, status::kMaxListVersion, "the list version")->required();
    b->add_option("--out", p->out, "the signed list")->required()->type_name("FILE");
    b->add_option("--created", p->created, "creation time (default: now)")->type_name("TIME");
    b->add_option("--issuer", p->issuer, "issuer code")->type_name("CODE");
    cli::add_int(b, "--delta-base", p->delta_base, 1, status::kMaxListVersion, "sign a delta from version N");

    CLI::App* im = command("import",
                           "verify and install a full list, or apply a delta. A list older than the highest "
                           "version ever installed (the version floor, PATH.floor) is refused even when the "
                           "database is gone",
                           import);
    im->add_option("FILE", p->file, "the signed list")->required();
    db(im)->required();
    im->add_option("--trust", p->trust, "list signer certificate or folder of them")
        ->required()
        ->type_name("CERT_OR_DIR");
    im->add_flag("--reset-version-floor", p->reset_version_floor,
                 "install whatever the version floor says (full lists only; logged)");

    CLI::App* fl = command("floor",
                           "print the version floor of a status database or of a trust-list folder; --reset "
                           "removes it (logged), so the next list of any version installs",
                           floor_cmd);
    auto* fl_db = db(fl);
    fl->add_option("--trust-dir", p->trust_dir, "trust-list folder")->type_name("DIR")->excludes(fl_db);
    fl->add_flag("--reset", p->reset, "remove the version floor");

    CLI::App* lk = command("lookup", "one pass's status as JSON; exit 1 when not in the list", lookup);
    lk->add_option("PASSID", p->pass_id, "32 hex digits")->required();
    db(lk)->required();
    db(command("info", "the installed list as JSON; exit 1 when no list installed", info))->required();
}

}  // namespace cp::cli
