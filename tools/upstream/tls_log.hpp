// Every TLS handshake the upstream server refuses, or that a device refuses,
// logged with the peer's address and the reason (the alert, and the
// certificate check that failed): a technician at the command centre sees which
// device was turned away and why.
#pragma once

#include <openssl/ssl.h>

namespace cp::upstream {

// Logs a fatal alert, sent or received: call it from the server context's info
// callback (OpenSSL's SSL_CTX_set_info_callback arguments), which also counts
// connections per address (server.cpp).
void log_tls_alert(const SSL* ssl, int where, int ret);

}  // namespace cp::upstream
