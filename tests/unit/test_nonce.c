/*
 * test_nonce.c — stateless HMAC nonces and the used-nonce cache (nonce.c).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "verify/verify.h"

static const uint8_t KEY_A[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static vfy_nonce_key *key_a(void)
{
    vfy_nonce_key *k = NULL;

    cr_assert_eq(vfy_nonce_key_new(&k, KEY_A), VFY_OK);
    cr_assert_not_null(k);
    return k;
}

Test(nonce, layout_matches_documented_hmac)
{
    vfy_nonce_key *k = key_a();
    uint8_t n[32], mac[32], msg[19 + 16];
    size_t mlen = 0;
    uint64_t exp = 0;

    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, n, &exp), VFY_OK);
    cr_assert_eq(exp, 1060);
    /* expiry, 5 bytes big-endian, then the lifetime, 3 bytes big-endian */
    for (int i = 0; i < 5; i++)
        cr_assert_eq(n[i], (uint8_t)((uint64_t)1060 >> (8 * (4 - i))));
    cr_assert_eq(n[5], 0);
    cr_assert_eq(n[6], 0);
    cr_assert_eq(n[7], 60);
    /* tag recomputed independently with the EVP_Q_mac one-shot */
    memcpy(msg, "verifierd nonce v2", 19); /* includes the 0x00 */
    memcpy(msg + 19, n, 16);
    cr_assert_not_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, KEY_A, 32, msg,
                                 sizeof(msg), mac, sizeof(mac), &mlen));
    cr_assert_eq(mlen, 32);
    cr_assert_eq(memcmp(mac, n + 16, 16), 0);
    vfy_nonce_key_free(&k);
    cr_assert_null(k);
}

Test(nonce, issue_then_check_ok_and_distinct)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[32], b[32];
    uint64_t exp = 0;

    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, b, NULL), VFY_OK);
    cr_assert_neq(memcmp(a, b, 32), 0);
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1000, &exp, NULL), VFY_OK);
    cr_assert_eq(exp, 1060);
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1059, NULL, NULL), VFY_OK);
    vfy_nonce_key_free(&k);
}

Test(nonce, expired_at_and_after_expiry)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[32];
    uint64_t exp = 7;

    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1060, &exp, NULL), VFY_E_NONCE_EXPIRED);
    cr_assert_eq(exp, 0);
    cr_assert_eq(vfy_nonce_check(k, a, 32, 999999, NULL, NULL), VFY_E_NONCE_EXPIRED);
    vfy_nonce_key_free(&k);
}

Test(nonce, forged_every_byte_flip)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[32];

    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    for (size_t i = 0; i < 32; i++) {
        uint8_t b[32];

        memcpy(b, a, 32);
        b[i] ^= 0x01;
        cr_assert_eq(vfy_nonce_check(k, b, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED, "byte %zu", i);
    }
    /* extending the expiry is a forgery, even when the new one is in the future */
    a[4] ^= 0x80;
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED);
    /* so is changing the lifetime (which would move the issue time) */
    a[4] ^= 0x80;
    a[7] ^= 0x01;
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED);
    vfy_nonce_key_free(&k);
}

/* A nonce under KEY_A with any expiry and lifetime: the tag made here. */
static void craft(uint8_t n[32], const char *label, size_t head, uint64_t exp, uint64_t ttl)
{
    uint8_t msg[19 + 16], mac[32];
    size_t mlen = 0;

    memset(n, 0x5a, 32);
    if (head == 5) {
        for (int i = 0; i < 5; i++)
            n[i] = (uint8_t)(exp >> (8 * (4 - i)));
        for (int i = 0; i < 3; i++)
            n[5 + i] = (uint8_t)(ttl >> (8 * (2 - i)));
    } else { /* v1: expiry[8] */
        for (int i = 0; i < 8; i++)
            n[i] = (uint8_t)(exp >> (8 * (7 - i)));
    }
    memcpy(msg, label, 19);
    memcpy(msg + 19, n, 16);
    cr_assert_not_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, KEY_A, 32, msg,
                                 sizeof(msg), mac, sizeof(mac), &mlen));
    memcpy(n + 16, mac, 16);
}

Test(nonce, crafted_tag_is_accepted_so_the_refusals_below_are_for_the_lifetime)
{
    vfy_nonce_key *k = key_a();
    uint8_t n[32];
    uint64_t exp = 0;

    craft(n, "verifierd nonce v2", 5, 1060, 60);
    cr_assert_eq(vfy_nonce_check(k, n, 32, 1000, &exp, NULL), VFY_OK);
    cr_assert_eq(exp, 1060);
    vfy_nonce_key_free(&k);
}

Test(nonce, authentic_but_impossible_lifetime_is_malformed)
{
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *c = NULL;
    uint8_t n[32];
    uint64_t issued = 7;

    cr_assert_eq(vfy_nonce_cache_new(&c, 100), VFY_OK);
    craft(n, "verifierd nonce v2", 5, 1060, 0); /* no lifetime */
    cr_assert_eq(vfy_nonce_check(k, n, 32, 1000, NULL, NULL), VFY_E_NONCE_MALFORMED);
    craft(n, "verifierd nonce v2", 5, 200000, VFY_NONCE_MAX_TTL + 1);
    cr_assert_eq(vfy_nonce_check(k, n, 32, 1000, NULL, NULL), VFY_E_NONCE_MALFORMED);
    craft(n, "verifierd nonce v2", 5, 1060, 1061); /* issued before 1970 */
    cr_assert_eq(vfy_nonce_check(k, n, 32, 1000, NULL, NULL), VFY_E_NONCE_MALFORMED);
    cr_assert_eq(vfy_nonce_consume(k, c, n, 32, 1000, &issued), VFY_E_NONCE_MALFORMED);
    cr_assert_eq(issued, 0);
    cr_assert_eq(vfy_nonce_cache_size(c), 0);
    vfy_nonce_cache_free(&c);
    vfy_nonce_key_free(&k);
}

Test(nonce, v1_layout_nonce_is_forged)
{
    vfy_nonce_key *k = key_a();
    uint8_t n[32];

    /* what a verifier before the lifetime field issued with the same key */
    craft(n, "verifierd nonce v1", 8, 1060, 0);
    cr_assert_eq(vfy_nonce_check(k, n, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED);
    vfy_nonce_key_free(&k);
}

Test(nonce, check_reports_expiry_and_issue_time)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[32];
    uint64_t exp = 0, issued = 0;

    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1010, &exp, &issued), VFY_OK);
    cr_assert_eq(exp, 1060);
    cr_assert_eq(issued, 1000);
    exp = issued = 9;
    cr_assert_eq(vfy_nonce_check(k, a, 32, 1060, &exp, &issued), VFY_E_NONCE_EXPIRED);
    cr_assert_eq(exp, 0);
    cr_assert_eq(issued, 0);
    vfy_nonce_key_free(&k);
}

/* Issued nonces sort (memcmp) by expiry against vfy_nonce_expiry_prefix. */
Test(nonce, expiry_prefix_orders_issued_nonces)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[32], at[VFY_NONCE_EXPIRY_LEN], next[VFY_NONCE_EXPIRY_LEN];
    uint64_t exp = 0, top = ((uint64_t)1 << 40) - 1;

    for (uint64_t now = 1; now < top; now = now * 7 + 12345) {
        if (now > top - 60)
            break;
        cr_assert_eq(vfy_nonce_issue(k, now, 60, a, &exp), VFY_OK);
        cr_assert_eq(vfy_nonce_expiry_prefix(exp, at), VFY_OK);
        cr_assert_eq(vfy_nonce_expiry_prefix(exp + 1, next), VFY_OK);
        cr_assert_eq(memcmp(a, at, sizeof(at)), 0, "expiry %" PRIu64 ": at its own prefix", exp);
        cr_assert_lt(memcmp(a, next, sizeof(next)), 0, "expiry %" PRIu64 ": before the next", exp);
    }
    cr_assert_eq(vfy_nonce_expiry_prefix(top, at), VFY_OK);
    cr_assert_eq(vfy_nonce_expiry_prefix(top + 1, at), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_nonce_expiry_prefix(UINT64_MAX, at), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_nonce_expiry_prefix(1000, NULL), VFY_E_INVALID_ARG);
    vfy_nonce_key_free(&k);
}

Test(nonce, consume_reports_the_authenticated_issue_time)
{
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *c = NULL;
    uint8_t a[32], b[32];
    uint64_t issued = 0;

    cr_assert_eq(vfy_nonce_cache_new(&c, 100), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1030, 5, b, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, b, 32, 1031, &issued), VFY_OK);
    cr_assert_eq(issued, 1030);
    cr_assert_eq(vfy_nonce_consume(k, c, a, 32, 1042, &issued), VFY_OK);
    cr_assert_eq(issued, 1000);
    issued = 9;
    cr_assert_eq(vfy_nonce_consume(k, c, a, 32, 1043, &issued), VFY_E_NONCE_REPLAY);
    cr_assert_eq(issued, 0, "no issue time for a refused nonce");
    vfy_nonce_cache_free(&c);
    vfy_nonce_key_free(&k);
}

Test(nonce, expiry_is_forty_bits)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[32];
    uint64_t top = ((uint64_t)1 << 40) - 1, exp = 0;

    cr_assert_eq(vfy_nonce_issue(k, top - 60, 60, a, &exp), VFY_OK);
    cr_assert_eq(exp, top);
    cr_assert_eq(vfy_nonce_check(k, a, 32, top - 1, NULL, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, top - 59, 60, a, &exp), VFY_E_INVALID_ARG);
    cr_assert_eq(exp, 0);
    vfy_nonce_key_free(&k);
}

Test(nonce, other_key_is_forged_same_key_other_replica_ok)
{
    vfy_nonce_key *k = key_a(), *k2 = key_a(), *other = NULL;
    uint8_t a[32];

    cr_assert_eq(vfy_nonce_key_generate(&other), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_check(k2, a, 32, 1001, NULL, NULL), VFY_OK); /* replica, same key */
    cr_assert_eq(vfy_nonce_check(other, a, 32, 1001, NULL, NULL), VFY_E_NONCE_FORGED);
    vfy_nonce_key_free(&k);
    vfy_nonce_key_free(&k2);
    vfy_nonce_key_free(&other);
}

Test(nonce, malformed_length_and_args)
{
    vfy_nonce_key *k = key_a();
    uint8_t a[33] = {0};
    uint64_t exp;

    cr_assert_eq(vfy_nonce_check(k, a, 31, 0, NULL, NULL), VFY_E_NONCE_MALFORMED);
    cr_assert_eq(vfy_nonce_check(k, a, 33, 0, NULL, NULL), VFY_E_NONCE_MALFORMED);
    cr_assert_eq(vfy_nonce_check(k, a, 0, 0, NULL, NULL), VFY_E_NONCE_MALFORMED);
    cr_assert_eq(vfy_nonce_check(k, a, 32, 0, NULL, NULL), VFY_E_NONCE_FORGED);
    cr_assert_eq(vfy_nonce_issue(k, 0, 0, a, &exp), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_nonce_issue(k, 0, VFY_NONCE_MAX_TTL + 1, a, &exp), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_nonce_issue(k, UINT64_MAX - 5, 60, a, &exp), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_nonce_issue(NULL, 0, 60, a, &exp), VFY_E_INVALID_ARG);
    vfy_nonce_key_free(&k);
    vfy_nonce_key_free(&k); /* double free through the handle is a no-op */
}

Test(nonce, consume_once_then_replay)
{
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *c = NULL;
    uint8_t a[32], bad[32];

    cr_assert_eq(vfy_nonce_cache_new(&c, 100), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, a, 32, 1001, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, a, 32, 1002, NULL), VFY_E_NONCE_REPLAY);
    cr_assert_eq(vfy_nonce_cache_size(c), 1);
    /* forged and expired nonces are refused before touching the cache */
    memcpy(bad, a, 32);
    bad[20] ^= 1;
    cr_assert_eq(vfy_nonce_consume(k, c, bad, 32, 1002, NULL), VFY_E_NONCE_FORGED);
    cr_assert_eq(vfy_nonce_consume(k, c, a, 32, 1060, NULL), VFY_E_NONCE_EXPIRED);
    cr_assert_eq(vfy_nonce_consume(k, c, a, 31, 1002, NULL), VFY_E_NONCE_MALFORMED);
    cr_assert_eq(vfy_nonce_cache_size(c), 1);
    vfy_nonce_cache_free(&c);
    cr_assert_null(c);
    vfy_nonce_key_free(&k);
}

Test(nonce, cache_full_refuses_then_frees_on_expiry)
{
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *c = NULL;
    uint8_t n[4][32], late[32];

    cr_assert_eq(vfy_nonce_cache_new(&c, 3), VFY_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vfy_nonce_issue(k, 1000, 10, n[i], NULL), VFY_OK);
        cr_assert_eq(vfy_nonce_consume(k, c, n[i], 32, 1000, NULL), VFY_OK);
    }
    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, n[3], NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, n[3], 32, 1005, NULL), VFY_E_NONCE_CACHE_FULL);
    /* a live nonce is never forgotten to make room: still a replay */
    cr_assert_eq(vfy_nonce_consume(k, c, n[0], 32, 1005, NULL), VFY_E_NONCE_REPLAY);
    /* refused nonce was not recorded; once the first three expire it gets in */
    cr_assert_eq(vfy_nonce_consume(k, c, n[3], 32, 1010, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_cache_size(c), 1);
    cr_assert_eq(vfy_nonce_consume(k, c, n[3], 32, 1011, NULL), VFY_E_NONCE_REPLAY);
    /* the cache's clock only moves forward: an older now cannot revive n[0] */
    cr_assert_eq(vfy_nonce_consume(k, c, n[0], 32, 1001, NULL), VFY_E_NONCE_EXPIRED);
    cr_assert_eq(vfy_nonce_issue(k, 1011, 60, late, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, late, 32, 1011, NULL), VFY_OK);
    vfy_nonce_cache_free(&c);
    vfy_nonce_key_free(&k);
}

/*
 * A wall clock that ran ahead and was corrected: fresh nonces are judged at
 * the corrected clock (the cache used to judge every nonce against the
 * highest now it had seen, so every attestation failed as "nonce expired"
 * until the clock caught up), a used one is still a replay, and one a sweep
 * dropped stays expired whatever the caller's clock.
 */
Test(nonce, clock_stepped_back)
{
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *c = NULL;
    uint8_t ahead[32], fresh[32], n[3][32], after[32];
    uint64_t issued = 0;

    cr_assert_eq(vfy_nonce_cache_new(&c, 3), VFY_OK);
    /* at 5000 (ten minutes ahead): one nonce used */
    cr_assert_eq(vfy_nonce_issue(k, 5000, 60, ahead, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, ahead, 32, 5000, NULL), VFY_OK);
    /* back at 4400: a nonce issued now is good, and used once */
    cr_assert_eq(vfy_nonce_issue(k, 4400, 60, fresh, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, fresh, 32, 4400, &issued), VFY_OK);
    cr_assert_eq(issued, 4400);
    cr_assert_eq(vfy_nonce_consume(k, c, fresh, 32, 4401, NULL), VFY_E_NONCE_REPLAY);
    /* the nonce used while ahead is still remembered */
    cr_assert_eq(vfy_nonce_consume(k, c, ahead, 32, 4401, NULL), VFY_E_NONCE_REPLAY);
    vfy_nonce_cache_free(&c);

    /* A sweep while ahead drops what expires by then: those stay expired
     * for a caller behind it; a nonce expiring later is judged as usual. */
    cr_assert_eq(vfy_nonce_cache_new(&c, 3), VFY_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vfy_nonce_issue(k, 1000, 10, n[i], NULL), VFY_OK);
        cr_assert_eq(vfy_nonce_consume(k, c, n[i], 32, 1000, NULL), VFY_OK);
    }
    cr_assert_eq(vfy_nonce_issue(k, 1100, 60, after, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, c, after, 32, 1100, NULL), VFY_OK);   /* sweeps at 1100 */
    cr_assert_eq(vfy_nonce_cache_size(c), 1);
    cr_assert_eq(vfy_nonce_consume(k, c, n[1], 32, 1001, NULL), VFY_E_NONCE_EXPIRED);
    cr_assert_eq(vfy_nonce_issue(k, 1001, 60, fresh, NULL), VFY_OK);   /* expires 1061 < 1100 */
    cr_assert_eq(vfy_nonce_consume(k, c, fresh, 32, 1001, NULL), VFY_E_NONCE_EXPIRED);
    cr_assert_eq(vfy_nonce_issue(k, 1050, 60, fresh, NULL), VFY_OK);   /* expires 1110 */
    cr_assert_eq(vfy_nonce_consume(k, c, fresh, 32, 1050, NULL), VFY_OK);
    vfy_nonce_cache_free(&c);
    vfy_nonce_key_free(&k);
}

/*
 * A restart, then the clock stepped back: the nonces the new cache did not
 * reload because they had expired by its start stay expired (the restart
 * marked them swept). Without the mark, one used before the restart was
 * accepted again: 1035 < its expiry 1060, and nothing remembered it.
 */
Test(nonce, restart_then_clock_back)
{
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *before = NULL, *after = NULL;
    uint8_t used[32], fresh[32];

    cr_assert_eq(vfy_nonce_cache_new(&before, 100), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1000, 60, used, NULL), VFY_OK);   /* expires 1060 */
    cr_assert_eq(vfy_nonce_consume(k, before, used, 32, 1010, NULL), VFY_OK);
    vfy_nonce_cache_free(&before);
    /* restart at 1065: nothing expiring by then is reloaded */
    cr_assert_eq(vfy_nonce_cache_new(&after, 100), VFY_OK);
    vfy_nonce_cache_mark_swept(after, 1065);
    /* the clock is stepped back to 1035 */
    cr_assert_eq(vfy_nonce_consume(k, after, used, 32, 1035, NULL), VFY_E_NONCE_EXPIRED);
    /* one that expires after the start is judged as usual */
    cr_assert_eq(vfy_nonce_issue(k, 1035, 60, fresh, NULL), VFY_OK);   /* expires 1095 */
    cr_assert_eq(vfy_nonce_consume(k, after, fresh, 32, 1035, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_consume(k, after, fresh, 32, 1036, NULL), VFY_E_NONCE_REPLAY);
    /* marking is never lowered, and NULL is fine */
    vfy_nonce_cache_mark_swept(after, 10);
    cr_assert_eq(vfy_nonce_consume(k, after, used, 32, 1035, NULL), VFY_E_NONCE_EXPIRED);
    vfy_nonce_cache_mark_swept(NULL, 10);
    vfy_nonce_cache_free(&after);
    vfy_nonce_key_free(&k);
}

Test(nonce, cache_args)
{
    vfy_nonce_cache *c = (vfy_nonce_cache *)1;

    cr_assert_eq(vfy_nonce_cache_new(&c, 0), VFY_E_INVALID_ARG);
    cr_assert_null(c);
    cr_assert_eq(vfy_nonce_cache_new(&c, ((size_t)1 << 24) + 1), VFY_E_INVALID_ARG);
    vfy_nonce_cache_free(NULL);
    vfy_nonce_cache_free(&c);
}

struct race {
    vfy_nonce_key *k;
    vfy_nonce_cache *c;
    const uint8_t (*nonces)[32];
    size_t n;
    size_t ok;
};

static void *race_thread(void *arg)
{
    struct race *r = arg;

    for (size_t i = 0; i < r->n; i++) {
        vfy_rc rc = vfy_nonce_consume(r->k, r->c, r->nonces[i], 32, 2000, NULL);

        if (rc == VFY_OK)
            r->ok++;
        else if (rc != VFY_E_NONCE_REPLAY)
            return (void *)1;
    }
    return NULL;
}

Test(nonce, concurrent_consumers_accept_each_nonce_once)
{
    enum { N = 2000, T = 4 };
    static uint8_t nonces[N][32];
    vfy_nonce_key *k = key_a();
    vfy_nonce_cache *c = NULL;
    pthread_t th[T];
    struct race r[T];
    size_t total = 0;

    cr_assert_eq(vfy_nonce_cache_new(&c, 4096), VFY_OK); /* several stripes */
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(vfy_nonce_issue(k, 2000, 60, nonces[i], NULL), VFY_OK);
    for (int t = 0; t < T; t++) {
        r[t] = (struct race){k, c, (const uint8_t (*)[32])nonces, N, 0};
        cr_assert_eq(pthread_create(&th[t], NULL, race_thread, &r[t]), 0);
    }
    for (int t = 0; t < T; t++) {
        void *ret = (void *)2;

        cr_assert_eq(pthread_join(th[t], &ret), 0);
        cr_assert_null(ret);
        total += r[t].ok;
    }
    cr_assert_eq(total, N);
    cr_assert_eq(vfy_nonce_cache_size(c), N);
    vfy_nonce_cache_free(&c);
    vfy_nonce_key_free(&k);
}

/* ---- per-thread tag contexts ---- */

static const uint8_t KEY_B[32] = {
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
};

/* Whether @n's tag is the documented HMAC under @key (EVP_Q_mac one-shot). */
static int tag_is(const uint8_t key[32], const uint8_t n[32])
{
    uint8_t mac[32], msg[19 + 16];
    size_t mlen = 0;

    memcpy(msg, "verifierd nonce v2", 19);
    memcpy(msg + 19, n, 16);
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, msg, sizeof(msg), mac, sizeof(mac),
                  &mlen) == NULL || mlen != 32)
        return 0;
    return memcmp(mac, n + 16, 16) == 0;
}

struct tag_thread {
    vfy_nonce_key *k;
    const uint8_t (*theirs)[32]; /* issued by the main thread */
    uint8_t mine[64][32];        /* issued here */
    int bad;
};

static void *tag_thread_run(void *arg)
{
    struct tag_thread *t = arg;

    for (int i = 0; i < 64; i++) {
        if (vfy_nonce_check(t->k, t->theirs[i], 32, 3000, NULL, NULL) != VFY_OK)
            t->bad++;
        if (vfy_nonce_issue(t->k, 3000, 60, t->mine[i], NULL) != VFY_OK)
            t->bad++;
    }
    return NULL;
}

Test(nonce, tags_identical_across_threads)
{
    enum { T = 4 };
    static struct tag_thread t[T];
    static uint8_t mainn[64][32];
    vfy_nonce_key *k = key_a();
    pthread_t th[T];

    for (int i = 0; i < 64; i++) {
        cr_assert_eq(vfy_nonce_issue(k, 3000, 60, mainn[i], NULL), VFY_OK);
        cr_assert(tag_is(KEY_A, mainn[i]));
    }
    for (int i = 0; i < T; i++) {
        t[i].k = k;
        t[i].theirs = (const uint8_t (*)[32])mainn;
        t[i].bad = 0;
        cr_assert_eq(pthread_create(&th[i], NULL, tag_thread_run, &t[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(t[i].bad, 0, "thread %d", i);
        for (int j = 0; j < 64; j++) {
            cr_assert(tag_is(KEY_A, t[i].mine[j]), "thread %d nonce %d", i, j);
            cr_assert_eq(vfy_nonce_check(k, t[i].mine[j], 32, 3000, NULL, NULL), VFY_OK);
        }
    }
    vfy_nonce_key_free(&k);
}

/* One thread switching keys on every call never tags with the other key. */
Test(nonce, alternating_keys_on_one_thread_never_mix)
{
    vfy_nonce_key *a = key_a(), *a2 = key_a(), *b = NULL;
    uint8_t na[32], nb[32];

    cr_assert_eq(vfy_nonce_key_new(&b, KEY_B), VFY_OK);
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(vfy_nonce_issue(a, 1000, 60, na, NULL), VFY_OK);
        cr_assert(tag_is(KEY_A, na), "round %d", i);
        cr_assert_eq(vfy_nonce_check(b, na, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED, "round %d", i);
        cr_assert_eq(vfy_nonce_issue(b, 1000, 60, nb, NULL), VFY_OK);
        cr_assert(tag_is(KEY_B, nb), "round %d", i);
        cr_assert_eq(vfy_nonce_check(a, nb, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED, "round %d", i);
        /* another handle on the same bytes agrees */
        cr_assert_eq(vfy_nonce_check(a2, na, 32, 1000, NULL, NULL), VFY_OK, "round %d", i);
        cr_assert_eq(vfy_nonce_check(b, nb, 32, 1000, NULL, NULL), VFY_OK, "round %d", i);
        cr_assert_eq(vfy_nonce_check(a, na, 32, 1000, NULL, NULL), VFY_OK, "round %d", i);
        cr_assert_eq(vfy_nonce_check(a2, nb, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED, "round %d", i);
    }
    vfy_nonce_key_free(&a);
    vfy_nonce_key_free(&a2);
    vfy_nonce_key_free(&b);
}

/*
 * A key freed while some thread still holds its context, and a new key
 * (with other bytes) allocated, very likely at the same address: that
 * thread must tag with the new key. Both the thread that freed the key and
 * another thread that had used it are checked.
 */
/*
 * Make the next allocation of a just-freed small block likely to reuse it.
 * glibc's calloc (which vfy_nonce_key_new uses) skips the per-thread cache
 * that free fills first, so a freed key's block is not handed to the next
 * key unless that cache is full: fill it for every small size. Harmless
 * elsewhere; under ASan nothing is reused and the test only says so.
 */
static void fill_malloc_cache(void)
{
    void *p[16][7];

    for (int s = 0; s < 16; s++)
        for (int i = 0; i < 7; i++)
            p[s][i] = malloc((size_t)s * 16 + 8);
    for (int s = 0; s < 16; s++)
        for (int i = 0; i < 7; i++)
            free(p[s][i]);
}

struct stale {
    vfy_nonce_key *k; /* the key in use; swapped by the main thread */
    pthread_barrier_t step;
    uint8_t old_nonce[32];
    int bad;
};

static void *stale_thread_run(void *arg)
{
    struct stale *s = arg;
    uint8_t n[32];

    if (vfy_nonce_issue(s->k, 1000, 60, s->old_nonce, NULL) != VFY_OK || !tag_is(KEY_A, s->old_nonce))
        s->bad++;
    pthread_barrier_wait(&s->step); /* main frees the key, makes another */
    pthread_barrier_wait(&s->step);
    if (vfy_nonce_issue(s->k, 1000, 60, n, NULL) != VFY_OK || !tag_is(KEY_B, n))
        s->bad++;
    if (vfy_nonce_check(s->k, s->old_nonce, 32, 1000, NULL, NULL) != VFY_E_NONCE_FORGED)
        s->bad++;
    return NULL;
}

Test(nonce, freed_key_context_not_reused_by_next_key)
{
    static struct stale s;
    uint8_t n[32], old[32];
    uintptr_t was;
    pthread_t th;

    /* the freeing thread itself */
    s.k = key_a();
    cr_assert_eq(vfy_nonce_issue(s.k, 1000, 60, old, NULL), VFY_OK);
    was = (uintptr_t)s.k;
    fill_malloc_cache();
    vfy_nonce_key_free(&s.k);
    cr_assert_eq(vfy_nonce_key_new(&s.k, KEY_B), VFY_OK);
    cr_log_info("same thread: new key %s the freed key's address",
                (uintptr_t)s.k == was ? "reuses" : "does not reuse");
    cr_assert_eq(vfy_nonce_issue(s.k, 1000, 60, n, NULL), VFY_OK);
    cr_assert(tag_is(KEY_B, n));
    cr_assert_eq(vfy_nonce_check(s.k, old, 32, 1000, NULL, NULL), VFY_E_NONCE_FORGED);
    vfy_nonce_key_free(&s.k);

    /* another thread that had used the freed key */
    s.k = key_a();
    s.bad = 0;
    cr_assert_eq(pthread_barrier_init(&s.step, NULL, 2), 0);
    cr_assert_eq(pthread_create(&th, NULL, stale_thread_run, &s), 0);
    pthread_barrier_wait(&s.step);
    was = (uintptr_t)s.k;
    fill_malloc_cache();
    vfy_nonce_key_free(&s.k);
    cr_assert_eq(vfy_nonce_key_new(&s.k, KEY_B), VFY_OK);
    cr_log_info("other thread: new key %s the freed key's address",
                (uintptr_t)s.k == was ? "reuses" : "does not reuse");
    pthread_barrier_wait(&s.step);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(s.bad, 0);
    pthread_barrier_destroy(&s.step);
    vfy_nonce_key_free(&s.k);
}

Test(nonce, key_save_load_roundtrip_0600)
{
    char dir[] = "/tmp/vfy-nonce-XXXXXX", path[64], bad[64];
    vfy_nonce_key *k = NULL, *k2 = NULL;
    uint8_t a[32];
    struct stat st;
    FILE *f;

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/nonce.key", dir);
    snprintf(bad, sizeof(bad), "%s/bad.key", dir);
    cr_assert_eq(vfy_nonce_key_generate(&k), VFY_OK);
    cr_assert_eq(vfy_nonce_key_save(k, path), VFY_OK);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(st.st_size, 65);
    cr_assert_eq(vfy_nonce_key_load(&k2, path), VFY_OK);
    cr_assert_eq(vfy_nonce_issue(k, 1, 60, a, NULL), VFY_OK);
    cr_assert_eq(vfy_nonce_check(k2, a, 32, 2, NULL, NULL), VFY_OK);
    vfy_nonce_key_free(&k2);

    f = fopen(bad, "w");
    cr_assert_not_null(f);
    fputs("0011", f); /* too short */
    fclose(f);
    cr_assert_eq(vfy_nonce_key_load(&k2, bad), VFY_E_NONCE_KEY);
    cr_assert_null(k2);
    f = fopen(bad, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fzz", f);
    fclose(f);
    cr_assert_eq(vfy_nonce_key_load(&k2, bad), VFY_E_NONCE_KEY);
    f = fopen(bad, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", f);
    fclose(f);
    cr_assert_eq(vfy_nonce_key_load(&k2, bad), VFY_E_NONCE_KEY);
    f = fopen(bad, "w");
    fputs("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", f);
    fclose(f);
    cr_assert_eq(vfy_nonce_key_load(&k2, bad), VFY_OK);
    cr_assert_eq(vfy_nonce_check(k2, a, 32, 2, NULL, NULL), VFY_E_NONCE_FORGED);
    vfy_nonce_key_free(&k2);
    cr_assert_eq(vfy_nonce_key_load(&k2, "/nonexistent/x"), VFY_E_IO);

    unlink(path);
    unlink(bad);
    rmdir(dir);
    vfy_nonce_key_free(&k);
}
