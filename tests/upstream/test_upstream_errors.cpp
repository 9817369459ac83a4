// Every error body of the device listener: {"error": kind, "reason": reason}, the
// kind spelt as to_string(ErrorKind) (one spelling per kind on the wire) and the
// reason as its constant in tools/upstream/reasons.hpp.
#include "tests/upstream/upstream_fixture.hpp"

#include "tools/upstream/reasons.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <set>

using nlohmann::json;
using namespace cp;
using namespace cp::upstream;
using cp::upstream::testing::Upstream;

namespace {

// The only spellings an "error" field may have.
const std::set<std::string>& kinds() {
    static const std::set<std::string> k = [] {
        std::set<std::string> s;
        for (ErrorKind e : {ErrorKind::invalid_input, ErrorKind::rejected, ErrorKind::not_found, ErrorKind::io,
                            ErrorKind::unavailable, ErrorKind::config, ErrorKind::internal})
            s.insert(to_string(e));
        return s;
    }();
    return k;
}

void check_body(const httplib::Result& r, int status, ErrorKind kind, Reason reason) {
    REQUIRE(r);
    CHECK(r->status == status);
    json j = json::parse(r->body, nullptr, false);
    REQUIRE(j.is_object());
    REQUIRE(j.contains("error"));
    CHECK(kinds().count(j["error"].get<std::string>()) == 1);
    CHECK(j["error"] == to_string(kind));
    CHECK(j["reason"] == reason.code);
}

}  // namespace

TEST_CASE("device listener: each error body has one spelling of its kind and its typed reason") {
    Upstream up;
    up.enroll("gate-01");
    up.enroll("gate-02");
    REQUIRE(up.store->revoke_device("gate-02", 2).ok());
    auto c = up.device("gate-01");

    // Device identity.
    check_body(up.device("gate-03")->Get("/v1/list"), 403, ErrorKind::rejected, reason::not_enrolled);
    check_body(up.device("gate-02")->Get("/v1/list"), 403, ErrorKind::rejected, reason::revoked);

    // Bodies.
    check_body(c->Post("/v1/scans", "not json", "application/json"), 400, ErrorKind::invalid_input,
               reason::json);
    check_body(c->Post("/v1/scans", std::string(40, '[') + std::string(40, ']'), "application/json"), 400,
               ErrorKind::invalid_input, reason::json_depth);
    check_body(c->Post("/v1/scans", "{}", "application/json"), 400, ErrorKind::invalid_input, reason::scans);
    auto bad_scan = c->Post("/v1/scans", R"({"scans":[{"seq":0}]})", "application/json");
    check_body(bad_scan, 400, ErrorKind::invalid_input, reason::scan);
    CHECK(json::parse(bad_scan->body)["index"] == 0);
    check_body(c->Post("/v1/scans", R"({"device_id":"gate-02","scans":[]})", "application/json"), 403,
               ErrorKind::rejected, reason::device_mismatch);
    check_body(c->Post("/v1/heartbeat", R"({"backlog":"many"})", "application/json"), 400,
               ErrorKind::invalid_input, reason::heartbeat);
    httplib::Headers zip = {{"Content-Encoding", "br"}};
    check_body(c->Post("/v1/heartbeat", zip, "{}", "application/json"), 415, ErrorKind::invalid_input,
               reason::content_encoding);
    httplib::Headers gz = {{"Content-Encoding", "gzip"}};
    check_body(c->Post("/v1/heartbeat", gz, "not gzip", "application/json"), 400, ErrorKind::invalid_input,
               reason::gzip);
    check_body(c->Post("/v1/heartbeat", std::string(100u << 10, ' '), "application/json"), 413,
               ErrorKind::rejected, reason::too_large);

    // Lists and trust.
    check_body(c->Get("/v1/list/deltas?since=x"), 400, ErrorKind::invalid_input, reason::since);
    check_body(c->Get("/v1/list/snapshot/7"), 404, ErrorKind::not_found, reason::version);
    check_body(c->Get("/v1/trust"), 404, ErrorKind::not_found, reason::trust_list);

    // Answers httplib makes itself, and methods that take no body.
    auto unknown = c->Get("/v1/nothing-here");
    check_body(unknown, 404, ErrorKind::not_found, reason::http);
    CHECK(json::parse(unknown->body)["status"] == 404);
    check_body(c->Put("/v1/list", "{}", "application/json"), 405, ErrorKind::rejected, reason::method);
}
