// The reference upstream against hostile input and load: deep JSON, unbounded
// chunked bodies, idle connections, foreign Host headers, and its store's durability.
#include "tests/upstream/upstream_fixture.hpp"

#include "tools/upstream/loopback.hpp"
#include "tools/upstream/requests.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <vector>

using nlohmann::json;
using namespace cp;
using namespace cp::upstream;
using cp::upstream::testing::Upstream;

namespace {

json parse(const std::string& s) { return json::parse(s, nullptr, false); }

std::string nested_arrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

std::string gzip(const std::string& data) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, data.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

json heartbeat() {
    return {{"firmware", "1.0"}, {"list_version", 1}, {"backlog", 0}, {"wall_time_ms", 1}};
}

json scan(std::int64_t seq) {
    return {{"seq", seq}, {"scan_id", "s" + std::to_string(seq)}, {"verdict", "green"},
            {"reason", "ok"}, {"time", 1764338000 + seq}};
}

// kB of this process's peak resident set (VmHWM): the server runs in this process.
long peak_rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// POSTs `total` bytes of spaces as a chunked body (no Content-Length), generated as
// sent; stops when the server stops taking them. Returns the answer, if any.
httplib::Result post_chunked(httplib::SSLClient& c, const char* path, std::size_t total,
                             std::size_t* sent) {
    static const std::string chunk(64u << 10, ' ');
    *sent = 0;
    return c.Post(
        path,
        [&, total](std::size_t, httplib::DataSink& sink) {
            if (*sent >= total) {
                sink.done();
                return true;
            }
            if (!sink.write(chunk.data(), chunk.size())) return false;
            *sent += chunk.size();
            return true;
        },
        "application/json");
}

// A TCP connection from `source` (a loopback address) that sends nothing.
int idle_connection(const char* source, int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, source, &src.sin_addr) == 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<std::uint16_t>(port));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
    return fd;
}

}  // namespace

TEST_CASE("deeply nested JSON on every JSON route is refused and the server keeps serving") {
    Upstream up;
    up.enroll("gate-01");
    auto c = up.device("gate-01");
    const std::string deep = nested_arrays(100000);  // 200 KB

    // Heartbeat: in sensors (where the serializer recursed), in another field, as the
    // body. 200 KB is over the heartbeat's size cap, refused before parsing; 60 KB
    // fits the cap and is refused by the nesting limit.
    const std::string hb = heartbeat().dump();
    const std::string hb_head = hb.substr(0, hb.size() - 1);
    const std::string deep_small = nested_arrays(30000);
    for (const std::string& body : {hb_head + ",\"sensors\":{\"a\":" + deep + "}}", deep}) {
        auto r = c->Post("/v1/heartbeat", body, "application/json");
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(parse(r->body)["reason"] == "too-large");
    }
    for (const std::string& body : {hb_head + ",\"sensors\":{\"a\":" + deep_small + "}}",
                                    hb_head + ",\"extra\":" + deep_small + "}", deep_small}) {
        auto r = c->Post("/v1/heartbeat", body, "application/json");
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(parse(r->body)["reason"] == "json-depth");
    }
    // Scans: inside one scan, beside the array, as the body, and gzip-encoded.
    const std::string s1 = scan(1).dump();
    for (const std::string& body :
         {"{\"scans\":[" + s1.substr(0, s1.size() - 1) + ",\"lane\":" + deep + "}]}",
          "{\"scans\":[],\"x\":" + deep + "}", deep}) {
        auto r = c->Post("/v1/scans", body, "application/json");
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(parse(r->body)["reason"] == "json-depth");
    }
    auto gz = c->Post("/v1/heartbeat", {{"Content-Encoding", "gzip"}},
                      gzip(hb_head + ",\"sensors\":{\"a\":" + deep_small + "}}"),
                      "application/json");
    REQUIRE(gz);
    CHECK(gz->status == 400);
    CHECK(parse(gz->body)["reason"] == "json-depth");

    // Nesting within the limit is still accepted, and the server still answers.
    json sensors = {{"camera", {{"state", "ok"}, {"frames", json::array({1, 2, 3})}}}};
    json ok = heartbeat();
    ok["sensors"] = sensors;
    auto r = c->Post("/v1/heartbeat", ok.dump(), "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    auto s = c->Post("/v1/scans", json{{"scans", json::array({scan(1)})}}.dump(),
                     "application/json");
    REQUIRE(s);
    CHECK(s->status == 200);
    CHECK(parse(s->body)["acked_seq"] == 1);
}

TEST_CASE("request bodies: nesting limit, size caps, typed errors") {
    CHECK(parse_json_object("{\"a\":[[[1]]]}", 4).ok());
    CHECK(parse_json_object("{\"a\":[[[1]]]}", 3).error().reason == "json-depth");
    CHECK(parse_json_object(nested_arrays(1000000)).error().reason == "json-depth");
    CHECK(parse_json_object("[1]").error().reason == "json");
    CHECK(parse_json_object("{\"a\":").error().reason == "json");
    CHECK(parse_json_object("").error().reason == "json");

    BodyLimits small{10, 20};
    CHECK(decode_body(std::string(11, 'x'), "", small).error().reason == "too-large");
    CHECK(decode_body(gzip(std::string(21, 'x')), "gzip", small).error().reason == "too-large");
    CHECK(decode_body("{}", "br", small).error().reason == "content-encoding");
    CHECK(*decode_body("{}", "identity", small) == "{}");

    json big_sensors = heartbeat();
    big_sensors["sensors"] = {{"log", std::string(5000, 'x')}};
    CHECK(parse_heartbeat(big_sensors.dump(), "gate-01", 1).error().reason == "heartbeat");
    auto hb = parse_heartbeat(heartbeat().dump(), "gate-01", 7);
    REQUIRE(hb.ok());
    CHECK(hb->sensors_json == "{}");
    CHECK(hb->server_time_ms == 7);

    std::size_t index = 99;
    json batch = {{"scans", json::array({scan(1), scan(2), {{"seq", "x"}}})}};
    CHECK(parse_scan_upload(batch.dump(), "gate-01", 1, 10, &index).error().reason == "scan");
    CHECK(index == 2);
    CHECK(parse_scan_upload(batch.dump(), "gate-01", 1, 2).error().reason == "batch-too-large");
    json other = {{"device_id", "gate-02"}, {"scans", json::array()}};
    CHECK(parse_scan_upload(other.dump(), "gate-01", 1, 10).error().reason == "device-mismatch");
}

TEST_CASE("a chunked large POST is refused before its body is read") {
    Upstream up;
    up.enroll("gate-01");
    constexpr std::size_t kBody = 128u << 20;
    // Growth of the peak per step, far below the body, above noise and the 4 MiB body
    // an enrolled device may send (held with its copies, and ASan's quarantine).
    constexpr long kMarginKb = 48 << 10;
    long before = peak_rss_kb();
    REQUIRE(before > 0);
    auto grew_kb = [&before] {
        const long now = peak_rss_kb();
        const long grew = now - before;
        before = now;
        return grew;
    };

    // A device known to the fleet CA but never enrolled: refused, the body unread.
    std::size_t sent = 0;
    auto unknown = up.device("gate-03");
    auto r = post_chunked(*unknown, "/v1/scans", kBody, &sent);
    if (r) {
        CHECK(r->status == 403);
    }
    CHECK(grew_kb() < kMarginKb);

    // An enrolled device over the body cap (4 MiB): refused at the cap.
    auto c = up.device("gate-01");
    auto over = post_chunked(*c, "/v1/scans", kBody, &sent);
    if (over) {
        CHECK(over->status == 413);
    }
    CHECK(grew_kb() < kMarginKb);
    // The same on the heartbeat route, and on a route that takes no body at all.
    auto hb = post_chunked(*up.device("gate-01"), "/v1/heartbeat", kBody, &sent);
    if (hb) {
        CHECK(hb->status == 413);
    }
    CHECK(grew_kb() < kMarginKb);
    auto nowhere = post_chunked(*up.device("gate-01"), "/v1/list", kBody, &sent);
    if (nowhere) {
        CHECK(nowhere->status == 405);
    }
    CHECK(grew_kb() < kMarginKb);

    // A chunked, gzip-encoded upload within the limits is stored.
    json batch = {{"scans", json::array({scan(1), scan(2)})}};
    const std::string body = gzip(batch.dump());
    bool done = false;
    auto ok = up.device("gate-01")->Post(
        "/v1/scans", {{"Content-Encoding", "gzip"}},
        [&](std::size_t, httplib::DataSink& sink) {
            if (done) {
                sink.done();
                return true;
            }
            done = true;
            return sink.write(body.data(), body.size());
        },
        "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(parse(ok->body)["acked_seq"] == 2);
}

TEST_CASE("idle TCP connections do not keep a device from the server") {
    // The server's own timeouts, as deployed.
    Upstream up("server", /*production_timeouts=*/true);
    up.enroll("gate-01");
    // 60 connections from another loopback address that never start TLS, held open
    // while a device (from 127.0.0.1, with a 5 s handshake timeout) makes a request.
    std::vector<int> idle;
    for (int i = 0; i < 60; ++i) idle.push_back(idle_connection("127.0.0.2", up.server->port()));
    auto c = up.device("gate-01");
    auto r = c->Get("/v1/list");
    REQUIRE(r);
    CHECK(r->status == 200);

    // Connections over the per-address cap were closed by the server (end of
    // stream); those under it wait for their handshake until the read timeout.
    std::vector<pollfd> fds;
    for (int fd : idle) fds.push_back({fd, POLLIN, 0});
    int closed = 0;
    for (int round = 0; round < 20 && closed < 40; ++round) {
        if (::poll(fds.data(), fds.size(), 500) <= 0) continue;
        for (pollfd& p : fds) {
            char b;
            if (p.fd >= 0 && p.revents != 0 && ::recv(p.fd, &b, 1, MSG_DONTWAIT) <= 0) {
                ++closed;
                p.fd = -p.fd - 1;  // counted; poll() skips negative descriptors
            }
            p.revents = 0;
        }
    }
    CHECK(closed >= 40);
    for (int fd : idle) ::close(fd);
}

TEST_CASE("loopback view: numeric loopback bind only, and only its own Host header") {
    CHECK(loopback::is_loopback_address("127.0.0.1"));
    CHECK(loopback::is_loopback_address("127.1.2.3"));
    CHECK(loopback::is_loopback_address("::1"));
    CHECK_FALSE(loopback::is_loopback_address("127.attacker.example"));
    CHECK_FALSE(loopback::is_loopback_address("127.0.0.1.attacker.example"));
    CHECK_FALSE(loopback::is_loopback_address("localhost"));
    CHECK_FALSE(loopback::is_loopback_address("0.0.0.0"));
    CHECK_FALSE(loopback::is_loopback_address("128.0.0.1"));
    CHECK_FALSE(loopback::is_loopback_address("::"));
    CHECK_FALSE(loopback::is_loopback_address(""));

    CHECK(loopback::host_header_allowed("127.0.0.1:8080", "127.0.0.1", 8080));
    CHECK(loopback::host_header_allowed("LocalHost:8080", "127.0.0.1", 8080));
    CHECK(loopback::host_header_allowed("[::1]:8080", "::1", 8080));
    CHECK_FALSE(loopback::host_header_allowed("127.0.0.1", "127.0.0.1", 8080));
    CHECK_FALSE(loopback::host_header_allowed("127.0.0.1:8081", "127.0.0.1", 8080));
    CHECK_FALSE(loopback::host_header_allowed("attacker.example:8080", "127.0.0.1", 8080));
    CHECK_FALSE(loopback::host_header_allowed("", "127.0.0.1", 8080));
}

TEST_CASE("the store commits with synchronous=FULL") {
    cp::testing::TempDir tmp;
    auto store = open_sqlite_store((tmp / "u.db").string());
    REQUIRE(store.ok());
    auto level = sqlite_synchronous(**store);
    REQUIRE(level.ok());
    CHECK(*level == 2);  // FULL: every acknowledged commit is on disk
}
