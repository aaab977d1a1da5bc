/*
 * json_util.h — private helpers over cJSON shared by the evidence, manifest,
 * agent-log and policy parsers (not exported).
 *
 * cJSON is lenient where these documents must be strict: it keeps duplicate
 * keys, nests up to 1000 levels, accepts "1.0", "01" and raw control
 * characters in strings, and stops at the first NUL of a string. So every
 * document is pre-scanned here before cJSON sees it (nesting bounded while
 * scanning, numbers restricted to canonical integers, strings to valid UTF-8
 * without control characters or \u0000), and objects are walked against the
 * list of the keys they may hold, which detects unknown and repeated keys in
 * one linear pass.
 */
#ifndef VERIFY_JSON_UTIL_H
#define VERIFY_JSON_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "verify/error.h"

/* The nesting limit of DESIGN §5: a top-level object or array is depth 1. */
#define VFY_JSON_MAX_DEPTH 16
/* Largest integer every JSON implementation represents exactly (2^53 - 1). */
#define VFY_JSON_INT_MAX 9007199254740991LL

typedef enum vfy_json_status {
    VFY_JSON_OK = 0,
    VFY_JSON_MALFORMED,   /* syntax, or a value of the wrong type or range */
    VFY_JSON_NESTING,     /* deeper than the limit */
    VFY_JSON_DUPLICATE,   /* a key repeated in one object */
    VFY_JSON_UNKNOWN,     /* a key outside the allowed list */
    VFY_JSON_NOMEM,
    VFY_JSON_TOO_MANY,    /* more values, keys and containers than the limit */
} vfy_json_status;

/*
 * Pre-scan then parse @len bytes at @buf (need not be NUL-terminated) into
 * *@out (free with cJSON_Delete). Nesting deeper than @max_depth gives
 * VFY_JSON_NESTING before cJSON builds anything. Numbers must be canonical
 * integers (-?(0|[1-9][0-9]*)): none of these documents carries fractions.
 * Only whitespace may follow the value. *@out is NULL on failure.
 */
vfy_json_status vfy_json_parse(cJSON **out, const char *buf, size_t len,
                               unsigned max_depth);
/* The same with at most @max_tokens values, keys and containers, counted
 * before cJSON builds anything (VFY_JSON_TOO_MANY). */
vfy_json_status vfy_json_parse_max(cJSON **out, const char *buf, size_t len,
                                   unsigned max_depth, size_t max_tokens);

/*
 * Walk the members of object @obj: each key must be one of the @n @names and
 * appear at most once; found[i] is set to the member named names[i] (NULL if
 * absent). On VFY_JSON_UNKNOWN or VFY_JSON_DUPLICATE *@bad_key names the key.
 * VFY_JSON_MALFORMED if @obj is not an object.
 */
vfy_json_status vfy_json_fields(const cJSON *obj, const char *const *names, size_t n,
                                const cJSON **found, const char **bad_key);

/* @item as an integer in [@min, @max] (|bounds| <= VFY_JSON_INT_MAX).
 * VFY_JSON_MALFORMED if it is not a number, VFY_JSON_UNKNOWN never;
 * out-of-range values give *@in_range = 0 and VFY_JSON_OK. */
vfy_json_status vfy_json_int(const cJSON *item, long long min, long long max,
                             long long *v, int *in_range);

/* @item as a string: *@s points into the tree, *@len is its byte length. */
vfy_json_status vfy_json_str(const cJSON *item, const char **s, size_t *len);

/* 1 if @s[0..len) is UTF-8 of characters a name may hold (vfy_name_char). */
int vfy_json_printable(const char *s, size_t len);

/* Copy a detail string for a human (truncated to fit; NULL buffer is fine). */
/* The exact codes one document kind reports for the three intake failures. */
typedef struct vfy_json_codes {
    const char *what;       /* "manifest", "agent log", "policy" */
    vfy_rc too_large, nesting, malformed;
    vfy_rc too_many;        /* more than max_tokens values, keys and containers */
    size_t max_tokens;      /* 0: no limit but the byte size */
} vfy_json_codes;

/*
 * Intake of one JSON document: at most @max bytes, nesting at most
 * VFY_JSON_MAX_DEPTH, the rules of vfy_json_parse(); failures map to the
 * codes in @c with a one-line @detail. On VFY_OK *@root is the tree.
 */
vfy_rc vfy_json_intake(cJSON **root, const void *data, size_t len, size_t max,
                       const vfy_json_codes *c, char *detail, size_t cap);

void vfy_detail_set(char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
