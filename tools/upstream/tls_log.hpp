// Every TLS handshake the upstream server refuses, or that a device refuses,
// logged with the peer's address and the reason (the alert, and the
// certificate check that failed): a technician at the command centre sees which
// device was turned away and why.
#pragma once

#include <openssl/ssl.h>

namespace cp::upstream {

// Installs the info callback on `ctx` (the server's TLS context).
void log_refused_handshakes(SSL_CTX& ctx);

}  // namespace cp::upstream
