/*
 * test_cmw.c — the evidence CMW collection (cmw.c, DESIGN §5): round trips
 * through the encoder in both formats, one table of structural cases run in
 * JSON and in CBOR with the exact error each must produce, format-specific
 * rejections, and each limit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/verify.h"
#include "verify/cmw.h"
#include "verify/manifest.h"

#define TAG VFY_CMW_TAG
#define MT_ATT "application/vnd.verifierd.tpms-attest"
#define MT_SIG "application/vnd.verifierd.tpmt-signature"
#define MT_PCR "application/vnd.verifierd.pcr-values+json"
#define MT_MAN "application/vnd.verifierd.agent-manifest+json"
#define MT_LOG "application/vnd.verifierd.agent-log+json"

/* ---- tiny builders for test input (both formats from one description) ---- */

/* A member: key -> text @val (mt == NULL), or key -> [mt, bytes(val)]. */
struct mem {
    const char *key, *mt, *val;
};

#define M_TYPE {"__cmwc_t", NULL, TAG}
#define M_ATT {"tpm-attest", MT_ATT, "attest"}
#define M_SIG {"tpm-signature", MT_SIG, "sig"}
#define M_PCR {"tpm-pcrs", MT_PCR, "{}"}
#define M_MAN {"agent-manifest", MT_MAN, "{\"m\":1}"}
#define M_LOG {"agent-log", MT_LOG, "[]"}

struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void cb_head(struct buf *b, unsigned major, uint64_t n)
{
    uint8_t h[9];
    size_t k = 0;

    if (n < 24) {
        h[k++] = (uint8_t)(major << 5 | n);
    } else if (n < 256) {
        h[k++] = (uint8_t)(major << 5 | 24);
        h[k++] = (uint8_t)n;
    } else if (n < 65536) {
        h[k++] = (uint8_t)(major << 5 | 25);
        h[k++] = (uint8_t)(n >> 8);
        h[k++] = (uint8_t)n;
    } else {
        h[k++] = (uint8_t)(major << 5 | 26);
        for (int i = 3; i >= 0; i--)
            h[k++] = (uint8_t)(n >> (8 * i));
    }
    put(b, h, k);
}

static void cb_text(struct buf *b, const char *s)
{
    cb_head(b, 3, strlen(s));
    puts_(b, s);
}

static void cb_bytes(struct buf *b, const void *d, size_t n)
{
    cb_head(b, 2, n);
    put(b, d, n);
}

static void build_cbor(struct buf *b, const struct mem *m, size_t n)
{
    cb_head(b, 5, n);
    for (size_t i = 0; i < n; i++) {
        cb_text(b, m[i].key);
        if (m[i].mt == NULL) {
            cb_text(b, m[i].val);
        } else {
            cb_head(b, 4, 2);
            cb_text(b, m[i].mt);
            cb_bytes(b, m[i].val, strlen(m[i].val));
        }
    }
}

static void build_json(struct buf *b, const struct mem *m, size_t n)
{
    puts_(b, "{");
    for (size_t i = 0; i < n; i++) {
        char enc[256];

        puts_(b, i ? ",\"" : "\"");
        puts_(b, m[i].key);
        puts_(b, "\":");
        if (m[i].mt == NULL) {
            puts_(b, "\"");
            puts_(b, m[i].val);
            puts_(b, "\"");
        } else {
            cr_assert_eq(vfy_b64url_encode(enc, sizeof(enc), (const uint8_t *)m[i].val,
                                           strlen(m[i].val)), VFY_OK);
            puts_(b, "[\"");
            puts_(b, m[i].mt);
            puts_(b, "\",\"");
            puts_(b, enc);
            puts_(b, "\"]");
        }
    }
    puts_(b, "}");
}

static vfy_rc parse_buf(vfy_cmw_format fmt, const struct buf *b, char *detail, size_t cap)
{
    vfy_cmw *c = (vfy_cmw *)(uintptr_t)1;
    vfy_rc rc = vfy_cmw_parse(&c, fmt, b->p, b->n, detail, cap);

    if (rc != VFY_OK)
        cr_assert_null(c);
    vfy_cmw_free(&c);
    return rc;
}

static void expect_both(const struct mem *m, size_t n, vfy_rc want, const char *name)
{
    for (int f = VFY_CMW_JSON; f <= VFY_CMW_CBOR; f++) {
        struct buf b = {0};
        char detail[200] = "";
        vfy_rc got;

        if (f == VFY_CMW_JSON)
            build_json(&b, m, n);
        else
            build_cbor(&b, m, n);
        got = parse_buf((vfy_cmw_format)f, &b, detail, sizeof(detail));
        cr_assert_eq(got, want, "%s (%s): got %s (%s), want %s", name,
                     f == VFY_CMW_JSON ? "json" : "cbor", vfy_rc_name(got), detail,
                     vfy_rc_name(want));
        if (want != VFY_OK)
            cr_assert_neq(detail[0], '\0');
        free(b.p);
    }
}

#define CASE(want, ...)                                                              \
    do {                                                                             \
        const struct mem m_[] = {__VA_ARGS__};                                       \
        expect_both(m_, sizeof(m_) / sizeof(m_[0]), want, #want ": " #__VA_ARGS__);  \
    } while (0)

/* ---- tests ---- */

static const char *const contents[VFY_CMW_RECORDS] = {
    "\xff\x54\x43\x47\x80\x18", "\x00\x18\x00\x0b", "{\"sha256\":{}}",
    "{\"agent_id\":\"a\"}", "[{\"digest\":\"x\"}]",
};
static const size_t content_len[VFY_CMW_RECORDS] = {6, 4, 13, 16, 17};

static vfy_cmw_parts sample_parts(void)
{
    vfy_cmw_parts p;

    for (int i = 0; i < VFY_CMW_RECORDS; i++) {
        p.data[i] = (const uint8_t *)contents[i];
        p.len[i] = content_len[i];
    }
    return p;
}

Test(cmw, roundtrip_both_formats)
{
    vfy_cmw_parts parts = sample_parts();

    for (int f = VFY_CMW_JSON; f <= VFY_CMW_CBOR; f++) {
        uint8_t *enc = NULL;
        size_t n = 0;
        vfy_cmw *c = NULL;

        cr_assert_eq(vfy_cmw_encode((vfy_cmw_format)f, &parts, &enc, &n), VFY_OK);
        cr_assert_gt(n, 0);
        cr_assert_eq(vfy_cmw_parse(&c, (vfy_cmw_format)f, enc, n, NULL, 0), VFY_OK);
        cr_assert_eq(vfy_cmw_get_format(c), f);
        for (int i = 0; i < VFY_CMW_RECORDS; i++) {
            size_t len = 99;
            const uint8_t *d = vfy_cmw_get(c, (vfy_cmw_record)i, &len);

            cr_assert_not_null(d);
            cr_assert_eq(len, content_len[i]);
            cr_assert_eq(memcmp(d, contents[i], len), 0);
        }
        size_t len = 99;
        cr_assert_null(vfy_cmw_get(c, (vfy_cmw_record)VFY_CMW_RECORDS, &len));
        cr_assert_eq(len, 0);
        vfy_cmw_free(&c);
        cr_assert_null(c);
        vfy_cmw_free(&c);
        vfy_free(enc);
    }
}

Test(cmw, json_encoding_is_the_design_form)
{
    vfy_cmw_parts parts = sample_parts();
    uint8_t *enc = NULL;
    size_t n = 0;

    cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &parts, &enc, &n), VFY_OK);
    cr_assert_eq(strlen((char *)enc), n);
    cr_assert_not_null(strstr((char *)enc, "\"__cmwc_t\":\"" TAG "\""));
    cr_assert_not_null(strstr((char *)enc, "\"tpm-attest\":[\"" MT_ATT "\",\"_1RDR4AY\"]"),
                       "%s", (char *)enc);
    vfy_free(enc);
}

Test(cmw, labels_and_media_types)
{
    vfy_cmw_format f = 0;

    cr_assert_str_eq(vfy_cmw_label(VFY_CMW_AGENT_LOG), "agent-log");
    cr_assert_str_eq(vfy_cmw_media_type(VFY_CMW_TPM_PCRS), MT_PCR);
    cr_assert_null(vfy_cmw_label((vfy_cmw_record)5));
    cr_assert_null(vfy_cmw_media_type((vfy_cmw_record)-1));
    cr_assert_eq(vfy_cmw_format_from_media_type(&f, "application/cmw+json"), VFY_OK);
    cr_assert_eq(f, VFY_CMW_JSON);
    cr_assert_eq(vfy_cmw_format_from_media_type(&f, "application/cmw+cbor"), VFY_OK);
    cr_assert_eq(f, VFY_CMW_CBOR);
    cr_assert_eq(vfy_cmw_format_from_media_type(&f, "application/json"), VFY_E_UNSUPPORTED);
    cr_assert_eq(vfy_cmw_format_from_media_type(&f, "application/CMW+json"), VFY_E_UNSUPPORTED);
}

Test(cmw, structure_table)
{
    /* the valid collection, members in any order */
    CASE(VFY_OK, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_OK, M_LOG, M_MAN, M_PCR, M_SIG, M_ATT, M_TYPE);
    /* __cmwc_t */
    CASE(VFY_E_CMW_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_TYPE, {"__cmwc_t", NULL, "tag:github.com,2026:verifierd/agent-evidence/v2"},
         M_ATT, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_TYPE, {"__cmwc_t", NULL, ""}, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_TYPE, {"__cmwc_t", MT_ATT, TAG}, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG);
    /* every record is required, agent-log included */
    CASE(VFY_E_CMW_MISSING, M_TYPE, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_MISSING, M_TYPE, M_ATT, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_MISSING, M_TYPE, M_ATT, M_SIG, M_MAN, M_LOG);
    CASE(VFY_E_CMW_MISSING, M_TYPE, M_ATT, M_SIG, M_PCR, M_LOG);
    CASE(VFY_E_CMW_MISSING, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN);
    CASE(VFY_E_CMW_MISSING, M_TYPE);
    /* media types are exact */
    CASE(VFY_E_CMW_MEDIA_TYPE, M_TYPE, {"tpm-attest", MT_SIG, "x"}, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_MEDIA_TYPE, M_TYPE, M_ATT, M_SIG, {"tpm-pcrs", "application/json", "{}"},
         M_MAN, M_LOG);
    CASE(VFY_E_CMW_MEDIA_TYPE, M_TYPE, M_ATT, M_SIG, M_PCR,
         {"agent-manifest", MT_MAN "; charset=utf-8", "{}"}, M_LOG);
    CASE(VFY_E_CMW_MEDIA_TYPE, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN,
         {"agent-log", "APPLICATION/vnd.verifierd.agent-log+json", "[]"});
    /* labels */
    CASE(VFY_E_CMW_UNKNOWN_LABEL, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG,
         {"tpm-event-log", MT_ATT, "x"});
    CASE(VFY_E_CMW_UNKNOWN_LABEL, M_TYPE, {"TPM-attest", MT_ATT, "x"}, M_SIG, M_PCR, M_MAN, M_LOG);
    CASE(VFY_E_CMW_DUPLICATE, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG, M_ATT);
    CASE(VFY_E_CMW_DUPLICATE, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG, M_TYPE);
    CASE(VFY_E_CMW_DUPLICATE, M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG,
         {"agent-log", MT_LOG, "[{}]"});
    /* a record must be an array, not a bare string */
    CASE(VFY_E_CMW_MALFORMED, M_TYPE, {"tpm-attest", NULL, "x"}, M_SIG, M_PCR, M_MAN, M_LOG);
}

Test(cmw, json_specific)
{
    static const struct { const char *body; vfy_rc rc; } v[] = {
        {"", VFY_E_CMW_MALFORMED},
        {"[]", VFY_E_CMW_MALFORMED},
        {"\"x\"", VFY_E_CMW_MALFORMED},
        {"{\"__cmwc_t\":7}", VFY_E_CMW_TYPE},
        {"{\"__cmwc_t\":7.5}", VFY_E_CMW_MALFORMED}, /* only integers pass the pre-scan */
        {"{\"__cmwc_t\":null}", VFY_E_CMW_TYPE},
        {"{\"tpm-attest\":[\"" MT_ATT "\"]}", VFY_E_CMW_MALFORMED},
        {"{\"tpm-attest\":[\"" MT_ATT "\",\"AA\",\"x\"]}", VFY_E_CMW_MALFORMED},
        {"{\"tpm-attest\":[\"" MT_ATT "\",[]]}", VFY_E_CMW_MALFORMED},
        {"{\"tpm-attest\":[true,\"AA\"]}", VFY_E_CMW_MALFORMED},
        {"{\"tpm-attest\":{\"" MT_ATT "\":\"AA\"}}", VFY_E_CMW_MALFORMED},
        {"{\"tpm-attest\":[\"" MT_ATT "\",\"AA==\"]}", VFY_E_CMW_ENCODING},
        {"{\"tpm-attest\":[\"" MT_ATT "\",\"A+/A\"]}", VFY_E_CMW_ENCODING},
        {"{\"tpm-attest\":[\"" MT_ATT "\",\"A\"]}", VFY_E_CMW_ENCODING},
        {"{\"tpm-attest\":[\"" MT_ATT "\",\"AB\"]}", VFY_E_CMW_ENCODING},
        {"{\"__cmwc_t\":\"" TAG "\"} {}", VFY_E_CMW_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        vfy_cmw *c = NULL;
        vfy_rc rc = vfy_cmw_parse(&c, VFY_CMW_JSON, v[i].body, strlen(v[i].body), NULL, 0);

        cr_assert_eq(rc, v[i].rc, "%s: got %s", v[i].body, vfy_rc_name(rc));
        cr_assert_null(c);
    }
}

static vfy_rc parse_cbor_bytes(const uint8_t *p, size_t n)
{
    vfy_cmw *c = NULL;
    vfy_rc rc = vfy_cmw_parse(&c, VFY_CMW_CBOR, p, n, NULL, 0);

    if (rc != VFY_OK)
        cr_assert_null(c);
    vfy_cmw_free(&c);
    return rc;
}

/* The valid collection in CBOR, optionally wrapped or altered by @how. */
static void valid_cbor(struct buf *b)
{
    const struct mem m[] = {M_TYPE, M_ATT, M_SIG, M_PCR, M_MAN, M_LOG};

    build_cbor(b, m, 6);
}

Test(cmw, cbor_specific)
{
    struct buf b = {0};

    valid_cbor(&b);
    cr_assert_eq(parse_cbor_bytes(b.p, b.n), VFY_OK);
    /* trailing byte, truncation, empty input */
    put(&b, "\x00", 1);
    cr_assert_eq(parse_cbor_bytes(b.p, b.n), VFY_E_CMW_MALFORMED);
    cr_assert_eq(parse_cbor_bytes(b.p, b.n - 2), VFY_E_CMW_MALFORMED);
    cr_assert_eq(parse_cbor_bytes(b.p, 0), VFY_E_CMW_MALFORMED);
    free(b.p);

    /* wrapped in a tag (CBOR tag 55799, self-describe) */
    b = (struct buf){0};
    put(&b, "\xd9\xd9\xf7", 3);
    valid_cbor(&b);
    cr_assert_eq(parse_cbor_bytes(b.p, b.n), VFY_E_CMW_MALFORMED);
    free(b.p);

    /* an indefinite-length map */
    {
        static const uint8_t v[] = {0xbf, 0xff};
        cr_assert_eq(parse_cbor_bytes(v, sizeof(v)), VFY_E_CMW_MALFORMED);
    }
    /* an array, not a map */
    {
        static const uint8_t v[] = {0x80};
        cr_assert_eq(parse_cbor_bytes(v, sizeof(v)), VFY_E_CMW_MALFORMED);
    }
    /* an integer key */
    {
        static const uint8_t v[] = {0xa1, 0x01, 0x61, 'x'};
        cr_assert_eq(parse_cbor_bytes(v, sizeof(v)), VFY_E_CMW_MALFORMED);
    }
    /* a map declaring 2^32-1 pairs in 9 bytes: refused before any allocation */
    {
        static const uint8_t v[] = {0xba, 0xff, 0xff, 0xff, 0xff, 0x61, 'x', 0x61, 'y'};
        cr_assert_eq(parse_cbor_bytes(v, sizeof(v)), VFY_E_CMW_MALFORMED);
    }
    /* a byte string declaring more bytes than there are */
    {
        static const uint8_t v[] = {0xa1, 0x61, 'x', 0x5a, 0x00, 0x10, 0x00, 0x00, 0x01};
        cr_assert_eq(parse_cbor_bytes(v, sizeof(v)), VFY_E_CMW_MALFORMED);
    }
    /* record content as text instead of bytes, and media type as bytes */
    {
        b = (struct buf){0};
        cb_head(&b, 5, 1);
        cb_text(&b, "tpm-attest");
        cb_head(&b, 4, 2);
        cb_text(&b, MT_ATT);
        cb_text(&b, "x");
        cr_assert_eq(parse_cbor_bytes(b.p, b.n), VFY_E_CMW_MALFORMED);
        free(b.p);
        b = (struct buf){0};
        cb_head(&b, 5, 1);
        cb_text(&b, "tpm-attest");
        cb_head(&b, 4, 2);
        cb_bytes(&b, MT_ATT, strlen(MT_ATT));
        cb_bytes(&b, "x", 1);
        cr_assert_eq(parse_cbor_bytes(b.p, b.n), VFY_E_CMW_MALFORMED);
        free(b.p);
    }
    /* a key with an embedded NUL is not the label before it */
    {
        b = (struct buf){0};
        cb_head(&b, 5, 1);
        cb_head(&b, 3, 11);
        put(&b, "tpm-attest\0", 11);
        cb_head(&b, 4, 2);
        cb_text(&b, MT_ATT);
        cb_bytes(&b, "x", 1);
        cr_assert_eq(parse_cbor_bytes(b.p, b.n), VFY_E_CMW_UNKNOWN_LABEL);
        free(b.p);
    }
}

/* {"__cmwc_t":TAG,"x":[[[...]]]} of total depth @d, in @fmt. */
static void deep(struct buf *b, vfy_cmw_format fmt, int d)
{
    if (fmt == VFY_CMW_JSON) {
        puts_(b, "{\"__cmwc_t\":\"" TAG "\",\"x\":");
        for (int i = 1; i < d; i++)
            puts_(b, "[");
        for (int i = 1; i < d; i++)
            puts_(b, "]");
        puts_(b, "}");
    } else {
        cb_head(b, 5, 2);
        cb_text(b, "__cmwc_t");
        cb_text(b, TAG);
        cb_text(b, "x");
        for (int i = 1; i < d - 1; i++)
            cb_head(b, 4, 1);
        cb_head(b, 4, 0);
    }
}

Test(cmw, limit_nesting)
{
    for (int f = VFY_CMW_JSON; f <= VFY_CMW_CBOR; f++) {
        struct buf b = {0};

        deep(&b, (vfy_cmw_format)f, 17);
        cr_assert_eq(parse_buf((vfy_cmw_format)f, &b, NULL, 0), VFY_E_CMW_NESTING, "fmt %d", f);
        free(b.p);
        b = (struct buf){0};
        deep(&b, (vfy_cmw_format)f, 16); /* at the limit: gets to the label check */
        cr_assert_eq(parse_buf((vfy_cmw_format)f, &b, NULL, 0), VFY_E_CMW_UNKNOWN_LABEL,
                     "fmt %d", f);
        free(b.p);
    }
    /* a megabyte of nesting is refused without recursion */
    {
        size_t n = 1000 * 1000;
        uint8_t *p = malloc(n);

        memset(p, 0x81, n); /* [[[[... */
        cr_assert_eq(parse_cbor_bytes(p, n), VFY_E_CMW_NESTING);
        memset(p, '[', n);
        vfy_cmw *c = NULL;
        cr_assert_eq(vfy_cmw_parse(&c, VFY_CMW_JSON, p, n, NULL, 0), VFY_E_CMW_NESTING);
        free(p);
    }
}

/*
 * Far more items than a collection holds is refused before a tree is built:
 * a 1 MiB document of empty arrays used to cost ~80 MB of libcbor items (or
 * cJSON nodes) before the shape check refused it.
 */
Test(cmw, limit_items)
{
    char detail[128];
    vfy_cmw *c = NULL;
    size_t n = 700000, k = 0;
    uint8_t *p = malloc(n + 64);

    /* {"__cmwc_t": [[], [], ... 700000 - 20 of them]} */
    p[k++] = 0xa1;
    p[k++] = 0x68; /* text, 8 bytes */
    memcpy(p + k, "__cmwc_t", 8);
    k += 8;
    p[k++] = 0x9a; /* array, 32-bit count */
    {
        uint32_t m = (uint32_t)(n - 20);

        p[k++] = (uint8_t)(m >> 24);
        p[k++] = (uint8_t)(m >> 16);
        p[k++] = (uint8_t)(m >> 8);
        p[k++] = (uint8_t)m;
        memset(p + k, 0x80, m);
        k += m;
    }
    cr_assert_eq(vfy_cmw_parse(&c, VFY_CMW_CBOR, p, k, detail, sizeof(detail)), VFY_E_CMW_MALFORMED);
    cr_expect_str_eq(detail, "more than 64 CBOR items: not a CMW collection");
    cr_assert_null(c);
    k = 0;
    k += (size_t)snprintf((char *)p, n, "{\"__cmwc_t\":[");
    while (k + 4 < n)
        k += (size_t)snprintf((char *)p + k, n - k, "[],");
    k += (size_t)snprintf((char *)p + k, n + 64 - k, "[]]}");
    cr_assert_eq(vfy_cmw_parse(&c, VFY_CMW_JSON, p, k, detail, sizeof(detail)), VFY_E_CMW_MALFORMED);
    cr_expect_str_eq(detail, "more than 64 JSON values: not a CMW collection");
    free(p);
}

Test(cmw, limit_size)
{
    vfy_cmw_parts parts = sample_parts();

    for (int f = VFY_CMW_JSON; f <= VFY_CMW_CBOR; f++) {
        uint8_t *enc = NULL, *big;
        size_t n = 0;
        vfy_cmw *c = NULL;

        cr_assert_eq(vfy_cmw_encode((vfy_cmw_format)f, &parts, &enc, &n), VFY_OK);
        /* the valid document followed by padding, 1 MiB + 1 in all (whitespace in
         * JSON is harmless, so at exactly 1 MiB it must parse) */
        big = malloc(VFY_CMW_MAX + 1);
        memset(big, ' ', VFY_CMW_MAX + 1);
        memcpy(big, enc, n);
        cr_assert_eq(vfy_cmw_parse(&c, (vfy_cmw_format)f, big, VFY_CMW_MAX + 1, NULL, 0),
                     VFY_E_CMW_TOO_LARGE);
        cr_assert_null(c);
        if (f == VFY_CMW_JSON) {
            cr_assert_eq(vfy_cmw_parse(&c, VFY_CMW_JSON, big, VFY_CMW_MAX, NULL, 0), VFY_OK);
            vfy_cmw_free(&c);
        }
        free(big);
        vfy_free(enc);
    }
}

Test(cmw, limit_manifest)
{
    vfy_cmw_parts parts = sample_parts();
    uint8_t *man = malloc(VFY_MANIFEST_MAX + 1);

    memset(man, 'm', VFY_MANIFEST_MAX + 1);
    for (int f = VFY_CMW_JSON; f <= VFY_CMW_CBOR; f++) {
        uint8_t *enc = NULL;
        size_t n = 0;
        vfy_cmw *c = NULL;

        /* at the limit: encodes and parses */
        parts.data[VFY_CMW_AGENT_MANIFEST] = man;
        parts.len[VFY_CMW_AGENT_MANIFEST] = VFY_MANIFEST_MAX;
        cr_assert_eq(vfy_cmw_encode((vfy_cmw_format)f, &parts, &enc, &n), VFY_OK);
        cr_assert_eq(vfy_cmw_parse(&c, (vfy_cmw_format)f, enc, n, NULL, 0), VFY_OK);
        vfy_cmw_free(&c);
        vfy_free(enc);
        /* one byte over: the encoder refuses... */
        parts.len[VFY_CMW_AGENT_MANIFEST] = VFY_MANIFEST_MAX + 1;
        cr_assert_eq(vfy_cmw_encode((vfy_cmw_format)f, &parts, &enc, &n),
                     VFY_E_MANIFEST_TOO_LARGE);
        cr_assert_null(enc);
    }
    /* ...and so does the parser, given a hand-built collection */
    {
        struct buf b = {0};
        char *mstr = malloc(VFY_MANIFEST_MAX + 2);
        memset(mstr, 'm', VFY_MANIFEST_MAX + 1);
        mstr[VFY_MANIFEST_MAX + 1] = '\0';
        const struct mem m[] = {M_TYPE, M_ATT, M_SIG, M_PCR, {"agent-manifest", MT_MAN, mstr},
                                M_LOG};

        build_cbor(&b, m, 6);
        cr_assert_eq(parse_buf(VFY_CMW_CBOR, &b, NULL, 0), VFY_E_MANIFEST_TOO_LARGE);
        free(b.p);
        /* JSON: build with a big base64url string */
        size_t blen = VFY_B64URL_LEN(VFY_MANIFEST_MAX + 1) + 1;
        char *b64 = malloc(blen);
        cr_assert_eq(vfy_b64url_encode(b64, blen, (const uint8_t *)mstr, VFY_MANIFEST_MAX + 1),
                     VFY_OK);
        b = (struct buf){0};
        puts_(&b, "{\"agent-manifest\":[\"" MT_MAN "\",\"");
        puts_(&b, b64);
        puts_(&b, "\"]}");
        cr_assert_eq(parse_buf(VFY_CMW_JSON, &b, NULL, 0), VFY_E_MANIFEST_TOO_LARGE);
        free(b.p);
        free(b64);
        free(mstr);
    }
    free(man);
}

Test(cmw, encoder_limits_and_args)
{
    vfy_cmw_parts parts = sample_parts();
    uint8_t *enc = (uint8_t *)1, *big = malloc(VFY_CMW_MAX);
    size_t n = 5;

    memset(big, 0, VFY_CMW_MAX);
    /* a 1 MiB signature: the parts fit, the collection does not */
    parts.data[VFY_CMW_TPM_SIGNATURE] = big;
    parts.len[VFY_CMW_TPM_SIGNATURE] = VFY_CMW_MAX;
    cr_assert_eq(vfy_cmw_encode(VFY_CMW_CBOR, &parts, &enc, &n), VFY_E_CMW_TOO_LARGE);
    cr_assert_null(enc);
    cr_assert_eq(n, 0);
    cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &parts, &enc, &n), VFY_E_CMW_TOO_LARGE);
    free(big);
    parts = sample_parts();
    parts.data[0] = NULL;
    cr_assert_eq(vfy_cmw_encode(VFY_CMW_JSON, &parts, &enc, &n), VFY_E_INVALID_ARG);
    /* empty contents are encodable and come back empty */
    parts.len[0] = 0;
    cr_assert_eq(vfy_cmw_encode(VFY_CMW_CBOR, &parts, &enc, &n), VFY_OK);
    vfy_cmw *c = NULL;
    size_t len = 9;
    cr_assert_eq(vfy_cmw_parse(&c, VFY_CMW_CBOR, enc, n, NULL, 0), VFY_OK);
    cr_assert_not_null(vfy_cmw_get(c, VFY_CMW_TPM_ATTEST, &len));
    cr_assert_eq(len, 0);
    vfy_cmw_free(&c);
    vfy_free(enc);
    cr_assert_eq(vfy_cmw_encode((vfy_cmw_format)3, &parts, &enc, &n), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_cmw_parse(&c, (vfy_cmw_format)3, "{}", 2, NULL, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_cmw_parse(NULL, VFY_CMW_JSON, "{}", 2, NULL, 0), VFY_E_INVALID_ARG);
    cr_assert_eq(vfy_cmw_parse(&c, VFY_CMW_JSON, NULL, 2, NULL, 0), VFY_E_INVALID_ARG);
}
