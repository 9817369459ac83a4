#include "tools/upstream/console/identity.hpp"

#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace cp::upstream::console {

bool valid_id_number(std::string_view id) {
    if (id.size() != 18) return false;
    static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static constexpr char kCheck[] = "10X98765432";
    int sum = 0;
    for (std::size_t i = 0; i < 17; ++i) {
        if (id[i] < '0' || id[i] > '9') return false;
        sum += (id[i] - '0') * kWeights[i];
    }
    const int month = (id[10] - '0') * 10 + (id[11] - '0');
    const int day = (id[12] - '0') * 10 + (id[13] - '0');
    if (month < 1 || month > 12 || day < 1 || day > 31) return false;
    char last = id[17] == 'x' ? 'X' : id[17];
    return last == kCheck[sum % 11];
}

std::string id_hash(ByteView secret, std::string_view id) {
    std::string upper(id);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
    crypto_auth_hmacsha256_state st;
    std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
    crypto_auth_hmacsha256_init(&st, secret.data(), secret.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(upper.data()), upper.size());
    crypto_auth_hmacsha256_final(&st, mac.data());
    sodium_memzero(&st, sizeof st);
    return to_hex(mac);
}

Result<Bytes> load_id_secret(const std::string& path) {
    struct stat sb{};
    if (::stat(path.c_str(), &sb) != 0)
        return fail(ErrorKind::io, reason::id_secret, path + ": " + std::strerror(errno));
    if ((sb.st_mode & 077) != 0)
        return fail(ErrorKind::config, reason::id_secret, path + ": readable by others (chmod 600)");
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorKind::io, reason::id_secret, path + ": cannot open");
    Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (b.size() < kMinIdSecretBytes)
        return fail(ErrorKind::config, reason::id_secret,
                    path + ": fewer than " + std::to_string(kMinIdSecretBytes) + " bytes");
    return b;
}

Status create_id_secret(const std::string& path) {
    if (sodium_init() < 0) return fail(ErrorKind::internal, reason::id_secret, "libsodium");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return fail(ErrorKind::rejected, reason::id_secret, path + ": exists; not replaced");
        return fail(ErrorKind::io, reason::id_secret, path + ": " + std::strerror(errno));
    }
    std::array<std::uint8_t, kMinIdSecretBytes> key{};
    randombytes_buf(key.data(), key.size());
    const bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
    sodium_memzero(key.data(), key.size());
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
        return fail(ErrorKind::io, reason::id_secret, path + ": write failed");
    }
    return {};
}

namespace {

// Code points of well-formed UTF-8 (a malformed byte counts as one character).
std::vector<std::string_view> code_points(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
        if (i + n > s.size()) n = 1;
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

bool compound_surname(std::string_view a, std::string_view b) {
    static constexpr std::string_view kCompound[] = {
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "令狐", "端木", "独孤", "南宫", "西门", "轩辕", "呼延"};
    std::string two(a);
    two += b;
    return std::find(std::begin(kCompound), std::end(kCompound), two) != std::end(kCompound);
}

}  // namespace

std::string mask_name(std::string_view utf8_name) {
    auto cps = code_points(utf8_name);
    if (cps.empty()) return {};
    if (cps.size() == 1) return "*";  // a one-character name would be shown whole
    const std::size_t keep = cps.size() > 2 && compound_surname(cps[0], cps[1]) ? 2 : 1;
    std::string out;
    for (std::size_t i = 0; i < cps.size(); ++i)
        out += i < keep ? std::string(cps[i]) : std::string(cps[i] == " " ? " " : "*");
    return out;
}

std::string mask_phone(std::string_view phone) {
    std::string out(phone);
    if (out.size() >= 7) {
        for (std::size_t i = 3; i + 4 < out.size(); ++i) out[i] = '*';
    } else {
        for (std::size_t i = 0; i + 2 < out.size(); ++i) out[i] = '*';
    }
    return out;
}

bool valid_phone(std::string_view phone) {
    if (!phone.empty() && phone.front() == '+') phone.remove_prefix(1);
    return phone.size() >= 6 && phone.size() <= 15 &&
           std::all_of(phone.begin(), phone.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace cp::upstream::console
