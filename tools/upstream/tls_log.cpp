#include "tools/upstream/tls_log.hpp"

#include "src/common/log.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace cp::upstream {
namespace {

std::string peer_address(const SSL* ssl) {
    const int fd = SSL_get_fd(ssl);
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return "unknown";
    char host[INET6_ADDRSTRLEN] = {};
    unsigned port = 0;
    if (sa.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const auto* in = reinterpret_cast<const sockaddr_in6*>(&sa);
        ::inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
        port = ntohs(in->sin6_port);
    } else {
        return "unknown";
    }
    return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

void log_tls_alert(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_ALERT) == 0 || (ret >> 8) != SSL3_AL_FATAL) return;
    const std::string alert = SSL_alert_desc_string_long(ret);
    if (where & SSL_CB_WRITE) {
        // We refused the device: usually its certificate (not from the --client-ca, expired, none).
        const long verify = SSL_get_verify_result(ssl);
        log::warn("upstream", "TLS handshake refused: the device's certificate was not accepted",
                  {{"peer", peer_address(ssl)},
                   {"alert", alert},
                   {"certificate", verify == X509_V_OK ? "-" : X509_verify_cert_error_string(verify)}});
    } else {
        // The device refused us: usually our certificate is not from its fleet CA, or expired.
        log::warn("upstream", "TLS handshake refused by the device: it does not accept the server certificate",
                  {{"peer", peer_address(ssl)}, {"alert", alert}});
    }
}

}  // namespace cp::upstream
