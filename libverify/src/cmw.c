/*
 * cmw.c — the evidence CMW collection (draft-ietf-rats-msg-wrap, DESIGN §5)
 * in JSON (cJSON) and CBOR (libcbor): parser and encoder. Rules, limits and
 * error codes are listed in cmw.h.
 *
 * Caveats: nesting is bounded by a pre-scan before any tree is built
 * (json_util.c for JSON; libcbor's streaming decoder for CBOR, which also
 * bounds every declared item count by the bytes left, so cbor_load never
 * allocates for items that are not there). Record contents are copied out
 * of the parse tree so the tree can be freed at once.
 */
#include <cbor.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json_util.h"
#include "verify/cmw.h"
#include "verify/manifest.h"

#define TYPE_KEY "__cmwc_t"

static const char *const labels[VFY_CMW_RECORDS] = {
    "tpm-attest", "tpm-signature", "tpm-pcrs", "agent-manifest", "agent-log",
};
static const char *const media_types[VFY_CMW_RECORDS] = {
    "application/vnd.verifierd.tpms-attest",
    "application/vnd.verifierd.tpmt-signature",
    "application/vnd.verifierd.pcr-values+json",
    "application/vnd.verifierd.agent-manifest+json",
    "application/vnd.verifierd.agent-log+json",
};

struct vfy_cmw {
    vfy_cmw_format fmt;
    uint8_t *data[VFY_CMW_RECORDS];
    size_t len[VFY_CMW_RECORDS];
};

const char *vfy_cmw_label(vfy_cmw_record r)
{
    return (unsigned)r < VFY_CMW_RECORDS ? labels[r] : NULL;
}

const char *vfy_cmw_media_type(vfy_cmw_record r)
{
    return (unsigned)r < VFY_CMW_RECORDS ? media_types[r] : NULL;
}

vfy_rc vfy_cmw_format_from_media_type(vfy_cmw_format *fmt, const char *mt)
{
    if (fmt == NULL || mt == NULL)
        return VFY_E_INVALID_ARG;
    if (strcmp(mt, VFY_CMW_MEDIA_TYPE_JSON) == 0)
        *fmt = VFY_CMW_JSON;
    else if (strcmp(mt, VFY_CMW_MEDIA_TYPE_CBOR) == 0)
        *fmt = VFY_CMW_CBOR;
    else
        return VFY_E_UNSUPPORTED;
    return VFY_OK;
}

/* Index of the label of @n bytes at @s: 0..4 a record, VFY_CMW_RECORDS the
 * type key, -1 unknown. Exact bytes: a key with an embedded NUL is unknown. */
static int label_index(const char *s, size_t n)
{
    for (int i = 0; i < VFY_CMW_RECORDS; i++)
        if (strlen(labels[i]) == n && memcmp(labels[i], s, n) == 0)
            return i;
    if (n == strlen(TYPE_KEY) && memcmp(s, TYPE_KEY, n) == 0)
        return VFY_CMW_RECORDS;
    return -1;
}

static int str_eq(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(s, want, n) == 0;
}

/*
 * Shared per-member logic: @key/@klen the member name; @seen tracks which
 * labels were seen. Returns the label index through *@idx.
 */
static vfy_rc check_key(const char *key, size_t klen, unsigned *seen, int *idx,
                        char *detail, size_t cap)
{
    int i = label_index(key, klen);

    if (i < 0) {
        vfy_detail_set(detail, cap, "unknown label \"%.*s\"", (int)(klen > 64 ? 64 : klen), key);
        return VFY_E_CMW_UNKNOWN_LABEL;
    }
    if (*seen & (1u << i)) {
        vfy_detail_set(detail, cap, "label \"%s\" appears twice",
                       i == VFY_CMW_RECORDS ? TYPE_KEY : labels[i]);
        return VFY_E_CMW_DUPLICATE;
    }
    *seen |= 1u << i;
    *idx = i;
    return VFY_OK;
}

static vfy_rc check_type(const char *s, size_t n, char *detail, size_t cap)
{
    if (!str_eq(s, n, VFY_CMW_TAG)) {
        vfy_detail_set(detail, cap, "__cmwc_t must be \"%s\"", VFY_CMW_TAG);
        return VFY_E_CMW_TYPE;
    }
    return VFY_OK;
}

static vfy_rc check_media_type(int i, const char *s, size_t n, char *detail, size_t cap)
{
    if (!str_eq(s, n, media_types[i])) {
        vfy_detail_set(detail, cap, "record \"%s\" must have media type %s", labels[i],
                       media_types[i]);
        return VFY_E_CMW_MEDIA_TYPE;
    }
    return VFY_OK;
}

static vfy_rc check_size(int i, size_t n, char *detail, size_t cap)
{
    if (i == VFY_CMW_AGENT_MANIFEST && n > VFY_MANIFEST_MAX) {
        vfy_detail_set(detail, cap, "agent-manifest is %zu bytes, the limit is %d", n,
                       VFY_MANIFEST_MAX);
        return VFY_E_MANIFEST_TOO_LARGE;
    }
    return VFY_OK;
}

static vfy_rc check_complete(unsigned seen, char *detail, size_t cap)
{
    if (!(seen & (1u << VFY_CMW_RECORDS))) {
        vfy_detail_set(detail, cap, "__cmwc_t is missing");
        return VFY_E_CMW_TYPE;
    }
    for (int i = 0; i < VFY_CMW_RECORDS; i++) {
        if (!(seen & (1u << i))) {
            vfy_detail_set(detail, cap, "record \"%s\" is missing", labels[i]);
            return VFY_E_CMW_MISSING;
        }
    }
    return VFY_OK;
}

/* ---- JSON ---- */

/* The collection in the strictly parsed tree @root (depth already bounded). */
static vfy_rc parse_json_tree(vfy_cmw *c, const cJSON *root, char *detail, size_t cap)
{
    unsigned seen = 0;
    vfy_rc rc;

    if (!cJSON_IsObject(root)) {
        vfy_detail_set(detail, cap, "the collection must be a JSON object");
        return VFY_E_CMW_MALFORMED;
    }
    for (const cJSON *m = root->child; m != NULL; m = m->next) {
        const cJSON *mt, *val;
        const char *s;
        size_t n;
        int i;

        if (m->string == NULL)
            return VFY_E_CMW_MALFORMED;
        if ((rc = check_key(m->string, strlen(m->string), &seen, &i, detail, cap)) != VFY_OK)
            return rc;
        if (i == VFY_CMW_RECORDS) {
            if (vfy_json_str(m, &s, &n) != VFY_JSON_OK) {
                vfy_detail_set(detail, cap, "__cmwc_t must be a string");
                return VFY_E_CMW_TYPE;
            }
            if ((rc = check_type(s, n, detail, cap)) != VFY_OK)
                return rc;
            continue;
        }
        mt = cJSON_IsArray(m) ? m->child : NULL;
        val = mt != NULL ? mt->next : NULL;
        if (val == NULL || val->next != NULL || !cJSON_IsString(mt) || !cJSON_IsString(val)) {
            vfy_detail_set(detail, cap, "record \"%s\" must be [media-type, base64url]",
                           labels[i]);
            return VFY_E_CMW_MALFORMED;
        }
        if (vfy_json_str(mt, &s, &n) != VFY_JSON_OK)
            return VFY_E_CMW_MALFORMED;
        if ((rc = check_media_type(i, s, n, detail, cap)) != VFY_OK)
            return rc;
        if (vfy_json_str(val, &s, &n) != VFY_JSON_OK)
            return VFY_E_CMW_MALFORMED;
        /* refuse an oversized manifest before decoding it */
        if (i == VFY_CMW_AGENT_MANIFEST && n > VFY_B64URL_LEN(VFY_MANIFEST_MAX) &&
            (rc = check_size(i, (n / 4) * 3, detail, cap)) != VFY_OK)
            return rc;
        c->data[i] = malloc(VFY_B64URL_DECODED_MAX(n) + 1);
        if (c->data[i] == NULL)
            return VFY_E_NOMEM;
        rc = vfy_b64url_decode(c->data[i], VFY_B64URL_DECODED_MAX(n) + 1, &c->len[i], s, n);
        if (rc != VFY_OK) {
            vfy_detail_set(detail, cap, "record \"%s\" is not strict base64url", labels[i]);
            return rc == VFY_E_ENCODING ? VFY_E_CMW_ENCODING : rc;
        }
        if ((rc = check_size(i, c->len[i], detail, cap)) != VFY_OK)
            return rc;
    }
    return check_complete(seen, detail, cap);
}

/*
 * A collection is a map of __cmwc_t and five [media type, content] records:
 * 23 values, keys and containers. Anything far past that is refused before
 * a tree is built (cJSON and libcbor spend ~64 bytes on each item, so a
 * 1 MiB document of empty arrays would otherwise cost ~80 MB first).
 */
#define CMW_MAX_ITEMS 64

static vfy_rc parse_json(vfy_cmw *c, const char *data, size_t len, char *detail, size_t cap)
{
    cJSON *root = NULL;
    vfy_rc rc;

    switch (vfy_json_parse_max(&root, data, len, VFY_CMW_MAX_DEPTH, CMW_MAX_ITEMS)) {
    case VFY_JSON_OK:
        break;
    case VFY_JSON_NESTING:
        vfy_detail_set(detail, cap, "nesting deeper than %d", VFY_CMW_MAX_DEPTH);
        return VFY_E_CMW_NESTING;
    case VFY_JSON_TOO_MANY:
        vfy_detail_set(detail, cap, "more than %d JSON values: not a CMW collection",
                       CMW_MAX_ITEMS);
        return VFY_E_CMW_MALFORMED;
    default:
        vfy_detail_set(detail, cap, "not well-formed JSON");
        return VFY_E_CMW_MALFORMED;
    }
    rc = parse_json_tree(c, root, detail, cap);
    cJSON_Delete(root);
    return rc;
}

/* ---- CBOR ---- */

enum scan_kind { SK_LEAF, SK_CONTAINER, SK_BAD };

struct scan_ctx {
    enum scan_kind kind;
    size_t count; /* items a container holds (map: 2 per pair) */
    int overflow;
};

static void sc_array(void *ctx, size_t n)
{
    struct scan_ctx *s = ctx;

    s->kind = SK_CONTAINER;
    s->count = n;
}

static void sc_map(void *ctx, size_t n)
{
    struct scan_ctx *s = ctx;

    s->kind = SK_CONTAINER;
    if (n > SIZE_MAX / 2)
        s->overflow = 1;
    s->count = n * 2;
}

static void sc_bad(void *ctx)
{
    ((struct scan_ctx *)ctx)->kind = SK_BAD;
}

static void sc_tag(void *ctx, uint64_t t)
{
    (void)t;
    ((struct scan_ctx *)ctx)->kind = SK_BAD;
}

/*
 * Walk the item headers with libcbor's streaming decoder: exactly one
 * top-level item, definite lengths only, no tags, nesting <= 16, every
 * declared count plausible for the bytes left, no trailing bytes.
 */
static vfy_rc cbor_prescan(const uint8_t *p, size_t len, char *detail, size_t cap)
{
    struct cbor_callbacks cb = cbor_empty_callbacks;
    size_t rem[VFY_CMW_MAX_DEPTH + 1];
    size_t depth = 0, off = 0, items = 0;

    cb.array_start = sc_array;
    cb.map_start = sc_map;
    cb.indef_array_start = sc_bad;
    cb.indef_map_start = sc_bad;
    cb.byte_string_start = sc_bad;
    cb.string_start = sc_bad;
    cb.indef_break = sc_bad;
    cb.tag = sc_tag;
    rem[0] = 1;
    for (;;) {
        struct scan_ctx ctx = {SK_LEAF, 0, 0};
        struct cbor_decoder_result r;

        while (depth > 0 && rem[depth] == 0)
            depth--;
        if (depth == 0 && rem[0] == 0)
            break;
        if (off >= len)
            goto malformed;
        if (++items > CMW_MAX_ITEMS) {
            vfy_detail_set(detail, cap, "more than %d CBOR items: not a CMW collection",
                           CMW_MAX_ITEMS);
            return VFY_E_CMW_MALFORMED;
        }
        r = cbor_stream_decode(p + off, len - off, &cb, &ctx);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0 || r.read > len - off ||
            ctx.kind == SK_BAD || ctx.overflow)
            goto malformed;
        off += r.read;
        rem[depth]--;
        if (ctx.kind == SK_CONTAINER) {
            if (depth + 1 > VFY_CMW_MAX_DEPTH) {
                vfy_detail_set(detail, cap, "nesting deeper than %d", VFY_CMW_MAX_DEPTH);
                return VFY_E_CMW_NESTING;
            }
            if (ctx.count > len - off) /* each item takes at least one byte */
                goto malformed;
            rem[++depth] = ctx.count;
        }
    }
    if (off != len)
        goto malformed;
    return VFY_OK;
malformed:
    vfy_detail_set(detail, cap, "not well-formed definite-length CBOR without tags");
    return VFY_E_CMW_MALFORMED;
}

static int cbor_text(cbor_item_t *it, const char **s, size_t *n)
{
    if (!cbor_isa_string(it) || !cbor_string_is_definite(it))
        return 0;
    *s = (const char *)cbor_string_handle(it);
    *n = cbor_string_length(it);
    if (*s == NULL)
        *s = "";
    return 1;
}

static vfy_rc parse_cbor(vfy_cmw *c, const uint8_t *data, size_t len, char *detail, size_t cap)
{
    struct cbor_load_result res;
    cbor_item_t *root;
    struct cbor_pair *pairs;
    unsigned seen = 0;
    vfy_rc rc;

    if ((rc = cbor_prescan(data, len, detail, cap)) != VFY_OK)
        return rc;
    root = cbor_load(data, len, &res);
    if (root == NULL) {
        if (res.error.code == CBOR_ERR_MEMERROR)
            return VFY_E_NOMEM;
        vfy_detail_set(detail, cap, "not well-formed CBOR");
        return VFY_E_CMW_MALFORMED;
    }
    if (res.read != len || !cbor_isa_map(root) || !cbor_map_is_definite(root)) {
        vfy_detail_set(detail, cap, "the collection must be a CBOR map");
        rc = VFY_E_CMW_MALFORMED;
        goto out;
    }
    pairs = cbor_map_handle(root);
    for (size_t k = 0; k < cbor_map_size(root); k++) {
        const char *s;
        size_t n;
        int i;

        if (!cbor_text(pairs[k].key, &s, &n)) {
            vfy_detail_set(detail, cap, "map key %zu is not a text string", k);
            rc = VFY_E_CMW_MALFORMED;
            goto out;
        }
        if ((rc = check_key(s, n, &seen, &i, detail, cap)) != VFY_OK)
            goto out;
        if (i == VFY_CMW_RECORDS) {
            if (!cbor_text(pairs[k].value, &s, &n)) {
                vfy_detail_set(detail, cap, "__cmwc_t must be a text string");
                rc = VFY_E_CMW_TYPE;
                goto out;
            }
            if ((rc = check_type(s, n, detail, cap)) != VFY_OK)
                goto out;
            continue;
        }
        cbor_item_t *v = pairs[k].value, **el;

        if (!cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) != 2 ||
            (el = cbor_array_handle(v)) == NULL || !cbor_text(el[0], &s, &n) ||
            !cbor_isa_bytestring(el[1]) || !cbor_bytestring_is_definite(el[1])) {
            vfy_detail_set(detail, cap, "record \"%s\" must be [tstr media-type, bstr]",
                           labels[i]);
            rc = VFY_E_CMW_MALFORMED;
            goto out;
        }
        if ((rc = check_media_type(i, s, n, detail, cap)) != VFY_OK)
            goto out;
        n = cbor_bytestring_length(el[1]);
        if ((rc = check_size(i, n, detail, cap)) != VFY_OK)
            goto out;
        c->data[i] = malloc(n ? n : 1);
        if (c->data[i] == NULL) {
            rc = VFY_E_NOMEM;
            goto out;
        }
        if (n > 0)
            memcpy(c->data[i], cbor_bytestring_handle(el[1]), n);
        c->len[i] = n;
    }
    rc = check_complete(seen, detail, cap);
out:
    cbor_decref(&root);
    return rc;
}

/* The end of a parse: *@out = @c on success, else @c is freed. */
static vfy_rc cmw_done(vfy_cmw **out, vfy_cmw *c, vfy_rc rc)
{
    if (rc != VFY_OK)
        vfy_cmw_free(&c);
    else
        *out = c;
    return rc;
}

vfy_rc vfy_cmw_parse(vfy_cmw **out, vfy_cmw_format fmt, const void *data, size_t len,
                     char *detail, size_t cap)
{
    vfy_cmw *c;
    vfy_rc rc;

    vfy_detail_set(detail, cap, "%s", "");
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (data == NULL || (fmt != VFY_CMW_JSON && fmt != VFY_CMW_CBOR))
        return VFY_E_INVALID_ARG;
    if (len > VFY_CMW_MAX) {
        vfy_detail_set(detail, cap, "evidence is %zu bytes, the limit is %d", len, VFY_CMW_MAX);
        return VFY_E_CMW_TOO_LARGE;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return VFY_E_NOMEM;
    c->fmt = fmt;
    rc = fmt == VFY_CMW_JSON ? parse_json(c, data, len, detail, cap)
                             : parse_cbor(c, data, len, detail, cap);
    return cmw_done(out, c, rc);
}

vfy_rc vfy_cmw_parse_tree(vfy_cmw **out, const struct cJSON *root, size_t enc_bound,
                          char *detail, size_t cap)
{
    vfy_cmw *c;

    vfy_detail_set(detail, cap, "%s", "");
    if (out == NULL)
        return VFY_E_INVALID_ARG;
    *out = NULL;
    if (root == NULL)
        return VFY_E_INVALID_ARG;
    if (enc_bound > VFY_CMW_MAX) {
        /* Only then can the compact form exceed the limit: measure it. */
        char *s = cJSON_PrintUnformatted(root);
        size_t n = s != NULL ? strlen(s) : 0;

        cJSON_free(s);
        if (s == NULL)
            return VFY_E_NOMEM;
        if (n > VFY_CMW_MAX) {
            vfy_detail_set(detail, cap, "evidence is %zu bytes, the limit is %d", n, VFY_CMW_MAX);
            return VFY_E_CMW_TOO_LARGE;
        }
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return VFY_E_NOMEM;
    c->fmt = VFY_CMW_JSON;
    return cmw_done(out, c, parse_json_tree(c, root, detail, cap));
}

void vfy_cmw_free(vfy_cmw **pc)
{
    if (pc == NULL || *pc == NULL)
        return;
    for (int i = 0; i < VFY_CMW_RECORDS; i++)
        free((*pc)->data[i]);
    free(*pc);
    *pc = NULL;
}

const uint8_t *vfy_cmw_get(const vfy_cmw *c, vfy_cmw_record r, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (c == NULL || (unsigned)r >= VFY_CMW_RECORDS)
        return NULL;
    if (len != NULL)
        *len = c->len[r];
    return c->data[r];
}

vfy_cmw_format vfy_cmw_get_format(const vfy_cmw *c)
{
    return c->fmt;
}

/* ---- encoder ---- */

static vfy_rc encode_json(const vfy_cmw_parts *parts, uint8_t **out, size_t *out_len)
{
    cJSON *root = cJSON_CreateObject();
    char *txt = NULL, *b64 = NULL;
    vfy_rc rc = VFY_E_NOMEM;

    if (root == NULL || cJSON_AddStringToObject(root, TYPE_KEY, VFY_CMW_TAG) == NULL)
        goto out;
    for (int i = 0; i < VFY_CMW_RECORDS; i++) {
        size_t blen = VFY_B64URL_LEN(parts->len[i]) + 1;
        cJSON *arr = cJSON_AddArrayToObject(root, labels[i]), *s;

        b64 = malloc(blen);
        if (arr == NULL || b64 == NULL)
            goto out;
        if ((rc = vfy_b64url_encode(b64, blen, parts->data[i], parts->len[i])) != VFY_OK)
            goto out;
        rc = VFY_E_NOMEM;
        if ((s = cJSON_CreateString(media_types[i])) == NULL)
            goto out;
        cJSON_AddItemToArray(arr, s);
        if ((s = cJSON_CreateString(b64)) == NULL)
            goto out;
        cJSON_AddItemToArray(arr, s);
        free(b64);
        b64 = NULL;
    }
    txt = cJSON_PrintUnformatted(root);
    if (txt == NULL)
        goto out;
    *out_len = strlen(txt);
    *out = malloc(*out_len + 1);
    if (*out == NULL)
        goto out;
    memcpy(*out, txt, *out_len + 1);
    rc = VFY_OK;
out:
    free(b64);
    if (txt != NULL)
        cJSON_free(txt);
    cJSON_Delete(root);
    return rc;
}

static int map_add(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
    int ok = k != NULL && v != NULL &&
             cbor_map_add(map, (struct cbor_pair){.key = k, .value = v});

    if (k != NULL)
        cbor_decref(&k);
    if (v != NULL)
        cbor_decref(&v);
    return ok;
}

static int array_push(cbor_item_t *arr, cbor_item_t *v)
{
    int ok = v != NULL && cbor_array_push(arr, v);

    if (v != NULL)
        cbor_decref(&v);
    return ok;
}

static vfy_rc encode_cbor(const vfy_cmw_parts *parts, uint8_t **out, size_t *out_len)
{
    cbor_item_t *map = cbor_new_definite_map(VFY_CMW_RECORDS + 1);
    unsigned char *buf = NULL;
    size_t buf_size = 0, n;
    vfy_rc rc = VFY_E_NOMEM;

    if (map == NULL || !map_add(map, cbor_build_string(TYPE_KEY), cbor_build_string(VFY_CMW_TAG)))
        goto out;
    for (int i = 0; i < VFY_CMW_RECORDS; i++) {
        cbor_item_t *arr = cbor_new_definite_array(2);

        if (arr == NULL)
            goto out;
        if (!array_push(arr, cbor_build_string(media_types[i])) ||
            !array_push(arr, cbor_build_bytestring(parts->len[i] ? parts->data[i]
                                                                 : (const uint8_t *)"",
                                                   parts->len[i]))) {
            cbor_decref(&arr);
            goto out;
        }
        /* map_add takes its own references and drops ours */
        if (!map_add(map, cbor_build_string(labels[i]), arr))
            goto out;
    }
    n = cbor_serialize_alloc(map, &buf, &buf_size);
    if (n == 0)
        goto out;
    *out = malloc(n ? n : 1);
    if (*out == NULL)
        goto out;
    memcpy(*out, buf, n);
    *out_len = n;
    rc = VFY_OK;
out:
    free(buf);
    if (map != NULL)
        cbor_decref(&map);
    return rc;
}

vfy_rc vfy_cmw_encode(vfy_cmw_format fmt, const vfy_cmw_parts *parts, uint8_t **out,
                      size_t *out_len)
{
    vfy_rc rc;

    if (out != NULL)
        *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (parts == NULL || out == NULL || out_len == NULL ||
        (fmt != VFY_CMW_JSON && fmt != VFY_CMW_CBOR))
        return VFY_E_INVALID_ARG;
    for (int i = 0; i < VFY_CMW_RECORDS; i++)
        if (parts->data[i] == NULL && parts->len[i] != 0)
            return VFY_E_INVALID_ARG;
    if (parts->len[VFY_CMW_AGENT_MANIFEST] > VFY_MANIFEST_MAX)
        return VFY_E_MANIFEST_TOO_LARGE;
    for (int i = 0; i < VFY_CMW_RECORDS; i++)
        if (parts->len[i] > VFY_CMW_MAX)
            return VFY_E_CMW_TOO_LARGE;
    rc = fmt == VFY_CMW_JSON ? encode_json(parts, out, out_len)
                             : encode_cbor(parts, out, out_len);
    if (rc == VFY_OK && *out_len > VFY_CMW_MAX) {
        free(*out);
        *out = NULL;
        *out_len = 0;
        return VFY_E_CMW_TOO_LARGE;
    }
    return rc;
}
