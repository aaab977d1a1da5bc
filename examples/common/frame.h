/*
 * frame.h — the agent protocol's framing over one TLS 1.3 connection
 * (docs/agent-protocol.md).
 *
 *   frame = type[1] || length[4, big-endian] || payload[length]
 *
 * Shared by examples/agent and examples/relying-party. Reads and writes are
 * blocking SSL_read/SSL_write on a connected SSL; a frame is written with
 * one SSL_write so that a concurrent reader never sees half a header.
 * Lengths are checked against the per-type maximum before the payload is
 * read, so a peer cannot make the other side allocate more than that.
 */
#ifndef EXAMPLES_FRAME_H
#define EXAMPLES_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

#define FRAME_HDR_LEN 5

/* Frame types (docs/agent-protocol.md §2). */
enum frame_type {
    FRAME_ATTEST_REQUEST = 0x01,  /* RP -> agent: nonce[32] */
    FRAME_EVIDENCE = 0x02,        /* agent -> RP: CMW collection, JSON */
    FRAME_POSTURE_CHANGED = 0x03, /* agent -> RP, unsolicited: JSON notice */
    FRAME_APP_REQUEST = 0x10,     /* RP -> agent: application request (UTF-8 text) */
    FRAME_APP_RESPONSE = 0x11,    /* agent -> RP: application response (UTF-8 text) */
    FRAME_ERROR = 0x7f,           /* agent -> RP: code[1] || UTF-8 message */
};

/* Error codes carried in FRAME_ERROR (first payload byte). */
enum frame_error {
    FRAME_ERR_MALFORMED = 1,   /* bad length for the type; the connection is closed after it */
    FRAME_ERR_UNKNOWN_TYPE = 2,/* type not known; the connection stays open */
    FRAME_ERR_TOO_LARGE = 3,   /* length above the type's limit; connection closed */
    FRAME_ERR_ATTEST = 4,      /* the agent could not produce evidence (TPM failure) */
    FRAME_ERR_APP = 5,         /* the application refused the request */
    FRAME_ERR_POSTURE = 6,     /* app-request not run: the posture changed since this
                                * connection's last evidence (attest again); stays open */
};

/* Limits (payload bytes). */
#define FRAME_NONCE_LEN 32
#define FRAME_APP_MAX 4096                   /* app request/response text */
#define FRAME_NOTICE_MAX 4096                /* posture-changed notice */
#define FRAME_ERROR_MAX 1024
#define FRAME_EVIDENCE_MAX (1024 * 1024)     /* = VFY_CMW_MAX */

/** Largest payload allowed for @type, 0 for an unknown type. */
size_t frame_max_payload(uint8_t type);

/** Human name of @type ("attest-request", ...), "unknown" otherwise (static). */
const char *frame_type_name(uint8_t type);

/**
 * Write one frame. Returns 0 on success, -1 if the connection failed or
 * @len exceeds the type's limit.
 */
int frame_write(SSL *ssl, uint8_t type, const void *payload, size_t len);

/**
 * Write frame (@t1, @p1, @l1) and, unless @t2 is 0, frame (@t2, @p2, @l2)
 * right behind it in one buffer, so that they reach the peer together.
 * Returns as frame_write().
 */
int frame_write_pair(SSL *ssl, uint8_t t1, const void *p1, size_t l1, uint8_t t2,
                     const void *p2, size_t l2);

/** Result of frame_read() and frame_read_within(). */
enum frame_rc {
    FRAME_OK = 0,
    FRAME_EOF = -1,       /* the peer closed the connection (clean or not) */
    FRAME_IO = -2,        /* TLS or socket error */
    FRAME_TOO_LARGE = -3, /* declared length above the type's limit (payload not read) */
    FRAME_UNKNOWN = -4,   /* unknown type; the payload (at most FRAME_APP_MAX) was skipped */
    FRAME_NOMEM = -5,
    FRAME_TIMEOUT = -6,   /* frame_read_within(): not whole by its deadline (out of sync: close) */
};

/**
 * After poll() said the connection's socket @fd is readable: 1 if
 * application data (a frame) can be read now, 0 if the readable bytes were
 * only TLS housekeeping — a TLS 1.3 KeyUpdate or session ticket, which
 * OpenSSL has now processed — so the caller should poll again instead of
 * blocking in frame_read() until the peer's next frame, and -1 on EOF or
 * error (frame_read() then reports which). Peeks with @fd non-blocking for
 * the call; the SSL must not be used by another thread meanwhile.
 */
int frame_data_ready(SSL *ssl, int fd);

/** Who sent the frame being read: its type must be one that peer sends. */
enum frame_peer { FRAME_FROM_RP, FRAME_FROM_AGENT };

/**
 * Read one frame sent by @from. On FRAME_OK *@type is set and *@payload
 * (owned by the caller, free(); NUL-terminated for convenience, the NUL not
 * counted in *@len) holds *@len bytes. A known type that @from does not send
 * (say, evidence sent to the agent) is read like an unknown one: its payload,
 * at most FRAME_APP_MAX, is skipped (FRAME_UNKNOWN) — never allocated at its
 * type's own limit. On FRAME_TOO_LARGE and FRAME_UNKNOWN *@type is set; the
 * stream is out of sync after FRAME_TOO_LARGE, so close.
 */
int frame_read(SSL *ssl, enum frame_peer from, uint8_t *type, uint8_t **payload, size_t *len);

/**
 * frame_read(), but the whole frame must have arrived @timeout_ms after the
 * call (FRAME_TIMEOUT otherwise; < 0: no bound, as frame_read()). A socket
 * timeout bounds each read only: a peer that sent one byte now and then
 * held the reader inside one frame for as long as it liked (a 1 MiB frame,
 * weeks). @fd, @ssl's socket, is non-blocking during the call.
 */
int frame_read_within(SSL *ssl, int fd, enum frame_peer from, int timeout_ms, uint8_t *type,
                      uint8_t **payload, size_t *len);

/**
 * The TLS handshake on @ssl (a client's or a server's, as @ssl was set up)
 * finished within @timeout_ms in all, @fd non-blocking meanwhile: 1 done,
 * 0 failed (frame_tls_reason() says why), FRAME_TIMEOUT not finished in
 * time, FRAME_EOF the socket was shut down or reset meanwhile.
 */
int frame_handshake(SSL *ssl, int fd, int timeout_ms);

/**
 * OpenSSL's reason for the last TLS failure on this thread ("tlsv13 alert
 * certificate required", "peer did not return a certificate", ...), or
 * "no TLS detail" when it gave none (a timeout, a reset). Clears the
 * thread's error queue. For one-line log messages.
 */
const char *frame_tls_reason(void);

/**
 * Peer text for a log line: the first @cap - 1 bytes of @in (@len bytes)
 * with every byte that is not printable ASCII replaced by '?', so that a
 * peer cannot forge or split log lines (newlines, escape sequences). @cap
 * must be at least 1. Returns @out.
 */
const char *frame_printable(const void *in, size_t len, char *out, size_t cap);

#endif
