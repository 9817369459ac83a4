#include "src/status/version_floor.hpp"
#include "src/status/reason.hpp"

#include "src/common/file_io.hpp"
#include "src/common/log.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace cp::status {
namespace {

constexpr const char* kCat = "status";
constexpr std::size_t kMaxFloorFileBytes = 64;

Failure floor_error(const std::string& msg) { return fail(ErrorKind::io, reason::version_floor, msg); }

Status write_floor(const std::string& path, std::int64_t version) {
    return write_file_atomically(path, std::to_string(version) + "\n", path + ".tmp", reason::version_floor);
}

}  // namespace

std::string list_floor_path(const std::string& db_path) { return db_path + ".floor"; }

std::string trust_floor_path(const std::string& trust_dir) {
    return (std::filesystem::path(trust_dir) / "upstream-trust.floor").string();
}

Result<std::int64_t> read_version_floor(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        if (ec) return floor_error("stat " + path + ": " + ec.message());
        return std::int64_t{0};
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return floor_error("cannot read " + path);
    std::string text(kMaxFloorFileBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFloorFileBytes || text.empty() || text.back() != '\n')
        return floor_error(path + " is not a version floor file");
    text.pop_back();
    std::int64_t v = -1;
    auto [p, e] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (e != std::errc() || p != text.data() + text.size() || v < 0 || v > kMaxListVersion)
        return floor_error(path + " is not a version floor file");
    return v;
}

Status admit_version(const std::string& path, std::int64_t version, Reason older_reason,
                     Reason bound_reason) {
    if (version < 1 || version > kMaxListVersion)
        return fail(ErrorKind::invalid_input, bound_reason,
                    "version " + std::to_string(version) + " outside 1.." + std::to_string(kMaxListVersion));
    auto floor = read_version_floor(path);
    if (!floor) return fail(floor.error());
    if (version < *floor)
        return fail(ErrorKind::rejected, older_reason,
                    "version " + std::to_string(version) + " is older than version " + std::to_string(*floor) +
                        " installed before (" + path + ")");
    if (version == *floor) return {};
    return write_floor(path, version);
}

Status reset_version_floor(const std::string& path, std::int64_t version, const std::string& why) {
    auto old = read_version_floor(path);
    log::warn(kCat, "version floor reset by override",
              {{"path", path}, {"from", old ? std::to_string(*old) : "unreadable"},
               {"to", std::to_string(version)}, {"why", why}});
    if (version == 0) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return floor_error("unlink " + path + ": " + std::strerror(errno));
        return {};
    }
    if (version < 0 || version > kMaxListVersion) return floor_error("floor outside 0.." + std::to_string(kMaxListVersion));
    return write_floor(path, version);
}

}  // namespace cp::status
