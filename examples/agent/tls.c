/*
 * tls.c — the agent's TLS 1.3 server context (see tls.h). Caveat: the
 * certificate is self-signed and new at each start; a real agent would use
 * a certificate from its PKI (the attestation does not depend on it: the
 * evidence is bound to the connection by the exporter value, DESIGN §3).
 */
#include "tls.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *self_signed(EVP_PKEY *key, const char *cn)
{
    X509 *x = X509_new();
    X509_NAME *name;
    unsigned char serial[8];
    BIGNUM *bn = NULL;
    int ok = 0;

    if (x == NULL)
        return NULL;
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto out;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    name = X509_get_subject_name(x);
    ok = bn != NULL && X509_set_version(x, 2) &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         X509_gmtime_adj(X509_getm_notBefore(x), -300) != NULL &&
         X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) != NULL &&
         X509_set_pubkey(x, key) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                    -1, 0) &&
         X509_set_issuer_name(x, name) &&
         add_ext(x, NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") &&
         add_ext(x, NID_subject_key_identifier, "hash") &&
         add_ext(x, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") &&
         X509_sign(x, key, EVP_sha256()) > 0;
out:
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

SSL_CTX *agent_tls_ctx(const char *cert_out, const char *cn, const char *client_ca)
{
    SSL_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    FILE *f;

    key = EVP_EC_gen("P-256");
    if (key == NULL || (cert = self_signed(key, cn)) == NULL)
        goto fail;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        goto fail;
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_use_certificate(ctx, cert) || !SSL_CTX_use_PrivateKey(ctx, key) ||
        !SSL_CTX_check_private_key(ctx))
        goto fail;
    /* One full handshake per connection: no tickets (TLS 1.3 sends them after
     * the handshake, and a relying party counts those exchanges too), no cache. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (!SSL_CTX_set_num_tickets(ctx, 0))
        goto fail;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (client_ca != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);

        if (names == NULL || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            fprintf(stderr, "agent: --client-ca %s: not a PEM certificate file\n", client_ca);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    if (cert_out != NULL) {
        f = fopen(cert_out, "w");
        if (f == NULL || !PEM_write_X509(f, cert)) {
            if (f != NULL)
                fclose(f);
            fprintf(stderr, "agent: cannot write %s\n", cert_out);
            goto fail_quiet;
        }
        if (fclose(f) != 0)
            goto fail;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
fail:
    ERR_print_errors_fp(stderr);
fail_quiet:
    SSL_CTX_free(ctx);
    X509_free(cert);
    EVP_PKEY_free(key);
    return NULL;
}
