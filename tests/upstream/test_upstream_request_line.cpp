// The reference upstream against a request line that never ends: httplib 0.11 reads
// it byte by byte into memory, so the server must cut the connection. Slow (the
// server reads a few MiB one byte at a time): ctest label `slow`.
#include "tests/upstream/upstream_fixture.hpp"

#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

using cp::upstream::testing::Upstream;

namespace {

// kB of this process's peak resident set (VmHWM): the server runs in this process.
long peak_rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

int connect_loopback(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<std::uint16_t>(port));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
    return fd;
}

}  // namespace

TEST_CASE("a request line without an end is cut off, not held in memory") {
    Upstream up;
    up.enroll("gate-01");
    const long before = peak_rss_kb();
    REQUIRE(before > 0);
    // Raw TLS with an enrolled device's certificate: a request line of 128 MiB.
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx);
    REQUIRE(SSL_CTX_use_certificate_file(ctx, up.path("device-gate-01.crt").c_str(),
                                         SSL_FILETYPE_PEM) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx, up.path("device-gate-01.key").c_str(),
                                        SSL_FILETYPE_PEM) == 1);
    const int fd = connect_loopback(up.server->port());
    SSL* ssl = SSL_new(ctx);
    REQUIRE(ssl);
    SSL_set_fd(ssl, fd);
    REQUIRE(SSL_connect(ssl) == 1);
    const std::string start = "GET /";
    REQUIRE(SSL_write(ssl, start.data(), static_cast<int>(start.size())) > 0);
    const std::string chunk(64u << 10, 'A');
    std::size_t sent = 0;
    for (int i = 0; i < 2048; ++i) {
        if (SSL_write(ssl, chunk.data(), static_cast<int>(chunk.size())) <= 0) break;
        sent += chunk.size();
    }
    CHECK(sent < (64u << 20));  // the server cut the connection
    CHECK(peak_rss_kb() - before < (48 << 10));
    SSL_free(ssl);
    ::close(fd);
    SSL_CTX_free(ctx);

    // The server still answers.
    auto r = up.device("gate-01")->Get("/v1/list");
    REQUIRE(r);
    CHECK(r->status == 200);
}
