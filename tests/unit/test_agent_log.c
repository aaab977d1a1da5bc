/*
 * test_agent_log.c — agent log parsing, replay and the history rule
 * (agent_log.c, DESIGN §4): every branch of the history function, every
 * limit and every rejection with its exact error code.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"
#include "verify/agent_log.h"
#include "verify/manifest.h"

#define HA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* Digest number @i: 32 bytes of value i+1. */
static void dig(uint8_t d[32], unsigned i)
{
    memset(d, (int)(i + 1), 32);
}

/* A log JSON of @n entries with digests dig(0..n-1). Caller frees. */
static char *log_json(size_t n, size_t *len)
{
    size_t cap = 16 + n * 90, k = 0;
    char *s = malloc(cap);

    s[k++] = '[';
    for (size_t i = 0; i < n; i++) {
        uint8_t d[32];
        char str[VFY_SHA256_STR_LEN + 1];

        dig(d, (unsigned)i);
        cr_assert_eq(vfy_sha256_format(str, sizeof(str), d), VFY_OK);
        k += (size_t)snprintf(s + k, cap - k, "%s{\"digest\":\"%s\"}", i ? "," : "", str);
    }
    s[k++] = ']';
    s[k] = '\0';
    *len = k;
    return s;
}

static vfy_agent_log *parse_n(size_t n)
{
    size_t len;
    char *s = log_json(n, &len);
    vfy_agent_log *log = NULL;

    cr_assert_eq(vfy_agent_log_parse(&log, s, len, NULL, 0), VFY_OK);
    free(s);
    return log;
}

static void expect(const char *json, vfy_rc rc)
{
    vfy_agent_log *log = (vfy_agent_log *)(uintptr_t)1;
    char detail[160] = "x";
    vfy_rc got = vfy_agent_log_parse(&log, json, strlen(json), detail, sizeof(detail));

    cr_assert_eq(got, rc, "%s: got %s (%s), want %s", json, vfy_rc_name(got), detail,
                 vfy_rc_name(rc));
    if (rc != VFY_OK) {
        cr_assert_null(log);
        cr_assert_neq(detail[0], '\0');
    }
    vfy_agent_log_free(&log);
}

/* Expected PCR after extending dig(0..n-1), computed independently. */
static void expected_pcr(size_t n, uint8_t pcr[32])
{
    uint8_t buf[64];

    memset(pcr, 0, 32);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, pcr, 32);
        dig(buf + 32, (unsigned)i);
        cr_assert_eq(vfy_sha256(buf, 64, pcr), VFY_OK);
    }
}

Test(agent_log, parse_and_replay)
{
    vfy_agent_log *log = parse_n(3);
    uint8_t pcr[32], got[32], md[32];

    cr_assert_eq(vfy_agent_log_count(log), 3);
    dig(md, 1);
    cr_assert_eq(memcmp(vfy_agent_log_digest(log, 1), md, 32), 0);
    cr_assert_null(vfy_agent_log_digest(log, 3));
    expected_pcr(3, pcr);
    vfy_agent_log_pcr(log, got);
    cr_assert_eq(memcmp(got, pcr, 32), 0);
    dig(md, 2);
    cr_assert_eq(vfy_agent_log_replay(log, pcr, md), VFY_OK);
    /* PCR after only two extends */
    expected_pcr(2, pcr);
    cr_assert_eq(vfy_agent_log_replay(log, pcr, md), VFY_E_LOG_REPLAY);
    /* right PCR, but the presented manifest is not the last entry */
    expected_pcr(3, pcr);
    dig(md, 1);
    cr_assert_eq(vfy_agent_log_replay(log, pcr, md), VFY_E_LOG_LAST);
    pcr[31] ^= 1;
    cr_assert_eq(vfy_agent_log_replay(log, pcr, md), VFY_E_LOG_REPLAY);
    cr_assert_eq(vfy_agent_log_replay(NULL, pcr, md), VFY_E_INVALID_ARG);
    vfy_agent_log_free(&log);
    cr_assert_null(log);
}

Test(agent_log, single_entry_known_answer)
{
    /* SHA-256(0^32 || 0xaa^32), checked with:
     * python3 -c "import hashlib;print(hashlib.sha256(bytes(32)+b'\xaa'*32).hexdigest())" */
    static const char *want =
        "sha256:9ef814b42fa0be12d197c44d3e8e03441a4b1118237658368ba1351090e556ed";
    vfy_agent_log *log = NULL;
    uint8_t got[32];
    char str[VFY_SHA256_STR_LEN + 1];
    const char *s = "[{\"digest\":\"" HA "\"}]";

    cr_assert_eq(vfy_agent_log_parse(&log, s, strlen(s), NULL, 0), VFY_OK);
    vfy_agent_log_pcr(log, got);
    cr_assert_eq(vfy_sha256_format(str, sizeof(str), got), VFY_OK);
    cr_assert_str_eq(str, want);
    vfy_agent_log_free(&log);
}

Test(agent_log, carried_manifest)
{
    const char *man = "{\"agent_id\":\"a\"}";
    uint8_t md[32];
    char mds[VFY_SHA256_STR_LEN + 1], b64[64], json[256];
    vfy_agent_log *log = NULL;
    const uint8_t *p;
    size_t n = 99;

    cr_assert_eq(vfy_sha256(man, strlen(man), md), VFY_OK);
    cr_assert_eq(vfy_sha256_format(mds, sizeof(mds), md), VFY_OK);
    cr_assert_eq(vfy_b64url_encode(b64, sizeof(b64), (const uint8_t *)man, strlen(man)), VFY_OK);
    snprintf(json, sizeof(json), "[{\"digest\":\"" HA "\"},{\"digest\":\"%s\",\"manifest\":\"%s\"}]",
             mds, b64);
    cr_assert_eq(vfy_agent_log_parse(&log, json, strlen(json), NULL, 0), VFY_OK);
    cr_assert_null(vfy_agent_log_manifest(log, 0, &n));
    cr_assert_eq(n, 0);
    p = vfy_agent_log_manifest(log, 1, &n);
    cr_assert_not_null(p);
    cr_assert_eq(n, strlen(man));
    cr_assert_eq(memcmp(p, man, n), 0);
    cr_assert_null(vfy_agent_log_manifest(log, 2, &n));
    vfy_agent_log_free(&log);

    /* the same manifest under another digest */
    snprintf(json, sizeof(json), "[{\"digest\":\"" HA "\",\"manifest\":\"%s\"}]", b64);
    expect(json, VFY_E_LOG_MANIFEST_MISMATCH);
    /* padding and the standard alphabet are not base64url */
    snprintf(json, sizeof(json), "[{\"digest\":\"%s\",\"manifest\":\"%s=\"}]", mds, b64);
    expect(json, VFY_E_LOG_ENCODING);
    snprintf(json, sizeof(json), "[{\"digest\":\"%s\",\"manifest\":\"ab+/\"}]", mds);
    expect(json, VFY_E_LOG_ENCODING);
    snprintf(json, sizeof(json), "[{\"digest\":\"%s\",\"manifest\":7}]", mds);
    expect(json, VFY_E_LOG_MALFORMED);
}

Test(agent_log, carried_manifest_limit)
{
    /* 64 KiB + 1 of manifest bytes; the digest is right, so only the size fails */
    size_t n = VFY_MANIFEST_MAX + 1, blen = VFY_B64URL_LEN(n) + 1;
    uint8_t *m = malloc(n), md[32];
    char *b64 = malloc(blen), *json = malloc(blen + 200), mds[VFY_SHA256_STR_LEN + 1];
    vfy_agent_log *log = NULL;

    memset(m, 'x', n);
    for (int over = 1; over >= 0; over--) {
        size_t len = n - (over ? 0 : 1);

        cr_assert_eq(vfy_sha256(m, len, md), VFY_OK);
        cr_assert_eq(vfy_sha256_format(mds, sizeof(mds), md), VFY_OK);
        cr_assert_eq(vfy_b64url_encode(b64, blen, m, len), VFY_OK);
        snprintf(json, blen + 200, "[{\"digest\":\"%s\",\"manifest\":\"%s\"}]", mds, b64);
        cr_assert_eq(vfy_agent_log_parse(&log, json, strlen(json), NULL, 0),
                     over ? VFY_E_MANIFEST_TOO_LARGE : VFY_OK);
        vfy_agent_log_free(&log);
    }
    free(m);
    free(b64);
    free(json);
}

Test(agent_log, rejections)
{
    expect("", VFY_E_LOG_MALFORMED);
    expect("{}", VFY_E_LOG_MALFORMED);
    expect("[", VFY_E_LOG_MALFORMED);
    expect("[\"" HA "\"]", VFY_E_LOG_MALFORMED);
    expect("[{\"digest\":\"" HA "\"}] []", VFY_E_LOG_MALFORMED);
    expect("[]", VFY_E_LOG_EMPTY);
    expect("[{}]", VFY_E_LOG_DIGEST);
    expect("[{\"digest\":7}]", VFY_E_LOG_DIGEST);
    expect("[{\"digest\":\"sha256:aa\"}]", VFY_E_LOG_DIGEST);
    expect("[{\"digest\":\"sha1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]", VFY_E_LOG_DIGEST);
    expect("[{\"digest\":\"" HA "\",\"digest\":\"" HA "\"}]", VFY_E_LOG_DUPLICATE);
    expect("[{\"digest\":\"" HA "\",\"clock\":1}]", VFY_E_LOG_UNKNOWN_FIELD);
}

Test(agent_log, limit_entries)
{
    size_t len;
    char *s = log_json(VFY_AGENT_LOG_MAX_ENTRIES, &len);
    vfy_agent_log *log = NULL;
    uint8_t pcr[32];

    cr_assert_eq(vfy_agent_log_parse(&log, s, len, NULL, 0), VFY_OK);
    cr_assert_eq(vfy_agent_log_count(log), VFY_AGENT_LOG_MAX_ENTRIES);
    expected_pcr(VFY_AGENT_LOG_MAX_ENTRIES, pcr);
    uint8_t got[32];
    vfy_agent_log_pcr(log, got);
    cr_assert_eq(memcmp(got, pcr, 32), 0);
    vfy_agent_log_free(&log);
    free(s);
    s = log_json(VFY_AGENT_LOG_MAX_ENTRIES + 1, &len);
    cr_assert_eq(vfy_agent_log_parse(&log, s, len, NULL, 0), VFY_E_LOG_TOO_MANY);
    cr_assert_null(log);
    free(s);
    /* ~1 MiB of bare values is refused before cJSON builds a node for each
     * (it used to build ~400k of them, ~30 MB, and then count entries). */
    {
        size_t n = VFY_AGENT_LOG_MAX - 8, k = 0;
        char *b = malloc(n + 8), detail[128];

        b[k++] = '[';
        while (k + 3 < n) {
            b[k++] = '0';
            b[k++] = ',';
        }
        b[k++] = '0';
        b[k++] = ']';
        cr_assert_eq(vfy_agent_log_parse(&log, b, k, detail, sizeof(detail)), VFY_E_LOG_TOO_MANY);
        cr_expect_str_eq(detail, "more than 24577 JSON values");
        cr_assert_null(log);
        free(b);
    }
}

Test(agent_log, limit_size)
{
    size_t n = VFY_AGENT_LOG_MAX + 1;
    char *s = malloc(n);
    const char *ok = "[{\"digest\":\"" HA "\"}]";
    vfy_agent_log *log = NULL;

    memset(s, ' ', n);
    memcpy(s, ok, strlen(ok));
    cr_assert_eq(vfy_agent_log_parse(&log, s, n, NULL, 0), VFY_E_LOG_TOO_LARGE);
    cr_assert_eq(vfy_agent_log_parse(&log, s, n - 1, NULL, 0), VFY_OK);
    vfy_agent_log_free(&log);
    free(s);
}

Test(agent_log, limit_nesting)
{
    char s[256];
    size_t k = (size_t)snprintf(s, sizeof(s), "[{\"digest\":\"" HA "\"},");

    /* the outer array is depth 1: 16 more make 17 */
    for (int i = 0; i < 16; i++)
        s[k++] = '[';
    for (int i = 0; i < 16; i++)
        s[k++] = ']';
    s[k++] = ']';
    s[k] = '\0';
    expect(s, VFY_E_LOG_NESTING);
    /* 15 more (depth 16): parses, and the nested array is not an entry */
    k = (size_t)snprintf(s, sizeof(s), "[{\"digest\":\"" HA "\"},");
    for (int i = 0; i < 15; i++)
        s[k++] = '[';
    for (int i = 0; i < 15; i++)
        s[k++] = ']';
    s[k++] = ']';
    s[k] = '\0';
    expect(s, VFY_E_LOG_MALFORMED);
}

/* ---- history rule ---- */

static vfy_clock_info clk(uint32_t reset, uint64_t clock)
{
    vfy_clock_info c = {.clock = clock, .reset_count = reset, .restart_count = 0, .safe = 1};

    return c;
}

/* A stored history of dig(0..n-1) in epoch @epoch, entry i first seen at
 * clock 1000*(i+1). */
static vfy_agent_history stored(uint32_t epoch, size_t n, vfy_agent_history_entry *buf)
{
    vfy_agent_history h = {.epoch = epoch, .n = n, .entries = buf};

    for (size_t i = 0; i < n; i++) {
        dig(buf[i].digest, (unsigned)i);
        buf[i].first_clock = 1000 * (i + 1);
    }
    return h;
}

static vfy_rc check(const vfy_agent_history *prev, size_t log_n, vfy_clock_info c,
                    vfy_log_outcome *o, vfy_agent_history *next)
{
    vfy_agent_log *log = parse_n(log_n);
    vfy_rc rc = vfy_agent_history_check(prev, log, &c, o, next);

    vfy_agent_log_free(&log);
    return rc;
}

Test(history, first_quote_is_new_epoch)
{
    vfy_agent_history next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(NULL, 2, clk(5, 777), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_NEW_EPOCH);
    cr_assert_eq(next.epoch, 5);
    cr_assert_eq(next.n, 2);
    cr_assert_eq(next.entries[0].first_clock, 777);
    cr_assert_eq(next.entries[1].first_clock, 777);
    cr_assert_eq(next.entries[1].digest[0], 2);
    vfy_agent_history_clear(&next);
    cr_assert_null(next.entries);
    cr_assert_eq(next.n, 0);
}

Test(history, reboot_is_new_epoch_even_with_shorter_log)
{
    vfy_agent_history_entry buf[3];
    vfy_agent_history prev = stored(5, 3, buf), next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 1, clk(6, 10), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_NEW_EPOCH);
    cr_assert_eq(next.epoch, 6);
    cr_assert_eq(next.n, 1);
    cr_assert_eq(next.entries[0].first_clock, 10);
    vfy_agent_history_clear(&next);
    /* wrap-around: 0x00000001 is after 0xffffffff */
    prev.epoch = 0xffffffffu;
    cr_assert_eq(check(&prev, 1, clk(1, 10), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_NEW_EPOCH);
    vfy_agent_history_clear(&next);
}

Test(history, reset_count_behind_is_rollback)
{
    vfy_agent_history_entry buf[2];
    vfy_agent_history prev = stored(5, 2, buf), next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 2, clk(4, 99999), &o, &next), VFY_E_LOG_ROLLBACK);
    cr_assert_eq(o, VFY_LOG_ROLLBACK);
    cr_assert_null(next.entries);
}

Test(history, same)
{
    vfy_agent_history_entry buf[3];
    vfy_agent_history prev = stored(5, 3, buf), next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 3, clk(5, 1), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_SAME);
    cr_assert_eq(next.n, 0);
    cr_assert_null(next.entries);
}

Test(history, extends_keeps_old_stamps)
{
    vfy_agent_history_entry buf[2];
    vfy_agent_history prev = stored(5, 2, buf), next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 4, clk(5, 2000), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_EXTENDS);
    cr_assert_eq(next.epoch, 5);
    cr_assert_eq(next.n, 4);
    cr_assert_eq(next.entries[0].first_clock, 1000);
    cr_assert_eq(next.entries[1].first_clock, 2000);
    cr_assert_eq(next.entries[2].first_clock, 2000);
    cr_assert_eq(next.entries[3].first_clock, 2000);
    cr_assert_eq(next.entries[3].digest[0], 4);
    vfy_agent_history_clear(&next);
}

Test(history, extends_quoted_before_a_shorter_log_is_rollback)
{
    /* entry 1 was first seen at 2000 by a quote showing 2 entries; a quote
     * from 1500 showing 3 entries means the PCR was reset in between */
    vfy_agent_history_entry buf[2];
    vfy_agent_history prev = stored(5, 2, buf), next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 3, clk(5, 1999), &o, &next), VFY_E_LOG_ROLLBACK);
    cr_assert_eq(o, VFY_LOG_ROLLBACK);
    cr_assert_null(next.entries);
}

Test(history, late_prefix)
{
    /* stored: e0@1000 e1@2000 e2@3000; a quote of [e0,e1] from 2999 is late */
    vfy_agent_history_entry buf[3];
    vfy_agent_history prev = stored(5, 3, buf), next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 2, clk(5, 2999), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_LATE_PREFIX);
    cr_assert_null(next.entries);
    cr_assert_eq(check(&prev, 1, clk(5, 1999), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_LATE_PREFIX);
}

Test(history, shorter_log_quoted_later_is_rollback)
{
    vfy_agent_history_entry buf[3];
    vfy_agent_history prev = stored(5, 3, buf), next = {0};
    vfy_log_outcome o = 0;

    /* equal to the clock entry 2 was first seen at: not lower, so rollback */
    cr_assert_eq(check(&prev, 2, clk(5, 3000), &o, &next), VFY_E_LOG_ROLLBACK);
    cr_assert_eq(o, VFY_LOG_ROLLBACK);
    cr_assert_eq(check(&prev, 1, clk(5, 5000), &o, &next), VFY_E_LOG_ROLLBACK);
    cr_assert_eq(o, VFY_LOG_ROLLBACK);
}

Test(history, different_history_is_rollback)
{
    vfy_agent_history_entry buf[3];
    vfy_agent_history prev = stored(5, 3, buf), next = {0};
    vfy_log_outcome o = 0;

    /* same length, different middle entry */
    buf[1].digest[5] ^= 1;
    cr_assert_eq(check(&prev, 3, clk(5, 9000), &o, &next), VFY_E_LOG_ROLLBACK);
    cr_assert_eq(o, VFY_LOG_ROLLBACK);
    /* longer, but diverging: not an extension */
    cr_assert_eq(check(&prev, 4, clk(5, 9000), &o, &next), VFY_E_LOG_ROLLBACK);
    /* shorter and diverging, even quoted early */
    cr_assert_eq(check(&prev, 2, clk(5, 1), &o, &next), VFY_E_LOG_ROLLBACK);
    cr_assert_null(next.entries);
}

Test(history, empty_stored_log_in_same_epoch_extends)
{
    vfy_agent_history prev = {.epoch = 5, .n = 0, .entries = NULL}, next = {0};
    vfy_log_outcome o = 0;

    cr_assert_eq(check(&prev, 1, clk(5, 3), &o, &next), VFY_OK);
    cr_assert_eq(o, VFY_LOG_EXTENDS);
    cr_assert_eq(next.n, 1);
    vfy_agent_history_clear(&next);
}

Test(history, bad_state_and_args)
{
    vfy_agent_history prev = {.epoch = 5, .n = 2, .entries = NULL}, next = {0};
    vfy_log_outcome o = 0;
    vfy_agent_log *log = parse_n(1);
    vfy_clock_info c = clk(5, 1);

    cr_assert_eq(vfy_agent_history_check(&prev, log, &c, &o, &next), VFY_E_LOG_STATE);
    prev.n = VFY_AGENT_LOG_MAX_ENTRIES + 1;
    prev.entries = (vfy_agent_history_entry *)&c; /* never read */
    cr_assert_eq(vfy_agent_history_check(&prev, log, &c, &o, &next), VFY_E_LOG_STATE);
    cr_assert_eq(vfy_agent_history_check(NULL, NULL, &c, &o, &next), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_agent_history_check(NULL, log, NULL, &o, &next), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_agent_history_check(NULL, log, &c, NULL, &next), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_agent_history_check(NULL, log, &c, &o, NULL), VFY_E_INVALID_ARG);
    vfy_agent_log_free(&log);
    cr_assert_str_eq(vfy_log_outcome_name(VFY_LOG_LATE_PREFIX), "late-prefix");
    cr_assert_null(vfy_log_outcome_name((vfy_log_outcome)0));
}
