#include "tools/upstream/console/identity.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <cctype>
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
    const char last = id[17] == 'x' ? 'X' : id[17];
    return last == kCheck[sum % 11];
}

std::string id_hash(ByteView secret, std::string_view id) {
    std::string upper(id);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(upper.data()), upper.size(), mac, &len);
    return to_hex(ByteView(mac, len));
}

Result<Bytes> load_id_secret(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail(ErrorKind::io, "id-secret", path + ": cannot read");
    if ((st.st_mode & 077) != 0) return fail(ErrorKind::config, "id-secret", path + ": must be mode 0600");
    std::ifstream f(path, std::ios::binary);
    Bytes b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (b.size() < 32) return fail(ErrorKind::config, "id-secret", path + ": fewer than 32 bytes");
    return b;
}

namespace {
// Byte offsets of the UTF-8 code points of `s` (malformed bytes count as one each).
std::vector<std::size_t> code_points(std::string_view s) {
    std::vector<std::size_t> at;
    for (std::size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
    return at;
}
}  // namespace

std::string mask_name(std::string_view name) {
    const auto at = code_points(name);
    if (at.empty()) return {};
    // Compound surnames (欧阳, 司马): a name of four characters or more keeps two.
    const std::size_t keep = at.size() >= 4 ? 2 : 1;
    const std::size_t end = keep < at.size() ? at[keep] : name.size();
    std::string out(name.substr(0, end));
    out.append(at.size() > keep ? at.size() - keep : 1, '*');
    return out;
}

std::string mask_phone(std::string_view phone) {
    if (phone.size() <= 7) return std::string(phone.size(), '*');
    std::string out(phone.substr(0, 3));
    out.append(phone.size() - 7, '*');
    out.append(phone.substr(phone.size() - 4));
    return out;
}

}  // namespace cp::upstream::console
