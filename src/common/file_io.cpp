#include "src/common/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace cp {

Status write_file_atomically(const std::filesystem::path& path, std::string_view data,
                             const std::filesystem::path& tmp, Reason reason) {
    auto err = [&](const char* what) {
        const std::string msg = std::string(what) + " " + tmp.string() + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return fail(ErrorKind::io, reason, msg);
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err("open");
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return err("write");
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        ::close(fd);
        return err("fsync");
    }
    if (::close(fd) != 0) return err("close");
    if (::rename(tmp.c_str(), path.c_str()) != 0) return err("rename");
    const std::filesystem::path dir = path.parent_path();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

}  // namespace cp
