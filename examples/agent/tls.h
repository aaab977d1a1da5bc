/*
 * tls.h — the agent's TLS 1.3 server context: a self-signed P-256
 * certificate made at start (SAN IP:127.0.0.1, DNS:localhost), session
 * tickets and the session cache off, so that every connection is one full
 * handshake and a relying party never resumes into a new channel.
 */
#ifndef EXAMPLES_AGENT_TLS_H
#define EXAMPLES_AGENT_TLS_H

#include <openssl/ssl.h>

/**
 * Make the server context. If @cert_out is not NULL the certificate (PEM)
 * is written there for relying parties to trust. With @client_ca (PEM) a
 * client must present a certificate that chains to it (mutual TLS: only
 * the relying parties it names can connect, hold a connection slot or send
 * app requests). NULL on failure (printed).
 */
SSL_CTX *agent_tls_ctx(const char *cert_out, const char *cn, const char *client_ca);

#endif
