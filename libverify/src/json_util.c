/*
 * json_util.c — strict JSON intake over cJSON for the evidence, manifest,
 * agent-log and policy parsers (DESIGN §5 limits), see json_util.h; and
 * vfy_json_check() (verify/encoding.h), the same rules for other programs.
 *
 * Caveat: the pre-scan is a validator, not a parser: it checks nesting,
 * number syntax, string escapes and UTF-8, and leaves the grammar (commas,
 * colons, key positions) to cJSON, which runs only on input that passed it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_util.h"
#include "verify/encoding.h"

/* Why a document failed the pre-scan or the parse: the reasons
 * vfy_json_check() gives (static strings). */
#define WHY_NOT_JSON "not well-formed JSON"
#define WHY_CONTROL "a control character in a string"
#define WHY_NUL "\\u0000 in a string"
#define WHY_ESCAPE "a bad escape in a string"
#define WHY_SURROGATE "an unpaired surrogate escape in a string"
#define WHY_UTF8 "invalid UTF-8 in a string"
#define WHY_UNTERMINATED "an unterminated string"
#define WHY_NUMBER "a number that is not a plain integer (no fraction, exponent or leading zero)"
#define WHY_NESTING "nesting deeper than 16 levels"
#define WHY_TOO_MANY "too many values"
#define WHY_TRAILING "bytes after the JSON value"
#define WHY_EMPTY "no JSON value"

static vfy_json_status why_set(const char **why, const char *w, vfy_json_status st)
{
    *why = w;
    return st;
}

/* The code point of the four hex digits at @p (checked by the caller). */
static unsigned hex4(const unsigned char *p)
{
    unsigned v = 0;

    for (int j = 0; j < 4; j++)
        v = v * 16 + (unsigned)(p[j] <= '9' ? p[j] - '0' : (p[j] | 0x20) - 'a' + 10);
    return v;
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 for the bytes a string body holds as they are: printable ASCII other
 * than '"' and '\\'. Most of a document (base64url and hex) is these. */
#define PLAIN16(b) [b] = 1, [b + 1] = 1, [b + 2] = 1, [b + 3] = 1, [b + 4] = 1, [b + 5] = 1, \
    [b + 6] = 1, [b + 7] = 1, [b + 8] = 1, [b + 9] = 1, [b + 10] = 1, [b + 11] = 1,       \
    [b + 12] = 1, [b + 13] = 1, [b + 14] = 1, [b + 15] = 1
static const unsigned char plain_char[256] = {
    [0x20] = 1, [0x21] = 1, /* 0x22 '"' */ [0x23] = 1, [0x24] = 1, [0x25] = 1, [0x26] = 1,
    [0x27] = 1, [0x28] = 1, [0x29] = 1, [0x2a] = 1, [0x2b] = 1, [0x2c] = 1, [0x2d] = 1,
    [0x2e] = 1, [0x2f] = 1, PLAIN16(0x30), PLAIN16(0x40),
    [0x50] = 1, [0x51] = 1, [0x52] = 1, [0x53] = 1, [0x54] = 1, [0x55] = 1, [0x56] = 1,
    [0x57] = 1, [0x58] = 1, [0x59] = 1, [0x5a] = 1, [0x5b] = 1, /* 0x5c '\\' */ [0x5d] = 1,
    [0x5e] = 1, [0x5f] = 1, PLAIN16(0x60), PLAIN16(0x70),
};
#undef PLAIN16

/* Scan a string body starting after its opening quote at *@i; on success *@i
 * is just past the closing quote. */
static vfy_json_status scan_string(const unsigned char *p, size_t len, size_t *i,
                                   const char **why)
{
    size_t k = *i;

    while (k < len) {
        unsigned char c;

        while (k < len && plain_char[p[k]])
            k++;
        if (k >= len)
            break;
        c = p[k];

        if (c == '"') {
            *i = k + 1;
            return VFY_JSON_OK;
        }
        if (c < 0x20) /* raw control characters, NUL included */
            return why_set(why, WHY_CONTROL, VFY_JSON_MALFORMED);
        if (c == '\\') {
            if (len - k < 2)
                return why_set(why, WHY_UNTERMINATED, VFY_JSON_MALFORMED);
            c = p[k + 1];
            if (c == 'u') {
                unsigned cp;

                if (len - k < 6)
                    return why_set(why, WHY_ESCAPE, VFY_JSON_MALFORMED);
                for (size_t j = 2; j < 6; j++)
                    if (!is_hex(p[k + j]))
                        return why_set(why, WHY_ESCAPE, VFY_JSON_MALFORMED);
                cp = hex4(p + k + 2);
                if (cp == 0) /* would truncate the C string */
                    return why_set(why, WHY_NUL, VFY_JSON_MALFORMED);
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return why_set(why, WHY_SURROGATE, VFY_JSON_MALFORMED);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    /* a high surrogate only with its low one */
                    if (len - k < 12 || p[k + 6] != '\\' || p[k + 7] != 'u' ||
                        !is_hex(p[k + 8]) || !is_hex(p[k + 9]) || !is_hex(p[k + 10]) ||
                        !is_hex(p[k + 11]) || hex4(p + k + 8) < 0xdc00 ||
                        hex4(p + k + 8) > 0xdfff)
                        return why_set(why, WHY_SURROGATE, VFY_JSON_MALFORMED);
                    k += 6;
                }
                k += 6;
            } else if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
                k += 2;
            } else {
                return why_set(why, WHY_ESCAPE, VFY_JSON_MALFORMED);
            }
            continue;
        }
        if (c < 0x80) {
            k++;
            continue;
        }
        /* UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return why_set(why, WHY_UTF8, VFY_JSON_MALFORMED);
        }
        if (len - k - 1 < n)
            return why_set(why, WHY_UTF8, VFY_JSON_MALFORMED);
        if (p[k + 1] < lo || p[k + 1] > hi)
            return why_set(why, WHY_UTF8, VFY_JSON_MALFORMED);
        for (size_t j = 2; j <= n; j++)
            if (p[k + j] < 0x80 || p[k + j] > 0xbf)
                return why_set(why, WHY_UTF8, VFY_JSON_MALFORMED);
        k += n + 1;
    }
    return why_set(why, WHY_UNTERMINATED, VFY_JSON_MALFORMED);
}

/* Canonical integer token at *@i: -?(0|[1-9][0-9]*), not followed by more
 * number characters. */
static vfy_json_status scan_number(const unsigned char *p, size_t len, size_t *i,
                                   const char **why)
{
    size_t k = *i;

    if (p[k] == '-')
        k++;
    if (k >= len)
        return why_set(why, WHY_NOT_JSON, VFY_JSON_MALFORMED);
    if (p[k] == '0') {
        k++;
    } else if (p[k] >= '1' && p[k] <= '9') {
        while (k < len && p[k] >= '0' && p[k] <= '9')
            k++;
    } else {
        return why_set(why, WHY_NOT_JSON, VFY_JSON_MALFORMED);
    }
    if (k < len && strchr("0123456789.eE+-", p[k]) != NULL && p[k] != '\0')
        return why_set(why, WHY_NUMBER, VFY_JSON_MALFORMED);
    *i = k;
    return VFY_JSON_OK;
}

/*
 * @max_tokens bounds the values, keys and containers: cJSON spends ~64
 * bytes on each, so 1 MiB of "[0,0,..." would otherwise become a 30 MB
 * tree before the caller could count its entries.
 */
static vfy_json_status prescan(const unsigned char *p, size_t len, unsigned max_depth,
                               size_t max_tokens, const char **why)
{
    static const char *const lits[] = {"true", "false", "null"};
    unsigned depth = 0;
    size_t i = 0, tokens = 0;
    vfy_json_status st;

    while (i < len) {
        unsigned char c = p[i];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ':' && c != ',' &&
            c != '}' && c != ']' && ++tokens > max_tokens)
            return why_set(why, WHY_TOO_MANY, VFY_JSON_TOO_MANY);
        switch (c) {
        case '{':
        case '[':
            if (++depth > max_depth)
                return why_set(why, WHY_NESTING, VFY_JSON_NESTING);
            i++;
            break;
        case '}':
        case ']':
            if (depth == 0)
                return why_set(why, WHY_NOT_JSON, VFY_JSON_MALFORMED);
            depth--;
            i++;
            break;
        case '"':
            i++;
            if ((st = scan_string(p, len, &i, why)) != VFY_JSON_OK)
                return st;
            break;
        case ' ': case '\t': case '\n': case '\r': case ':': case ',':
            i++;
            break;
        case 't':
        case 'f':
        case 'n': {
            const char *lit = lits[c == 't' ? 0 : c == 'f' ? 1 : 2];
            size_t n = strlen(lit);

            if (len - i < n || memcmp(p + i, lit, n) != 0)
                return why_set(why, WHY_NOT_JSON, VFY_JSON_MALFORMED);
            i += n;
            break;
        }
        default:
            if (c == '-' || (c >= '0' && c <= '9')) {
                if ((st = scan_number(p, len, &i, why)) != VFY_JSON_OK)
                    return st;
                break;
            }
            return why_set(why, WHY_NOT_JSON, VFY_JSON_MALFORMED);
        }
    }
    return depth == 0 ? VFY_JSON_OK : why_set(why, WHY_NOT_JSON, VFY_JSON_MALFORMED);
}

vfy_json_status vfy_json_parse(cJSON **out, const char *buf, size_t len,
                               unsigned max_depth)
{
    return vfy_json_parse_max(out, buf, len, max_depth, SIZE_MAX);
}

/* vfy_json_parse_max, saying why a document failed in *@why. */
static vfy_json_status parse_why(cJSON **out, const char *buf, size_t len, unsigned max_depth,
                                 size_t max_tokens, const char **why)
{
    const char *end = NULL;
    cJSON *root;
    vfy_json_status st;

    *why = WHY_NOT_JSON;
    if (out == NULL)
        return VFY_JSON_MALFORMED;
    *out = NULL;
    if (buf == NULL || len == 0)
        return why_set(why, WHY_EMPTY, VFY_JSON_MALFORMED);
    st = prescan((const unsigned char *)buf, len, max_depth, max_tokens, why);
    if (st != VFY_JSON_OK)
        return st;
    *why = WHY_NOT_JSON;
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root == NULL)
        return VFY_JSON_MALFORMED;
    if (end == NULL || end < buf || (size_t)(end - buf) > len)
        goto bad;
    for (size_t i = (size_t)(end - buf); i < len; i++)
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
            *why = WHY_TRAILING;
            goto bad;
        }
    *out = root;
    *why = NULL;
    return VFY_JSON_OK;
bad:
    cJSON_Delete(root);
    return VFY_JSON_MALFORMED;
}

vfy_json_status vfy_json_parse_max(cJSON **out, const char *buf, size_t len,
                                   unsigned max_depth, size_t max_tokens)
{
    const char *why;

    return parse_why(out, buf, len, max_depth, max_tokens, &why);
}

vfy_rc vfy_json_check(const void *json, size_t len, const char **why)
{
    const char *w = NULL;
    cJSON *root = NULL;
    vfy_json_status st;

    if (why != NULL)
        *why = NULL;
    if (json == NULL && len != 0)
        return VFY_E_INVALID_ARG;
    st = parse_why(&root, json, len, VFY_JSON_MAX_DEPTH, SIZE_MAX, &w);
    cJSON_Delete(root);
    if (st == VFY_JSON_OK)
        return VFY_OK;
    if (why != NULL)
        *why = w;
    return VFY_E_JSON;
}

vfy_json_status vfy_json_fields(const cJSON *obj, const char *const *names, size_t n,
                                const cJSON **found, const char **bad_key)
{
    for (size_t i = 0; i < n; i++)
        found[i] = NULL;
    if (bad_key != NULL)
        *bad_key = NULL;
    if (!cJSON_IsObject(obj))
        return VFY_JSON_MALFORMED;
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        size_t i;

        if (m->string == NULL)
            return VFY_JSON_MALFORMED;
        for (i = 0; i < n; i++)
            if (strcmp(m->string, names[i]) == 0)
                break;
        if (i == n || found[i] != NULL) {
            if (bad_key != NULL)
                *bad_key = m->string;
            return i == n ? VFY_JSON_UNKNOWN : VFY_JSON_DUPLICATE;
        }
        found[i] = m;
    }
    return VFY_JSON_OK;
}

vfy_json_status vfy_json_int(const cJSON *item, long long min, long long max,
                             long long *v, int *in_range)
{
    double d;

    *in_range = 0;
    *v = 0;
    if (!cJSON_IsNumber(item))
        return VFY_JSON_MALFORMED;
    d = item->valuedouble;
    /* The pre-scan admitted only integer tokens; beyond 2^53 the double may
     * have rounded, but such values are outside every range used here. */
    if (!(d >= (double)min && d <= (double)max))
        return VFY_JSON_OK;
    *v = (long long)d;
    *in_range = 1;
    return VFY_JSON_OK;
}

vfy_json_status vfy_json_str(const cJSON *item, const char **s, size_t *len)
{
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return VFY_JSON_MALFORMED;
    *s = item->valuestring;
    *len = strlen(item->valuestring);
    return VFY_JSON_OK;
}

int vfy_json_printable(const char *s, size_t len)
{
    for (size_t i = 0, k; i < len; i += k)
        if ((k = vfy_name_char(s + i, len - i)) == 0)
            return 0;
    return 1;
}

void vfy_detail_set(char *detail, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, cap, fmt, ap);
    va_end(ap);
}

vfy_rc vfy_json_intake(cJSON **root, const void *data, size_t len, size_t max,
                       const vfy_json_codes *c, char *detail, size_t cap)
{
    *root = NULL;
    if (len > max) {
        vfy_detail_set(detail, cap, "%s is %zu bytes, the limit is %zu", c->what, len, max);
        return c->too_large;
    }
    switch (vfy_json_parse_max(root, data, len, VFY_JSON_MAX_DEPTH,
                               c->max_tokens != 0 ? c->max_tokens : SIZE_MAX)) {
    case VFY_JSON_OK:
        return VFY_OK;
    case VFY_JSON_NESTING:
        vfy_detail_set(detail, cap, "nesting deeper than %d", VFY_JSON_MAX_DEPTH);
        return c->nesting;
    case VFY_JSON_TOO_MANY:
        vfy_detail_set(detail, cap, "more than %zu JSON values", c->max_tokens);
        return c->too_many;
    default:
        vfy_detail_set(detail, cap, "not well-formed JSON (integers only)");
        return c->malformed;
    }
}
