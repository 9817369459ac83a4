// ID numbers (check digit, keyed hash, secret file), masking, and the SMS senders:
// the outbox writes one whole file per message, the gateway backend posts the
// filled template to a local fake gateway, and both keep the per-phone limit.
#include "src/common/bytes.hpp"
#include "tests/testing.hpp"
#include "tools/upstream/console/console_store.hpp"
#include "tools/upstream/console/identity.hpp"
#include "tools/upstream/console/sms.hpp"
#include "tools/upstream/store.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

using namespace cp;
using namespace cp::upstream::console;

namespace {

// The per-phone counts of a fresh upstream + console SQLite file in `dir`.
std::shared_ptr<RateLimits> store_limits(const cp::testing::TempDir& dir) {
    const std::string db = (dir / "cc.db").string();
    auto up = cp::upstream::open_store(db);
    REQUIRE(up.ok());
    auto cs = open_console_store(db);
    REQUIRE(cs.ok());
    auto l = RateLimits::open(db);
    REQUIRE(l.ok());
    return *l;
}

// Valid numbers (check digits computed by GB 11643).
constexpr const char* kId1 = "11010519491231002X";
constexpr const char* kId2 = "440524188001010014";

std::vector<std::filesystem::path> files_in(const std::filesystem::path& d) {
    std::vector<std::filesystem::path> out;
    if (!std::filesystem::exists(d)) return out;
    for (const auto& e : std::filesystem::directory_iterator(d)) out.push_back(e.path());
    return out;
}

std::string slurp(const std::filesystem::path& p) { return cp::testing::read_file(p); }

}  // namespace

TEST_CASE("resident ID numbers: GB 11643 check digit, 'X' either case, dates") {
    CHECK(valid_id_number(kId1));
    CHECK(valid_id_number("11010519491231002x"));
    CHECK(valid_id_number(kId2));
    CHECK_FALSE(valid_id_number("110105194912310021"));  // wrong check digit
    CHECK_FALSE(valid_id_number("440524188001010015"));
    CHECK_FALSE(valid_id_number("44052418800101001"));   // 17 characters
    CHECK_FALSE(valid_id_number("4405241880010100144"));
    CHECK_FALSE(valid_id_number("44052418801301001X"));  // month 13
    CHECK_FALSE(valid_id_number("4405241880a101001X"));
    CHECK_FALSE(valid_id_number(""));
}

TEST_CASE("id_hash is keyed HMAC-SHA-256 of the upper-cased number") {
    const std::string k1(32, 'k'), k2(32, 'j');
    const auto h = id_hash(as_bytes(k1), kId1);
    CHECK(h.size() == 64);
    CHECK(h == id_hash(as_bytes(k1), "11010519491231002x"));
    CHECK(h != id_hash(as_bytes(k2), kId1));
    CHECK(h != id_hash(as_bytes(k1), kId2));
    // Standard HMAC-SHA-256 of the upper-cased text (value from Python's hmac module:
    // hmac.new(b'Jefe', b'WHAT DO YA WANT FOR NOTHING?', hashlib.sha256)).
    CHECK(id_hash(as_bytes(std::string("Jefe")), "what do ya want for nothing?") ==
          "0c2fe188bd4f39005b75d81fd7ac8ad1ad97d177c13ff21f4ff86639860621db");
    CHECK(h.find(kId1) == std::string::npos);
}

TEST_CASE("the ID secret: created 0600, refused when others may read it or when short") {
    cp::testing::TempDir dir;
    const std::string p = (dir / "id.key").string();
    REQUIRE(create_id_secret(p).ok());
    struct stat sb{};
    REQUIRE(::stat(p.c_str(), &sb) == 0);
    CHECK((sb.st_mode & 0777) == 0600);
    auto s = load_id_secret(p);
    REQUIRE(s.ok());
    CHECK(s->size() == kMinIdSecretBytes);
    auto again = create_id_secret(p);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().kind == ErrorKind::rejected);
    CHECK(*load_id_secret(p) == *s);  // not replaced
    ::chmod(p.c_str(), 0644);
    auto open = load_id_secret(p);
    REQUIRE_FALSE(open.ok());
    CHECK(open.error().is(ErrorKind::config, reason::id_secret));
    const std::string shortp = (dir / "short.key").string();
    std::ofstream(shortp) << "too short";
    ::chmod(shortp.c_str(), 0600);
    CHECK(load_id_secret(shortp).error().kind == ErrorKind::config);
    CHECK(load_id_secret((dir / "missing").string()).error().kind == ErrorKind::io);
}

TEST_CASE("masking names and phones") {
    CHECK(mask_name("张三") == "张*");
    CHECK(mask_name("张三丰") == "张**");
    CHECK(mask_name("欧阳娜娜") == "欧阳**");
    CHECK(mask_name("欧阳") == "欧*");
    CHECK(mask_name("王") == "*");
    CHECK(mask_name("Li Lei") == "L* ***");
    CHECK(mask_name("") == "");
    CHECK(mask_phone("13812345678") == "138****5678");
    CHECK(mask_phone("+8613812345678") == "+86*******5678");
    CHECK(mask_phone("12345") == "***45");
    CHECK(valid_phone("13812345678"));
    CHECK(valid_phone("+8613812345678"));
    CHECK_FALSE(valid_phone("138-1234-5678"));
    CHECK_FALSE(valid_phone("12345"));
}

TEST_CASE("SMS outbox: one whole file per message, typed errors, per-phone hourly limit") {
    cp::testing::TempDir dir;
    std::atomic<std::int64_t> now{1'800'000'000};
    SmsConfig c;
    c.outbox_dir = (dir / "outbox").string();
    c.per_phone_per_hour = 2;
    c.clock_s = [&] { return now.load(); };
    c.limits = store_limits(dir);
    auto s = make_sms_sender(c);
    REQUIRE(s->send("13812345678", "您的通行证: https://cc.example/p/abc").ok());
    auto files = files_in(c.outbox_dir);
    REQUIRE(files.size() == 1);
    CHECK(files[0].extension() == ".sms");
    CHECK(slurp(files[0]) == "To: 13812345678\n\n您的通行证: https://cc.example/p/abc\n");
    REQUIRE(s->send("13812345678", "second").ok());
    auto third = s->send("13812345678", "third");
    REQUIRE_FALSE(third.ok());
    CHECK(third.error().is(ErrorKind::rejected, reason::sms_rate_limit));
    CHECK(s->send("13900000000", "another phone").ok());
    CHECK(files_in(c.outbox_dir).size() == 3);
    now += 3601;  // an hour later the quota is back
    CHECK(s->send("13812345678", "third").ok());
    CHECK(s->send("not-a-phone", "x").error().is(ErrorKind::invalid_input, reason::sms_phone));
    CHECK(s->send("13812345678", "").error().is(ErrorKind::invalid_input, reason::sms_text));
    CHECK(s->send("13812345678", "bell\a").error().is(ErrorKind::invalid_input, reason::sms_text));
    CHECK(s->send("13812345678", std::string(kMaxSmsTextBytes + 1, 'a')).error().is(reason::sms_text));
    CHECK(files_in(c.outbox_dir).size() == 4);  // refused messages leave no file
}

TEST_CASE("SMS outbox: an unwritable folder is an io error and keeps the quota") {
    cp::testing::TempDir dir;
    std::ofstream(dir / "file") << "x";
    SmsConfig c;
    c.outbox_dir = (dir / "file" / "outbox").string();  // below a regular file
    c.per_phone_per_hour = 1;
    c.limits = store_limits(dir);
    auto s = make_sms_sender(c);
    auto r = s->send("13812345678", "hello");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(ErrorKind::io, reason::sms_outbox));
    c.outbox_dir = (dir / "ok").string();
    // The failed delivery gave its use back to the store: same phone, new folder, new sender.
    auto s2 = make_sms_sender(c);
    CHECK(s2->send("13812345678", "hello").ok());
}

TEST_CASE("SMS gateway: the template is filled and posted; errors are typed") {
    httplib::Server gw;
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> got;  // content type, body
    std::atomic<int> answer{200};
    gw.Post("/send", [&](const httplib::Request& q, httplib::Response& r) {
        std::lock_guard lock(mu);
        got.emplace_back(q.get_header_value("Content-Type"), q.body);
        r.status = answer.load();
        r.set_content("{}", "application/json");
    });
    const int port = gw.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread t([&] { gw.listen_after_bind(); });
    for (int i = 0; i < 2000 && !gw.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));

    cp::testing::TempDir dir;
    SmsConfig c;
    c.gateway_url = "http://127.0.0.1:" + std::to_string(port) + "/send";
    c.per_phone_per_hour = 3;
    c.limits = store_limits(dir);
    auto s = make_sms_sender(c);
    REQUIRE(s->send("13812345678", "通行证 \"link\" {phone}\nhttps://x/p/1").ok());
    c.body_template = "to={phone}&msg={text}";
    auto form = make_sms_sender(c);
    REQUIRE(form->send("+8613812345678", "a b&c").ok());
    answer = 503;
    auto down = s->send("13812345678", "x");
    REQUIRE_FALSE(down.ok());
    CHECK(down.error().is(ErrorKind::unavailable, reason::sms_gateway));
    answer = 200;
    // The failed message did not use the quota: two more fit (3 per hour).
    CHECK(s->send("13812345678", "y").ok());
    CHECK(s->send("13812345678", "z").ok());
    CHECK(s->send("13812345678", "over").error().is(reason::sms_rate_limit));
    gw.stop();
    t.join();
    {
        std::lock_guard lock(mu);
        REQUIRE(got.size() == 5);
        CHECK(got[0].first == "application/json");
        CHECK(got[0].second == R"({"to":"13812345678","text":"通行证 \"link\" {phone}\u000ahttps://x/p/1"})");
        CHECK(got[1].first == "application/x-www-form-urlencoded");
        CHECK(got[1].second == "to=%2B8613812345678&msg=a%20b%26c");
    }
    // Nobody listening any more: unavailable, not a crash or a hang.
    auto gone = make_sms_sender(c)->send("13900000001", "x");
    CHECK(gone.error().is(ErrorKind::unavailable, reason::sms_gateway));
    SmsConfig bad;
    bad.gateway_url = "ftp://x/y";
    CHECK(make_sms_sender(bad)->send("13812345678", "x").error().is(ErrorKind::config, reason::sms_config));
}
