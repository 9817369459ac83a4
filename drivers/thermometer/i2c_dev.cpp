// The Linux SMBus: one I2C_RDWR ioctl per transaction, so the write of the
// command and the read of the reply are joined by a repeated start, which the
// MLX90614 requires (a stop in between makes it return the wrong register).
#include "drivers/thermometer/thermometer.hpp"
#include "drivers/thermometer/reason.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vector>

namespace cp::thermo {
namespace {

class I2cDevBus final : public SmbusBus {
public:
    I2cDevBus(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    ~I2cDevBus() override { ::close(fd_); }
    I2cDevBus(const I2cDevBus&) = delete;
    I2cDevBus& operator=(const I2cDevBus&) = delete;

    Status write_read(std::uint8_t address7, std::span<const std::uint8_t> out,
                      std::span<std::uint8_t> in) override {
        if (out.size() > 32 || in.size() > 32)
            return fail(ErrorKind::internal, reason::i2c, "SMBus block longer than 32 bytes");
        std::vector<std::uint8_t> wbuf(out.begin(), out.end());  // i2c_msg wants non-const
        i2c_msg msgs[2] = {};
        msgs[0].addr = address7;
        msgs[0].flags = 0;
        msgs[0].len = static_cast<__u16>(wbuf.size());
        msgs[0].buf = wbuf.data();
        msgs[1].addr = address7;
        msgs[1].flags = I2C_M_RD;
        msgs[1].len = static_cast<__u16>(in.size());
        msgs[1].buf = in.data();
        i2c_rdwr_ioctl_data data{msgs, 2};
        if (::ioctl(fd_, I2C_RDWR, &data) < 0) {
            const int err = errno;
            // ENXIO / EREMOTEIO: no ACK from the address — sensor unplugged or dead.
            if (err == ENXIO || err == EREMOTEIO || err == ETIMEDOUT)
                return fail(ErrorKind::unavailable, reason::nack, path_ + ": " + std::strerror(err));
            return fail(ErrorKind::io, reason::i2c, path_ + ": " + std::strerror(err));
        }
        return {};
    }

private:
    int fd_;
    std::string path_;
};

}  // namespace

Result<std::unique_ptr<SmbusBus>> open_i2c_dev(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail(ErrorKind::unavailable, reason::no_bus, path + ": " + std::strerror(errno));
    return std::unique_ptr<SmbusBus>(new I2cDevBus(fd, path));
}

}  // namespace cp::thermo
