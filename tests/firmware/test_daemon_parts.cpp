// checkpointd's parts in-process: the systemd notify client, the newest-frame
// mailbox and the line input of the "stdin" backend.
#include "firmware/checkpointd/daemon.hpp"
#include "drivers/input/input.hpp"
#include "firmware/checkpointd/json_line.hpp"
#include "firmware/checkpointd/sd_notify.hpp"
#include "tests/testing.hpp"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <thread>

using namespace cp;
using namespace cp::daemon;

TEST_CASE("watchdog interval is half of WATCHDOG_USEC") {
    CHECK(watchdog_interval_from("20000000") == 10000);
    CHECK(watchdog_interval_from("1000") == 1);  // never 0: a 0 ms ping interval would spin
    CHECK_FALSE(watchdog_interval_from(nullptr));
    CHECK_FALSE(watchdog_interval_from(""));
    CHECK_FALSE(watchdog_interval_from("0"));
    CHECK_FALSE(watchdog_interval_from("12x"));
    CHECK_FALSE(watchdog_interval_from("-5"));
}

namespace {
// A datagram socket standing in for systemd; `abstract`: "@name" address.
struct FakeSystemd {
    int fd = -1;
    std::string env;
    explicit FakeSystemd(const std::string& where, bool abstract) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::string path = abstract ? std::string(1, '\0') + where : where;
        std::memcpy(a.sun_path, path.data(), path.size());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a),
                       static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size())) == 0);
        env = abstract ? "@" + where : where;
    }
    ~FakeSystemd() { ::close(fd); }
    std::string receive() {
        char buf[512];
        timeval tv{2, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }
};
}  // namespace

TEST_CASE("sd_notify reaches a path socket and an abstract one") {
    testing::TempDir tmp;
    for (bool abstract : {false, true}) {
        CAPTURE(abstract);
        FakeSystemd sd(abstract ? "cp-test-notify-" + std::to_string(::getpid()) : (tmp / "notify").string(), abstract);
        ::setenv("NOTIFY_SOCKET", sd.env.c_str(), 1);
        ::setenv("WATCHDOG_USEC", "3000000", 1);
        ::unsetenv("WATCHDOG_PID");
        Notifier n;
        CHECK(n.enabled());
        CHECK(n.watchdog_interval_ms() == 1500);
        REQUIRE(n.send("READY=1"));
        CHECK(sd.receive() == "READY=1");
        REQUIRE(n.send("STATUS=scans 3"));
        CHECK(sd.receive() == "STATUS=scans 3");
    }
    // The watchdog belongs to another process: no pings from this one.
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    Notifier other;
    CHECK_FALSE(other.watchdog_interval_ms());
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    Notifier none;
    CHECK_FALSE(none.enabled());
    CHECK(none.send("READY=1"));  // outside systemd: a no-op
}

TEST_CASE("the mailbox keeps only the newest frame") {
    FrameMailbox box;
    for (std::uint64_t i = 0; i < 5; ++i) {
        camera::Frame f;
        f.sequence = i;
        box.put(std::move(f));
    }
    auto f = box.take(10);
    REQUIRE(f);
    CHECK(f->sequence == 4);
    CHECK(box.dropped() == 4);
    CHECK_FALSE(box.take(10));
    CHECK_FALSE(box.drained());
    std::thread producer([&] {
        camera::Frame g;
        g.sequence = 9;
        box.put(std::move(g));
    });
    auto g = box.take(5000);
    producer.join();
    REQUIRE(g);
    CHECK(g->sequence == 9);
    box.close();
    CHECK(box.drained());
    CHECK_FALSE(box.take(5000));  // closed: returns at once, no frame
}

TEST_CASE("inspector lines on a file descriptor") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    auto in = input::open_line_input(p[0], "pipe");
    const std::string text = "plate hle-12345\nallow\nbogus\nout\n-\n";
    REQUIRE(::write(p[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(p[1]);
    std::vector<input::InputEvent> got;
    for (int i = 0; i < 10; ++i) {
        auto e = in->poll(100);
        REQUIRE(e);
        if (*e) got.push_back(**e);
    }
    REQUIRE(got.size() == 4);
    CHECK(std::get<input::PlateEntered>(got[0]).text == "HLE-12345");
    CHECK(std::get<input::ManualDecision>(got[1]).decision == lane::Decision::allow);
    CHECK(std::get<input::DirectionSet>(got[2]).direction == lane::Direction::out);
    CHECK(std::get<input::ManualDecision>(got[3]).decision == lane::Decision::deny);
    ::close(p[0]);
}

TEST_CASE("json line times carry milliseconds") {
    CHECK(iso8601_ms(1767225600123) == "2026-01-01T00:00:00.123Z");
    CHECK(iso8601_ms(1767225600000) == "2026-01-01T00:00:00.000Z");
}
