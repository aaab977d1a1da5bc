/*
 * nonce.c — stateless HMAC-tagged challenge nonces and a bounded, striped
 * used-nonce cache (DESIGN §8; layout and rationale in verify/nonce.h and
 * docs/ear.md).
 *
 * Tags are computed on a per-thread HMAC context re-initialised from its
 * saved key state for each nonce (see nonce_tag()).
 *
 * Caveats: single use holds per cache, i.e. per replica; a nonce presented to
 * two replicas is accepted by both (each at most once). Time is whatever the
 * caller passes as "now"; a nonce that a sweep (or vfy_nonce_cache_mark_swept)
 * may have dropped stays expired whatever "now" a later caller passes.
 * A thread's HMAC context holds the keyed state of the last key it used, so
 * after vfy_nonce_key_free() that state stays in memory until the thread
 * uses another key or exits (the freeing thread drops its own at once).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "internal.h"
#include "verify/nonce.h"

#define NONCE_EXP_LEN VFY_NONCE_EXPIRY_LEN
#define NONCE_TTL_LEN 3
#define NONCE_RND_LEN 8
#define NONCE_TAG_LEN 16
#define NONCE_RND_OFF (NONCE_EXP_LEN + NONCE_TTL_LEN)
#define NONCE_TAG_OFF (NONCE_RND_OFF + NONCE_RND_LEN)
#define NONCE_EXP_MAX (((uint64_t)1 << (8 * NONCE_EXP_LEN)) - 1)

/* v2: the lifetime joined the expiry (v1 nonces, expiry[8] || random[8], fail as forged). */
static const char nonce_label[] = "verifierd nonce v2"; /* followed by one 0x00 */

struct vfy_nonce_key {
    uint8_t key[VFY_NONCE_KEY_LEN];
    uint64_t serial;   /* unique in this process, never 0: names the key in tag caches */
    EVP_MAC_CTX *tmpl; /* HMAC-SHA256 initialised with key; only ever dup'ed */
};

static uint64_t key_serial_last; /* atomic builtins only */

static void tag_cache_drop(uint64_t serial);

/* ---- key ---- */

vfy_rc vfy_nonce_key_new(vfy_nonce_key **out, const uint8_t key[VFY_NONCE_KEY_LEN])
{
    vfy_nonce_key *k = NULL;
    EVP_MAC *mac = NULL;
    OSSL_PARAM params[2];
    vfy_rc rc = VFY_E_INTERNAL;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (key == NULL)
        return VFY_E_INVALID_ARG;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return VFY_E_NOMEM;
    memcpy(k->key, key, VFY_NONCE_KEY_LEN);
    k->serial = __atomic_add_fetch(&key_serial_last, 1, __ATOMIC_RELAXED);
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL)
        goto out;
    k->tmpl = EVP_MAC_CTX_new(mac);
    if (k->tmpl == NULL)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(k->tmpl, k->key, sizeof(k->key), params) != 1)
        goto out;
    *out = k;
    k = NULL;
    rc = VFY_OK;
out:
    EVP_MAC_free(mac);
    vfy_nonce_key_free(&k);
    return rc;
}

vfy_rc vfy_nonce_key_generate(vfy_nonce_key **out)
{
    uint8_t key[VFY_NONCE_KEY_LEN];
    vfy_rc rc;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (RAND_bytes(key, sizeof(key)) != 1)
        return VFY_E_INTERNAL;
    rc = vfy_nonce_key_new(out, key);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

vfy_rc vfy_nonce_key_load(vfy_nonce_key **out, const char *path)
{
    char buf[2 * VFY_NONCE_KEY_LEN + 2]; /* 64 hex, optional "\n", one byte to detect more */
    uint8_t key[VFY_NONCE_KEY_LEN];
    size_t n = 0, klen = 0;
    vfy_rc rc = VFY_E_NONCE_KEY;
    FILE *f;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (path == NULL)
        return VFY_E_INVALID_ARG;
    f = fopen(path, "rb");
    if (f == NULL)
        return VFY_E_IO;
    n = fread(buf, 1, sizeof(buf), f);
    if (ferror(f)) {
        fclose(f);
        rc = VFY_E_IO;
        goto out;
    }
    fclose(f);
    if (n == sizeof(buf) || n < 2 * VFY_NONCE_KEY_LEN)
        goto out;
    if (n == 2 * VFY_NONCE_KEY_LEN + 1 && buf[n - 1] != '\n')
        goto out;
    if (vfy_hex_decode(key, sizeof(key), &klen, buf, 2 * VFY_NONCE_KEY_LEN) != VFY_OK ||
        klen != VFY_NONCE_KEY_LEN)
        goto out;
    rc = vfy_nonce_key_new(out, key);
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

vfy_rc vfy_nonce_key_save(const vfy_nonce_key *key, const char *path)
{
    char hex[2 * VFY_NONCE_KEY_LEN + 2];
    vfy_rc rc;

    if (key == NULL || path == NULL)
        return VFY_E_INVALID_ARG;
    if (vfy_hex_encode(hex, sizeof(hex), key->key, VFY_NONCE_KEY_LEN) != VFY_OK)
        return VFY_E_INTERNAL;
    hex[2 * VFY_NONCE_KEY_LEN] = '\n';
    hex[2 * VFY_NONCE_KEY_LEN + 1] = '\0';
    rc = vfy_write_private_file(path, hex, 2 * VFY_NONCE_KEY_LEN + 1);
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

void vfy_nonce_key_free(vfy_nonce_key **key)
{
    if (key == NULL || *key == NULL)
        return;
    tag_cache_drop((*key)->serial);
    EVP_MAC_CTX_free((*key)->tmpl);
    OPENSSL_cleanse((*key)->key, sizeof((*key)->key));
    free(*key);
    *key = NULL;
}

/* ---- issue / check ---- */

/* The low @n bytes of @v, big-endian, at @p. */
static void put_be(uint8_t *p, size_t n, uint64_t v)
{
    while (n-- > 0) {
        p[n] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/* @n big-endian bytes at @p (n <= 8). */
static uint64_t get_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/*
 * Per-thread tag context. EVP_MAC_CTX_dup of the key's template for every
 * tag (HMAC_CTX_new, three digest-context copies, the frees) cost about as
 * much as the HMAC itself. Instead each thread keeps one EVP_MAC_CTX copied
 * from the template of the last key it used and restarts it with
 * EVP_MAC_init(ctx, NULL, 0, NULL): with no key, OpenSSL's HMAC restarts
 * from the inner and outer states it saved when the key was set. A context
 * is never shared between threads (EVP_MAC_CTX is not thread-safe).
 *
 * The cache is keyed by the key's serial number, not by its address: a
 * freed vfy_nonce_key's address is routinely reused by the next key, and a
 * context keyed by the pointer would then tag with the old key. Serials are
 * handed out once per process (a 64-bit counter does not wrap). Should
 * anything fail on the cached context, or no per-thread slot be had, the tag
 * is computed on a one-off copy of the template, as before.
 */
struct tag_cache {
    uint64_t serial; /* key whose state ctx holds; 0: none */
    EVP_MAC_CTX *ctx;
};

static pthread_once_t tag_once = PTHREAD_ONCE_INIT;
static pthread_key_t tag_tls;
static int tag_tls_ok;

static void tag_cache_free(void *p)
{
    struct tag_cache *c = p;

    EVP_MAC_CTX_free(c->ctx); /* HMAC_CTX_free cleanses the keyed state */
    free(c);
}

static void tag_tls_init(void)
{
    tag_tls_ok = pthread_key_create(&tag_tls, tag_cache_free) == 0;
}

/* This thread's cache entry (created empty on first use), or NULL. */
static struct tag_cache *tag_cache_get(void)
{
    struct tag_cache *c;

    if (pthread_once(&tag_once, tag_tls_init) != 0 || !tag_tls_ok)
        return NULL;
    c = pthread_getspecific(tag_tls);
    if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL && pthread_setspecific(tag_tls, c) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

/* Forget this thread's context if it holds key @serial's state. */
static void tag_cache_drop(uint64_t serial)
{
    struct tag_cache *c;

    if (pthread_once(&tag_once, tag_tls_init) != 0 || !tag_tls_ok)
        return;
    c = pthread_getspecific(tag_tls);
    if (c != NULL && c->serial == serial) {
        EVP_MAC_CTX_free(c->ctx);
        c->ctx = NULL;
        c->serial = 0;
    }
}

/* The full MAC of label || 0x00 || body on @ctx, initialised for the key. */
static vfy_rc tag_mac(EVP_MAC_CTX *ctx, const uint8_t body[NONCE_TAG_OFF],
                      uint8_t tag[NONCE_TAG_LEN])
{
    uint8_t full[32];
    size_t flen = 0;
    vfy_rc rc = VFY_E_INTERNAL;

    if (EVP_MAC_update(ctx, (const uint8_t *)nonce_label, sizeof(nonce_label)) != 1 ||
        EVP_MAC_update(ctx, body, NONCE_TAG_OFF) != 1 ||
        EVP_MAC_final(ctx, full, &flen, sizeof(full)) != 1 || flen != sizeof(full))
        goto out;
    memcpy(tag, full, NONCE_TAG_LEN);
    rc = VFY_OK;
out:
    OPENSSL_cleanse(full, sizeof(full));
    return rc;
}

/* tag = HMAC-SHA256(key, label || 0x00 || expiry || ttl || random)[0..16) */
static vfy_rc nonce_tag(const vfy_nonce_key *key, const uint8_t body[NONCE_TAG_OFF],
                        uint8_t tag[NONCE_TAG_LEN])
{
    struct tag_cache *c = tag_cache_get();
    EVP_MAC_CTX *ctx;
    vfy_rc rc;

    if (c != NULL) {
        if (c->ctx != NULL && c->serial != key->serial) {
            EVP_MAC_CTX_free(c->ctx);
            c->ctx = NULL;
            c->serial = 0;
        }
        if (c->ctx == NULL && (c->ctx = EVP_MAC_CTX_dup(key->tmpl)) != NULL)
            c->serial = key->serial;
        /* A fresh copy is initialised already; init again anyway: one path. */
        if (c->ctx != NULL && EVP_MAC_init(c->ctx, NULL, 0, NULL) == 1 &&
            tag_mac(c->ctx, body, tag) == VFY_OK)
            return VFY_OK;
        EVP_MAC_CTX_free(c->ctx);
        c->ctx = NULL;
        c->serial = 0;
    }
    ctx = EVP_MAC_CTX_dup(key->tmpl);
    if (ctx == NULL)
        return VFY_E_INTERNAL;
    rc = tag_mac(ctx, body, tag);
    EVP_MAC_CTX_free(ctx);
    return rc;
}

vfy_rc vfy_nonce_issue(const vfy_nonce_key *key, uint64_t now, uint32_t ttl_s,
                       uint8_t out[VFY_NONCE_LEN], uint64_t *expires_at)
{
    uint64_t exp;
    vfy_rc rc;

    if (expires_at != NULL)
        *expires_at = 0;
    if (key == NULL || out == NULL || ttl_s == 0 || ttl_s > VFY_NONCE_MAX_TTL ||
        now > NONCE_EXP_MAX - ttl_s)
        return VFY_E_INVALID_ARG;
    exp = now + ttl_s;
    put_be(out, NONCE_EXP_LEN, exp);
    put_be(out + NONCE_EXP_LEN, NONCE_TTL_LEN, ttl_s);
    if (RAND_bytes(out + NONCE_RND_OFF, NONCE_RND_LEN) != 1) {
        memset(out, 0, VFY_NONCE_LEN);
        return VFY_E_INTERNAL;
    }
    rc = nonce_tag(key, out, out + NONCE_TAG_OFF);
    if (rc != VFY_OK) {
        memset(out, 0, VFY_NONCE_LEN);
        return rc;
    }
    if (expires_at != NULL)
        *expires_at = exp;
    return VFY_OK;
}

/*
 * Tag check only; on success *exp and *issued are the authenticated expiry
 * and issue time. A lifetime of 0 or above VFY_NONCE_MAX_TTL, or above the
 * expiry, cannot come from vfy_nonce_issue() and is refused as malformed.
 */
static vfy_rc nonce_authentic(const vfy_nonce_key *key, const uint8_t *nonce, size_t len,
                              uint64_t *exp, uint64_t *issued)
{
    uint8_t tag[NONCE_TAG_LEN];
    uint64_t e, ttl;
    vfy_rc rc;

    *exp = 0;
    *issued = 0;
    if (key == NULL || (nonce == NULL && len != 0))
        return VFY_E_INVALID_ARG;
    if (len != VFY_NONCE_LEN)
        return VFY_E_NONCE_MALFORMED;
    rc = nonce_tag(key, nonce, tag);
    if (rc != VFY_OK)
        return rc;
    if (!vfy_ct_eq(tag, nonce + NONCE_TAG_OFF, NONCE_TAG_LEN))
        return VFY_E_NONCE_FORGED;
    e = get_be(nonce, NONCE_EXP_LEN);
    ttl = get_be(nonce + NONCE_EXP_LEN, NONCE_TTL_LEN);
    if (ttl == 0 || ttl > VFY_NONCE_MAX_TTL || ttl > e)
        return VFY_E_NONCE_MALFORMED;
    *exp = e;
    *issued = e - ttl;
    return VFY_OK;
}

vfy_rc vfy_nonce_expiry_prefix(uint64_t t, uint8_t out[VFY_NONCE_EXPIRY_LEN])
{
    if (out == NULL || t > NONCE_EXP_MAX)
        return VFY_E_INVALID_ARG;
    put_be(out, VFY_NONCE_EXPIRY_LEN, t);
    return VFY_OK;
}

uint64_t vfy_nonce_expiry_of(const uint8_t nonce[VFY_NONCE_LEN])
{
    return get_be(nonce, NONCE_EXP_LEN);
}

vfy_rc vfy_nonce_check(const vfy_nonce_key *key, const uint8_t *nonce, size_t len,
                       uint64_t now, uint64_t *expires_at, uint64_t *issued_at)
{
    uint64_t exp = 0, issued = 0;
    vfy_rc rc;

    if (expires_at != NULL)
        *expires_at = 0;
    if (issued_at != NULL)
        *issued_at = 0;
    rc = nonce_authentic(key, nonce, len, &exp, &issued);
    if (rc != VFY_OK)
        return rc;
    if (now >= exp)
        return VFY_E_NONCE_EXPIRED;
    if (expires_at != NULL)
        *expires_at = exp;
    if (issued_at != NULL)
        *issued_at = issued;
    return VFY_OK;
}

/* ---- used-nonce cache ----
 *
 * Each stripe is an open-addressing table (linear probing, size a power of
 * two at least twice the stripe capacity, so probes stay short) keyed by the
 * nonce tag. The tag is an HMAC output, so it is uniformly distributed and no
 * client can aim entries at one slot or stripe. There is no per-entry delete:
 * when a stripe reaches capacity it is rebuilt in place without the expired
 * entries (the live ones are copied out to a transient buffer and inserted
 * again), which keeps probing correct without tombstones. The rebuild runs
 * only when some entry can actually have expired (now >= the stripe's
 * earliest expiry), so a stripe full of live nonces answers
 * VFY_E_NONCE_CACHE_FULL in O(1) instead of rescanning.
 *
 * An entry keeps the first 8 bytes of the nonce's tag (16 bytes in all with
 * its expiry): two live nonces collide with probability about n^2 / 2^65,
 * some 10^-9 for 400,000 live nonces — and a collision only refuses a nonce.
 */

#define CACHE_MAX_CAPACITY ((size_t)1 << 24)
#define CACHE_MAX_STRIPES 16
#define CACHE_MIN_PER_STRIPE 64

struct cache_entry {
    uint64_t exp; /* 0: empty slot */
    uint64_t key; /* the first 8 bytes of the nonce's tag */
};

struct cache_stripe {
    pthread_mutex_t lock;
    struct cache_entry *slots;
    size_t mask;      /* table size - 1 */
    size_t cap;       /* entries allowed */
    size_t count;     /* entries held */
    uint64_t min_exp; /* earliest expiry held (UINT64_MAX when empty) */
    uint64_t swept;   /* highest now a sweep of this stripe used: every nonce
                         of the stripe it may have dropped expires by then */
};

struct vfy_nonce_cache {
    size_t nstripes;
    struct cache_stripe stripe[];
};

static uint64_t tag_hash(const uint8_t tag[NONCE_TAG_LEN])
{
    uint64_t h = 0;

    for (int i = 0; i < 8; i++)
        h = (h << 8) | tag[i];
    return h;
}

static void stripe_insert(struct cache_entry *slots, size_t mask, uint64_t key, uint64_t exp)
{
    size_t i = (size_t)key & mask;

    while (slots[i].exp != 0)
        i = (i + 1) & mask;
    slots[i].exp = exp;
    slots[i].key = key;
}

/* Drop the expired entries of @s. On allocation failure nothing changes. */
static void stripe_sweep(struct cache_stripe *s, uint64_t now)
{
    size_t n = s->mask + 1, live = 0;
    uint64_t min_exp = UINT64_MAX;
    struct cache_entry *keep = malloc((s->count > 0 ? s->count : 1) * sizeof(*keep));

    if (keep == NULL)
        return;
    for (size_t i = 0; i < n && live < s->count; i++) {
        if (s->slots[i].exp == 0 || s->slots[i].exp <= now)
            continue;
        keep[live++] = s->slots[i];
    }
    memset(s->slots, 0, n * sizeof(*s->slots));
    for (size_t i = 0; i < live; i++) {
        stripe_insert(s->slots, s->mask, keep[i].key, keep[i].exp);
        if (keep[i].exp < min_exp)
            min_exp = keep[i].exp;
    }
    free(keep);
    s->count = live;
    s->min_exp = min_exp;
    if (now > s->swept)
        s->swept = now;
}

vfy_rc vfy_nonce_cache_new(vfy_nonce_cache **out, size_t capacity)
{
    vfy_nonce_cache *c;
    size_t nstripes, per, tsize = 1;

    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (capacity == 0 || capacity > CACHE_MAX_CAPACITY)
        return VFY_E_INVALID_ARG;
    nstripes = capacity / CACHE_MIN_PER_STRIPE;
    if (nstripes < 1)
        nstripes = 1;
    if (nstripes > CACHE_MAX_STRIPES)
        nstripes = CACHE_MAX_STRIPES;
    per = (capacity + nstripes - 1) / nstripes;
    while (tsize < 2 * per)
        tsize <<= 1;
    c = calloc(1, sizeof(*c) + nstripes * sizeof(c->stripe[0]));
    if (c == NULL)
        return VFY_E_NOMEM;
    for (size_t i = 0; i < nstripes; i++) {
        struct cache_stripe *s = &c->stripe[i];

        s->slots = calloc(tsize, sizeof(*s->slots));
        if (s->slots == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
            free(s->slots);
            c->nstripes = i;
            vfy_nonce_cache_free(&c);
            return VFY_E_NOMEM;
        }
        s->mask = tsize - 1;
        s->cap = per;
        s->min_exp = UINT64_MAX;
        c->nstripes = i + 1;
    }
    *out = c;
    return VFY_OK;
}

void vfy_nonce_cache_free(vfy_nonce_cache **cache)
{
    if (cache == NULL || *cache == NULL)
        return;
    for (size_t i = 0; i < (*cache)->nstripes; i++) {
        struct cache_stripe *s = &(*cache)->stripe[i];

        pthread_mutex_destroy(&s->lock);
        free(s->slots);
    }
    free(*cache);
    *cache = NULL;
}

void vfy_nonce_cache_mark_swept(vfy_nonce_cache *cache, uint64_t t)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i < cache->nstripes; i++) {
        pthread_mutex_lock(&cache->stripe[i].lock);
        if (t > cache->stripe[i].swept)
            cache->stripe[i].swept = t;
        pthread_mutex_unlock(&cache->stripe[i].lock);
    }
}

size_t vfy_nonce_cache_size(vfy_nonce_cache *cache)
{
    size_t n = 0;

    if (cache == NULL)
        return 0;
    for (size_t i = 0; i < cache->nstripes; i++) {
        pthread_mutex_lock(&cache->stripe[i].lock);
        n += cache->stripe[i].count;
        pthread_mutex_unlock(&cache->stripe[i].lock);
    }
    return n;
}

vfy_rc vfy_nonce_consume(const vfy_nonce_key *key, vfy_nonce_cache *cache,
                         const uint8_t *nonce, size_t len, uint64_t now, uint64_t *issued_at)
{
    const uint8_t *tag;
    struct cache_stripe *s;
    uint64_t exp = 0, issued = 0, tkey;
    size_t i;
    vfy_rc rc;

    if (issued_at != NULL)
        *issued_at = 0;
    if (cache == NULL)
        return VFY_E_INVALID_ARG;
    rc = nonce_authentic(key, nonce, len, &exp, &issued);
    if (rc != VFY_OK)
        return rc;
    tag = nonce + NONCE_TAG_OFF;
    s = &cache->stripe[tag[NONCE_TAG_LEN - 1] % cache->nstripes];
    pthread_mutex_lock(&s->lock);
    /*
     * Expired at @now, or possibly dropped: a sweep of this stripe (under
     * this lock) dropped only nonces expiring by s->swept, so one of those
     * is refused even by a caller whose clock is behind the sweep's (a
     * clock stepped back, replicas whose clocks differ) rather than
     * re-admitted. A nonce expiring after s->swept is in the stripe if it
     * was used: the clock going back does not make every fresh nonce look
     * expired (it did while the cache judged by the highest now it had
     * ever seen).
     */
    if (now >= exp || exp <= s->swept) {
        rc = VFY_E_NONCE_EXPIRED;
        goto out;
    }
    tkey = tag_hash(tag);
    for (i = (size_t)tkey & s->mask; s->slots[i].exp != 0; i = (i + 1) & s->mask) {
        if (s->slots[i].key == tkey) {
            rc = VFY_E_NONCE_REPLAY;
            goto out;
        }
    }
    if (s->count >= s->cap && now >= s->min_exp)
        stripe_sweep(s, now);
    if (s->count >= s->cap) {
        rc = VFY_E_NONCE_CACHE_FULL;
        goto out;
    }
    stripe_insert(s->slots, s->mask, tkey, exp);
    s->count++;
    if (exp < s->min_exp)
        s->min_exp = exp;
    if (issued_at != NULL)
        *issued_at = issued;
    rc = VFY_OK;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}
