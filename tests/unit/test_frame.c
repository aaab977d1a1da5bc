/*
 * test_frame.c — the examples' agent-protocol framing (examples/common/
 * frame.c) over a real TLS 1.3 connection on a socketpair: frames go both
 * ways, limits hold, and frame_data_ready() tells a frame from TLS
 * housekeeping (a KeyUpdate) without blocking.
 */
#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

typedef struct pair {
    SSL_CTX *sctx, *cctx;
    SSL *srv, *cli;   /* srv plays the agent, cli the relying party */
    int sfd, cfd;
} pair;

/* A self-signed P-256 certificate for the server side. */
static void self_signed(EVP_PKEY **key, X509 **cert)
{
    X509_NAME *name;

    cr_assert_not_null(*key = EVP_EC_gen("P-256"));
    cr_assert_not_null(*cert = X509_new());
    X509_set_version(*cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(*cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(*cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(*cert), 3600);
    X509_set_pubkey(*cert, *key);
    name = X509_get_subject_name(*cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"agent", -1, -1,
                               0);
    X509_set_issuer_name(*cert, name);
    cr_assert_gt(X509_sign(*cert, *key, EVP_sha256()), 0);
}

static void *accept_side(void *arg)
{
    SSL *s = arg;

    return SSL_accept(s) == 1 ? s : NULL;
}

static void pair_open(pair *p)
{
    int sv[2];
    EVP_PKEY *key;
    X509 *cert;
    pthread_t t;
    void *ok;

    memset(p, 0, sizeof(*p));
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->sfd = sv[0];
    p->cfd = sv[1];
    self_signed(&key, &cert);
    cr_assert_not_null(p->sctx = SSL_CTX_new(TLS_server_method()));
    cr_assert_not_null(p->cctx = SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(p->sctx, TLS1_3_VERSION);
    SSL_CTX_set_min_proto_version(p->cctx, TLS1_3_VERSION);
    SSL_CTX_set_num_tickets(p->sctx, 0);
    cr_assert_eq(SSL_CTX_use_certificate(p->sctx, cert), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey(p->sctx, key), 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    cr_assert_not_null(p->srv = SSL_new(p->sctx));
    cr_assert_not_null(p->cli = SSL_new(p->cctx));
    SSL_set_fd(p->srv, p->sfd);
    SSL_set_fd(p->cli, p->cfd);
    cr_assert_eq(pthread_create(&t, NULL, accept_side, p->srv), 0);
    cr_assert_eq(SSL_connect(p->cli), 1, "TLS handshake");
    cr_assert_eq(pthread_join(t, &ok), 0);
    cr_assert_not_null(ok, "server side of the handshake");
    cr_assert_str_eq(SSL_get_version(p->cli), "TLSv1.3");
}

static void pair_close(pair *p)
{
    SSL_free(p->srv);
    SSL_free(p->cli);
    SSL_CTX_free(p->sctx);
    SSL_CTX_free(p->cctx);
    close(p->sfd);
    close(p->cfd);
}

static int readable(int fd, int ms)
{
    struct pollfd pf = {fd, POLLIN, 0};

    return poll(&pf, 1, ms) == 1 && (pf.revents & POLLIN);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(frame, frames_both_ways_and_limits)
{
    pair p;
    uint8_t nonce[FRAME_NONCE_LEN], type = 0, *got = NULL;
    size_t len = 0;

    pair_open(&p);
    memset(nonce, 0x5a, sizeof(nonce));
    cr_assert_eq(frame_write(p.cli, FRAME_ATTEST_REQUEST, nonce, sizeof(nonce)), 0);
    cr_assert_eq(frame_read(p.srv, FRAME_FROM_RP, &type, &got, &len), FRAME_OK);
    cr_expect_eq(type, FRAME_ATTEST_REQUEST);
    cr_expect_eq(len, sizeof(nonce));
    cr_expect_eq(memcmp(got, nonce, len), 0);
    free(got);
    cr_assert_eq(frame_write(p.srv, FRAME_APP_RESPONSE, "ok", 2), 0);
    cr_assert_eq(frame_read(p.cli, FRAME_FROM_AGENT, &type, &got, &len), FRAME_OK);
    cr_expect_eq(type, FRAME_APP_RESPONSE);
    cr_expect_eq(len, 2);
    free(got);
    /* the writer refuses a payload above its type's limit */
    cr_expect_eq(frame_write(p.cli, FRAME_ATTEST_REQUEST, nonce, sizeof(nonce) + 1), -1);
    pair_close(&p);
}

/*
 * A TLS 1.3 KeyUpdate makes the socket readable with no frame behind it.
 * frame_data_ready() must say so at once (the agent and the relying party
 * used to block in SSL_read until the peer's next frame, up to their I/O
 * timeout), then say yes when a frame comes; the frame reads intact under
 * the new keys.
 */
Test(frame, key_update_is_not_a_frame)
{
    pair p;
    uint8_t type = 0, *got = NULL;
    size_t len = 0;
    double t0;

    pair_open(&p);
    for (int round = 0; round < 3; round++) {
        /* the agent side updates its sending keys and asks for the peer's */
        cr_assert_eq(SSL_key_update(p.srv, round == 1 ? SSL_KEY_UPDATE_NOT_REQUESTED
                                                      : SSL_KEY_UPDATE_REQUESTED), 1);
        cr_assert_eq(SSL_do_handshake(p.srv), 1, "KeyUpdate sent");
        cr_assert(readable(p.cfd, 2000), "round %d: the KeyUpdate arrives", round);
        t0 = now_s();
        cr_expect_eq(frame_data_ready(p.cli, p.cfd), 0, "round %d: no frame yet", round);
        cr_expect_lt(now_s() - t0, 0.5, "round %d: and no wait for one", round);
        cr_expect_eq(frame_data_ready(p.cli, p.cfd), 0, "round %d: asked again", round);
        cr_assert_eq(frame_write(p.srv, FRAME_POSTURE_CHANGED, "{}", 2), 0);
        cr_assert(readable(p.cfd, 2000));
        cr_expect_eq(frame_data_ready(p.cli, p.cfd), 1, "round %d: a frame", round);
        cr_assert_eq(frame_read(p.cli, FRAME_FROM_AGENT, &type, &got, &len), FRAME_OK);
        cr_expect_eq(type, FRAME_POSTURE_CHANGED);
        cr_expect_eq(len, 2);
        free(got);
        /* the relying party writes under its keys (updated when asked) */
        cr_assert_eq(frame_write(p.cli, FRAME_APP_REQUEST, "go", 2), 0);
        cr_assert_eq(frame_read(p.srv, FRAME_FROM_RP, &type, &got, &len), FRAME_OK);
        cr_expect_eq(type, FRAME_APP_REQUEST);
        free(got);
    }
    /* a closed connection reads as "not a KeyUpdate": frame_read says EOF */
    SSL_shutdown(p.srv);
    shutdown(p.sfd, SHUT_WR);
    cr_assert(readable(p.cfd, 2000));
    cr_expect_eq(frame_data_ready(p.cli, p.cfd), -1);
    cr_expect_eq(frame_read(p.cli, FRAME_FROM_AGENT, &type, &got, &len), FRAME_EOF);
    pair_close(&p);
}

/* Peer text bound for a log line: printable ASCII only, cut at the buffer. */
Test(frame, printable_text_for_logs)
{
    char out[16];
    const char forged[] = "x\n12:00:00.000 agent conn 1: \x1b[2Kok\xc3\xa9";

    cr_assert_str_eq(frame_printable("transfer 1 EUR", 14, out, sizeof(out)), "transfer 1 EUR");
    cr_assert_str_eq(frame_printable(forged, sizeof(forged) - 1, out, sizeof(out)),
                     "x?12:00:00.000 ");
    cr_assert_str_eq(frame_printable("\r\n\t\x7f", 4, out, sizeof(out)), "????");
    cr_assert_str_eq(frame_printable("a\0b", 3, out, sizeof(out)), "a?b");
    cr_assert_str_eq(frame_printable("abc", 3, out, 1), "");
    cr_assert_str_eq(frame_printable("abc", 0, out, sizeof(out)), "");
}
