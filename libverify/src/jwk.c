/*
 * jwk.c — EC P-256 signing key (generate, PEM load/save), public JWK,
 * RFC 7638 thumbprint kid, and JWKS build/parse (RFC 7517, RFC 7518 §6.2).
 *
 * Caveats: only EC P-256 keys (ES256) are supported; other keys in a parsed
 * JWKS are skipped, as RFC 7517 §5 allows. Private keys are never put in a
 * JWK. Strict JSON (no duplicate members) via vfy_json_parse_strict().
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "jose.h"

#define COORD_LEN 32
#define COORD_B64 VFY_B64URL_LEN(COORD_LEN) /* 43 */
#define PEM_MAX 65536

struct vfy_signing_key {
    EVP_PKEY *pkey;
    char kid[VFY_KID_LEN + 1];
    char x[COORD_B64 + 1], y[COORD_B64 + 1];
};

struct jwks_entry {
    EVP_PKEY *pkey;
    char kid[VFY_JWK_MAX_KID + 1];
    char thumb[VFY_KID_LEN + 1];
    char x[COORD_B64 + 1], y[COORD_B64 + 1];
};

struct vfy_jwks {
    size_t n;
    struct jwks_entry e[VFY_JWKS_MAX_KEYS];
};

/* ---- shared helpers ---- */

char *vfy_b64url_dup(const uint8_t *in, size_t len)
{
    size_t n = VFY_B64URL_LEN(len) + 1;
    char *s;

    if (len > (SIZE_MAX / 4) - 4)
        return NULL;
    s = malloc(n);
    if (s == NULL)
        return NULL;
    if (vfy_b64url_encode(s, n, in, len) != VFY_OK) {
        free(s);
        return NULL;
    }
    return s;
}

static char *strdup_len(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Copy a cJSON-printed string into malloc'd memory (vfy_free) and free it. */
static char *json_take(char *printed)
{
    char *d;

    if (printed == NULL)
        return NULL;
    d = strdup_len(printed, strlen(printed));
    cJSON_free(printed);
    return d;
}

/* Depth-limited check for duplicate member names (cJSON keeps both). */
static int json_strict_ok(const cJSON *j, int depth)
{
    size_t members = 0;

    if (depth > VFY_JSON_MAX_DEPTH)
        return 0;
    if (cJSON_IsObject(j)) {
        for (const cJSON *a = j->child; a != NULL; a = a->next) {
            if (a->string == NULL || ++members > VFY_JSON_MAX_MEMBERS)
                return 0;
            for (const cJSON *b = a->next; b != NULL; b = b->next)
                if (b->string != NULL && strcmp(a->string, b->string) == 0)
                    return 0;
        }
    }
    if (cJSON_IsObject(j) || cJSON_IsArray(j))
        for (const cJSON *a = j->child; a != NULL; a = a->next)
            if (!json_strict_ok(a, depth + 1))
                return 0;
    return 1;
}

cJSON *vfy_json_parse_strict(const char *buf, size_t len)
{
    cJSON *j = NULL;

    /* json_util's intake (nesting pre-scan, integers only, nothing after
     * the value), then no repeated member anywhere. */
    if (buf == NULL || len == 0 || memchr(buf, '\0', len) != NULL ||
        vfy_json_parse(&j, buf, len, VFY_JSON_MAX_DEPTH) != VFY_JSON_OK)
        return NULL;
    if (!json_strict_ok(j, 0)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int is_p256(EVP_PKEY *pkey)
{
    char name[32];
    size_t n = 0;

    if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC"))
        return 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                       &n) != 1)
        return 0;
    return strcmp(name, "prime256v1") == 0;
}

/* x, y (base64url) and the RFC 7638 thumbprint of an EC P-256 public key. */
static vfy_rc ec_coords(EVP_PKEY *pkey, char x[COORD_B64 + 1], char y[COORD_B64 + 1],
                        char thumb[VFY_KID_LEN + 1])
{
    BIGNUM *bx = NULL, *by = NULL;
    uint8_t rx[COORD_LEN], ry[COORD_LEN], h[32];
    char canon[128];
    int n;
    vfy_rc rc = VFY_E_INTERNAL;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 ||
        BN_bn2binpad(bx, rx, COORD_LEN) != COORD_LEN ||
        BN_bn2binpad(by, ry, COORD_LEN) != COORD_LEN)
        goto out;
    if (vfy_b64url_encode(x, COORD_B64 + 1, rx, COORD_LEN) != VFY_OK ||
        vfy_b64url_encode(y, COORD_B64 + 1, ry, COORD_LEN) != VFY_OK)
        goto out;
    /* RFC 7638 §3.2: required members only, lexicographic order, no whitespace. */
    n = snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 x, y);
    if (n < 0 || (size_t)n >= sizeof(canon))
        goto out;
    if (vfy_sha256(canon, (size_t)n, h) != VFY_OK ||
        vfy_b64url_encode(thumb, VFY_KID_LEN + 1, h, sizeof(h)) != VFY_OK)
        goto out;
    rc = VFY_OK;
out:
    BN_free(bx);
    BN_free(by);
    return rc;
}

static vfy_rc read_file(const char *path, char **buf, size_t *len)
{
    FILE *f;
    char *b;
    size_t n;

    *buf = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (f == NULL)
        return VFY_E_IO;
    b = malloc(PEM_MAX + 1);
    if (b == NULL) {
        fclose(f);
        return VFY_E_NOMEM;
    }
    n = fread(b, 1, PEM_MAX + 1, f);
    if (ferror(f) || n > PEM_MAX) {
        int err = ferror(f);

        fclose(f);
        vfy_free_secret(b, PEM_MAX + 1);
        return err ? VFY_E_IO : VFY_E_TOO_LARGE;
    }
    fclose(f);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return VFY_OK;
}

/* ---- signing key ---- */

static vfy_rc signing_key_wrap(vfy_signing_key **out, EVP_PKEY *pkey)
{
    vfy_signing_key *k;
    vfy_rc rc;

    if (!is_p256(pkey)) {
        EVP_PKEY_free(pkey);
        return VFY_E_SIGNING_KEY;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return VFY_E_NOMEM;
    }
    k->pkey = pkey;
    rc = ec_coords(pkey, k->x, k->y, k->kid);
    if (rc != VFY_OK) {
        vfy_signing_key_free(&k);
        return rc;
    }
    *out = k;
    return VFY_OK;
}

vfy_rc vfy_signing_key_generate(vfy_signing_key **out)
{
    EVP_PKEY *pkey;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    pkey = EVP_EC_gen("P-256");
    if (pkey == NULL)
        return VFY_E_INTERNAL;
    return signing_key_wrap(out, pkey);
}

/* Never prompt for a pass phrase: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

vfy_rc vfy_signing_key_from_pem(vfy_signing_key **out, const char *pem, size_t len)
{
    EVP_PKEY *pkey;
    BIO *bio;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (pem == NULL || len == 0 || len > PEM_MAX)
        return len > PEM_MAX ? VFY_E_TOO_LARGE : VFY_E_INVALID_ARG;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return VFY_E_NOMEM;
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (pkey == NULL)
        return VFY_E_SIGNING_KEY;
    return signing_key_wrap(out, pkey);
}

vfy_rc vfy_signing_key_load(vfy_signing_key **out, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (path == NULL)
        return VFY_E_INVALID_ARG;
    rc = read_file(path, &buf, &len);
    if (rc != VFY_OK)
        return rc;
    rc = len == 0 ? VFY_E_SIGNING_KEY : vfy_signing_key_from_pem(out, buf, len);
    vfy_free_secret(buf, PEM_MAX + 1);
    return rc;
}

vfy_rc vfy_signing_key_save(const vfy_signing_key *key, const char *path)
{
    BIO *bio = NULL;
    char *data = NULL;
    long dlen;
    vfy_rc rc = VFY_E_INTERNAL;

    if (key == NULL || path == NULL)
        return VFY_E_INVALID_ARG;
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    dlen = BIO_get_mem_data(bio, &data);
    if (dlen <= 0)
        goto out;
    rc = vfy_write_private_file(path, data, (size_t)dlen);
out:
    BIO_free(bio);
    return rc;
}

void vfy_signing_key_free(vfy_signing_key **key)
{
    if (key == NULL || *key == NULL)
        return;
    vfy_jws_forget_key((*key)->pkey);
    EVP_PKEY_free((*key)->pkey);
    free(*key);
    *key = NULL;
}

const char *vfy_signing_key_kid(const vfy_signing_key *key)
{
    return key != NULL ? key->kid : NULL;
}

EVP_PKEY *vfy_signing_key_pkey(const vfy_signing_key *key)
{
    return key != NULL ? key->pkey : NULL;
}

static cJSON *jwk_object(const char *x, const char *y, const char *kid)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddStringToObject(o, "kty", "EC") == NULL ||
        cJSON_AddStringToObject(o, "crv", "P-256") == NULL ||
        cJSON_AddStringToObject(o, "x", x) == NULL || cJSON_AddStringToObject(o, "y", y) == NULL ||
        cJSON_AddStringToObject(o, "kid", kid) == NULL ||
        cJSON_AddStringToObject(o, "alg", "ES256") == NULL ||
        cJSON_AddStringToObject(o, "use", "sig") == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

vfy_rc vfy_signing_key_public_jwk(const vfy_signing_key *key, char **json)
{
    cJSON *o;

    if (json == NULL)
        return VFY_E_INVALID_ARG;
    *json = NULL;
    if (key == NULL)
        return VFY_E_INVALID_ARG;
    o = jwk_object(key->x, key->y, key->kid);
    if (o == NULL)
        return VFY_E_NOMEM;
    *json = json_take(cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
    return *json != NULL ? VFY_OK : VFY_E_NOMEM;
}

vfy_rc vfy_signing_key_public_pem(const vfy_signing_key *key, char **pem)
{
    BIO *bio;
    char *data = NULL;
    long n;

    if (pem == NULL)
        return VFY_E_INVALID_ARG;
    *pem = NULL;
    if (key == NULL)
        return VFY_E_INVALID_ARG;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return VFY_E_NOMEM;
    if (PEM_write_bio_PUBKEY(bio, key->pkey) != 1 || (n = BIO_get_mem_data(bio, &data)) <= 0) {
        BIO_free(bio);
        return VFY_E_INTERNAL;
    }
    *pem = strdup_len(data, (size_t)n);
    BIO_free(bio);
    return *pem != NULL ? VFY_OK : VFY_E_NOMEM;
}

/* ---- key set ---- */

vfy_rc vfy_jwks_new(vfy_jwks **out)
{
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? VFY_OK : VFY_E_NOMEM;
}

void vfy_jwks_free(vfy_jwks **set)
{
    if (set == NULL || *set == NULL)
        return;
    for (size_t i = 0; i < (*set)->n; i++)
        EVP_PKEY_free((*set)->e[i].pkey);
    free(*set);
    *set = NULL;
}

size_t vfy_jwks_count(const vfy_jwks *set)
{
    return set != NULL ? set->n : 0;
}

const char *vfy_jwks_kid(const vfy_jwks *set, size_t i)
{
    return set != NULL && i < set->n ? set->e[i].kid : NULL;
}

EVP_PKEY *vfy_jwks_lookup(const vfy_jwks *set, const char *kid)
{
    if (set == NULL || kid == NULL)
        return NULL;
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->e[i].kid, kid) == 0)
            return set->e[i].pkey;
    return NULL;
}

/*
 * Append a public key (takes a reference to @pkey) under @kid (NULL: its
 * thumbprint). Same key under the same kid again: no-op; another key under a
 * kid already present: @dup_rc.
 */
static vfy_rc jwks_append(vfy_jwks *set, EVP_PKEY *pkey, const char *kid, vfy_rc dup_rc)
{
    struct jwks_entry e;
    vfy_rc rc;

    memset(&e, 0, sizeof(e));
    rc = ec_coords(pkey, e.x, e.y, e.thumb);
    if (rc != VFY_OK)
        return rc;
    if (kid == NULL)
        kid = e.thumb;
    if (strlen(kid) > VFY_JWK_MAX_KID)
        return VFY_E_JWK;
    memcpy(e.kid, kid, strlen(kid) + 1);
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->e[i].kid, e.kid) != 0)
            continue;
        if (strcmp(set->e[i].thumb, e.thumb) == 0)
            return VFY_OK;
        return dup_rc;
    }
    if (set->n >= VFY_JWKS_MAX_KEYS)
        return VFY_E_TOO_LARGE;
    if (EVP_PKEY_up_ref(pkey) != 1)
        return VFY_E_INTERNAL;
    e.pkey = pkey;
    set->e[set->n++] = e;
    return VFY_OK;
}

vfy_rc vfy_jwks_add(vfy_jwks *set, const vfy_signing_key *key)
{
    if (set == NULL || key == NULL)
        return VFY_E_INVALID_ARG;
    return jwks_append(set, key->pkey, NULL, VFY_E_CONFLICT);
}

#define PEM_MAX_BLOCKS 16

vfy_rc vfy_jwks_add_public_pem(vfy_jwks *set, const char *pem, size_t len)
{
    EVP_PKEY *keys[PEM_MAX_BLOCKS];
    size_t n = 0;
    BIO *bio;
    vfy_rc rc = VFY_OK;

    if (set == NULL || pem == NULL || len == 0 || len > PEM_MAX)
        return VFY_E_INVALID_ARG;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return VFY_E_NOMEM;
    /* Every PEM block must be a public key: one appended after another is
     * published too (OpenSSL's PUBKEY reader took the first and skipped the
     * rest silently), and a private key in the file is refused, not
     * skipped. */
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        const unsigned char *p;
        long dlen = 0;
        EVP_PKEY *k;

        if (PEM_read_bio(bio, &name, &header, &der, &dlen) != 1) {
            ERR_clear_error();   /* no more blocks */
            break;
        }
        p = der;
        k = strcmp(name, "PUBLIC KEY") == 0 && header[0] == '\0' && n < PEM_MAX_BLOCKS
                ? d2i_PUBKEY(NULL, &p, dlen) : NULL;
        if (k != NULL && p != der + dlen) {   /* trailing bytes inside the block */
            EVP_PKEY_free(k);
            k = NULL;
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        if (!is_p256(k)) {
            EVP_PKEY_free(k);
            rc = VFY_E_JWK;
            break;
        }
        keys[n++] = k;
    }
    BIO_free(bio);
    if (n == 0 && rc == VFY_OK)
        rc = VFY_E_JWK;   /* no PEM block at all */
    for (size_t i = 0; i < n; i++) {
        if (rc == VFY_OK)
            rc = jwks_append(set, keys[i], NULL, VFY_E_CONFLICT);
        EVP_PKEY_free(keys[i]);
    }
    return rc;
}

/* Decode one strict base64url coordinate of exactly 32 bytes. */
static int coord_decode(const cJSON *v, uint8_t out[COORD_LEN])
{
    size_t n = 0;

    if (!cJSON_IsString(v) || v->valuestring == NULL ||
        strlen(v->valuestring) != COORD_B64)
        return 0;
    return vfy_b64url_decode(out, COORD_LEN, &n, v->valuestring, COORD_B64) == VFY_OK &&
           n == COORD_LEN;
}

/* EC P-256 public key from raw coordinates, with a full public-key check. */
static EVP_PKEY *ec_from_coords(const uint8_t x[COORD_LEN], const uint8_t y[COORD_LEN])
{
    uint8_t point[1 + 2 * COORD_LEN];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
    EVP_PKEY *pkey = NULL;

    point[0] = 0x04;
    memcpy(point + 1, x, COORD_LEN);
    memcpy(point + 1 + COORD_LEN, y, COORD_LEN);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto fail;
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (chk == NULL || EVP_PKEY_public_check(chk) != 1)
        goto fail;
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
fail:
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return NULL;
}

static int str_member_is(const cJSON *o, const char *name, const char *want, int *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    *present = v != NULL;
    if (v == NULL)
        return 1;
    return cJSON_IsString(v) && v->valuestring != NULL && strcmp(v->valuestring, want) == 0;
}

vfy_rc vfy_jwks_parse(vfy_jwks **out, const char *json, size_t len)
{
    cJSON *root = NULL;
    const cJSON *keys, *k;
    vfy_jwks *set = NULL;
    vfy_rc rc = VFY_E_JWK;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (json == NULL && len != 0)
        return VFY_E_INVALID_ARG;
    if (len > VFY_JWKS_MAX_BYTES)
        return VFY_E_TOO_LARGE;
    root = vfy_json_parse_strict(json, len);
    if (!cJSON_IsObject(root))
        goto out;
    keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
    if (!cJSON_IsArray(keys))
        goto out;
    rc = vfy_jwks_new(&set);
    if (rc != VFY_OK)
        goto out;
    rc = VFY_E_JWK;
    cJSON_ArrayForEach(k, keys) {
        const cJSON *kid;
        uint8_t x[COORD_LEN], y[COORD_LEN];
        EVP_PKEY *pkey;
        int present, ok_kty, ok_crv, ok_use, ok_alg;
        vfy_rc arc;

        if (!cJSON_IsObject(k))
            goto out;
        ok_kty = str_member_is(k, "kty", "EC", &present);
        if (!present)
            goto out; /* kty is required (RFC 7517 §4.1) */
        ok_crv = str_member_is(k, "crv", "P-256", &present);
        if (ok_kty && !present)
            goto out; /* crv is required for EC keys (RFC 7518 §6.2.1.1) */
        ok_use = str_member_is(k, "use", "sig", &present);
        ok_alg = str_member_is(k, "alg", "ES256", &present);
        if (!ok_kty || !ok_crv || !ok_use || !ok_alg)
            continue; /* a key we cannot use for ES256: skip */
        if (cJSON_GetObjectItemCaseSensitive(k, "d") != NULL)
            goto out; /* a private key published by mistake: refuse the set */
        if (!coord_decode(cJSON_GetObjectItemCaseSensitive(k, "x"), x) ||
            !coord_decode(cJSON_GetObjectItemCaseSensitive(k, "y"), y))
            goto out;
        kid = cJSON_GetObjectItemCaseSensitive(k, "kid");
        if (kid != NULL && (!cJSON_IsString(kid) || kid->valuestring == NULL ||
                            kid->valuestring[0] == '\0' ||
                            strlen(kid->valuestring) > VFY_JWK_MAX_KID))
            goto out;
        pkey = ec_from_coords(x, y);
        if (pkey == NULL)
            goto out;
        arc = jwks_append(set, pkey, kid != NULL ? kid->valuestring : NULL, VFY_E_JWK);
        EVP_PKEY_free(pkey);
        if (arc != VFY_OK) {
            rc = arc;
            goto out;
        }
    }
    *out = set;
    set = NULL;
    rc = VFY_OK;
out:
    vfy_jwks_free(&set);
    cJSON_Delete(root);
    return rc;
}

vfy_rc vfy_jwks_to_json(const vfy_jwks *set, char **json)
{
    cJSON *root = NULL, *keys;
    vfy_rc rc = VFY_E_NOMEM;

    if (json == NULL)
        return VFY_E_INVALID_ARG;
    *json = NULL;
    if (set == NULL)
        return VFY_E_INVALID_ARG;
    root = cJSON_CreateObject();
    keys = cJSON_AddArrayToObject(root, "keys");
    if (keys == NULL)
        goto out;
    for (size_t i = 0; i < set->n; i++) {
        cJSON *o = jwk_object(set->e[i].x, set->e[i].y, set->e[i].kid);

        if (o == NULL || !cJSON_AddItemToArray(keys, o)) {
            cJSON_Delete(o);
            goto out;
        }
    }
    *json = json_take(cJSON_PrintUnformatted(root));
    if (*json != NULL)
        rc = VFY_OK;
out:
    cJSON_Delete(root);
    return rc;
}
