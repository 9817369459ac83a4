// Mutual TLS of the device listener: device identity from the peer certificate,
// open connections capped per peer address, unanswered bytes capped per connection.
#include "tools/upstream/server_parts.hpp"
#include "tools/upstream/tls_log.hpp"

#include "src/common/device_id.hpp"
#include "src/common/log.hpp"
#include "src/common/time.hpp"
#include "tools/upstream/lists.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <utility>

namespace cp::upstream {

using namespace detail;

namespace {

std::optional<PeerIdentity> identity_of(X509* cert) {
    PeerIdentity id;
    X509_NAME* name = X509_get_subject_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    // Exactly one CN: two would make the identity ambiguous.
    if (idx >= 0 && X509_NAME_get_index_by_NID(name, NID_commonName, idx) < 0) {
        ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
        unsigned char* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n > 0) id.cn.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
        OPENSSL_free(utf8);
    }
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    if (len > 0) id.fingerprint = fingerprint(ByteView(der, static_cast<std::size_t>(len)));
    OPENSSL_free(der);
    if (id.cn.empty() || id.fingerprint.empty()) return std::nullopt;
    return id;
}

struct ConnectionToken {
    std::shared_ptr<ConnectionCap> cap;
    std::string addr;
    // TLS record bytes received since the server last sent one: a request line,
    // headers and body. httplib 0.11 holds a request line or header of any length
    // in memory, so the connection is cut past this budget.
    std::size_t unanswered = 0;
    std::size_t max_unanswered = 0;
    ~ConnectionToken() { cap->release(addr); }
};

void free_connection_token(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<ConnectionToken*>(ptr);
}

int ssl_token_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_connection_token);
    return idx;
}

int ctx_cap_index() {
    static const int idx = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

std::optional<std::string> peer_address(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    char buf[INET6_ADDRSTRLEN] = {};
    const void* a = ss.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr);
    if (!inet_ntop(ss.ss_family, a, buf, sizeof buf)) return std::nullopt;
    return std::string(buf);
}

void on_tls_info(const SSL* ssl, int where, int ret) {
    log_tls_alert(ssl, where, ret);
    if (!(where & SSL_CB_HANDSHAKE_START)) return;
    SSL* s = const_cast<SSL*>(ssl);  // OpenSSL passes const; ex_data needs the object
    if (SSL_get_ex_data(s, ssl_token_index())) return;  // counted already
    auto* holder = static_cast<std::shared_ptr<ConnectionCap>*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_cap_index()));
    if (!holder) return;
    const int fd = SSL_get_fd(ssl);
    auto addr = fd >= 0 ? peer_address(fd) : std::nullopt;
    if (!addr) return;
    if (!(*holder)->acquire(*addr)) {
        // The handshake's next read sees end of stream and httplib closes the socket.
        ::shutdown(fd, SHUT_RDWR);
        static std::atomic<std::int64_t> last_log_ms{0};
        const std::int64_t now = monotonic_now_ms();
        std::int64_t last = last_log_ms.load();
        if (now - last >= 10'000 && last_log_ms.compare_exchange_strong(last, now))
            log::warn(kCat, "connections over the per-address cap closed",
                      {{"address", *addr},
                       {"max_per_address", std::to_string((*holder)->max())},
                       {"closed", std::to_string((*holder)->take_refused())}});
        return;
    }
    SSL_set_ex_data(s, ssl_token_index(),
                    new ConnectionToken{*holder, *addr, 0, (*holder)->max_unanswered});
}

// Every TLS record header, read or written (OpenSSL's message callback).
void on_tls_record(int write_p, int, int content_type, const void* buf, std::size_t len,
                   SSL* ssl, void*) {
    if (content_type != SSL3_RT_HEADER || len < SSL3_RT_HEADER_LENGTH) return;
    auto* token = static_cast<ConnectionToken*>(SSL_get_ex_data(ssl, ssl_token_index()));
    if (!token) return;
    if (write_p) {
        token->unanswered = 0;
        return;
    }
    const auto* h = static_cast<const unsigned char*>(buf);
    token->unanswered += (static_cast<std::size_t>(h[3]) << 8) | h[4];
    if (token->unanswered > token->max_unanswered) {
        const int fd = SSL_get_fd(ssl);
        if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
}


}  // namespace

namespace detail {

std::optional<PeerIdentity> peer_identity(const SSL* ssl) {
    if (!ssl) return std::nullopt;
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return std::nullopt;
    auto id = identity_of(cert);
    X509_free(cert);
    return id;
}

bool ConnectionCap::acquire(const std::string& addr) {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t& n = open_[addr];
    if (n >= max_) {
        ++refused_;
        return false;
    }
    ++n;
    return true;
}

void ConnectionCap::release(const std::string& addr) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = open_.find(addr);
    if (it == open_.end()) return;
    if (--it->second == 0) open_.erase(it);
}

std::size_t ConnectionCap::take_refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(refused_, 0);
}

bool configure_device_tls(SSL_CTX& ctx, const ServerConfig& cfg, std::shared_ptr<ConnectionCap>* cap) {
    const std::string& ca = cfg.client_ca_path;
    if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) return false;
    if (SSL_CTX_use_certificate_chain_file(&ctx, cfg.cert_path.c_str()) != 1) return false;
    if (SSL_CTX_use_PrivateKey_file(&ctx, cfg.key_path.c_str(), SSL_FILETYPE_PEM) != 1) return false;
    if (SSL_CTX_check_private_key(&ctx) != 1) return false;
    if (SSL_CTX_load_verify_locations(&ctx, ca.c_str(), nullptr) != 1) return false;
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
    if (!names) return false;
    SSL_CTX_set_client_CA_list(&ctx, names);
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_ex_data(&ctx, ctx_cap_index(), cap) != 1) return false;
    SSL_CTX_set_info_callback(&ctx, on_tls_info);  // also logs refused handshakes
    SSL_CTX_set_msg_callback(&ctx, on_tls_record);
    // Without a session id context OpenSSL aborts every resumed session of a
    // verified client ("internal error" alert): libcurl resumes on reconnect.
    static const unsigned char kSessionContext[] = "checkpoint-upstream";
    return SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1) == 1;
}

// httplib 0.11 listens with a backlog of 5 (a compiled-in constant): a burst of
// connections, such as a fleet reconnecting after an outage, overflows the accept
// queue and the kernel drops SYNs (retried after 1 s, 3 s, ...). listen() again on
// the bound socket sets a larger backlog; the socket is found by its port.
void widen_listen_backlog(int port) {
    constexpr int kBacklog = 256;
    constexpr int kMaxFd = 4096;
    for (int fd = 0; fd < kMaxFd; ++fd) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
            continue;
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
        const int p = ss.ss_family == AF_INET6
                          ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                          : ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                                    : -1;
        if (p == port) (void)::listen(fd, kBacklog);
    }
}

}  // namespace detail

Result<CertificateIdentity> certificate_identity(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    if (!bio) return fail(ErrorKind::internal, reason::openssl);
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!cert) return fail(ErrorKind::invalid_input, reason::certificate, "not a PEM certificate");
    auto id = identity_of(cert);
    X509_free(cert);
    if (!id) return fail(ErrorKind::invalid_input, reason::subject, "certificate needs exactly one CN");
    // The device's own configuration refuses any other id (src/common/device_id.hpp).
    if (!is_device_id(id->cn))
        return fail(ErrorKind::invalid_input, reason::subject,
                    std::string("the CN is not a device id (") + kDeviceIdRule + ")");
    return CertificateIdentity{id->cn, id->fingerprint};
}

}  // namespace cp::upstream
