/*
 * internal.h — the one private header of libverify (BearSSL's inner.h).
 *
 * Holds the bounds-checked cursor used for all binary parsing of untrusted
 * bytes, and small helpers shared by modules. Nothing here is exported.
 */
#ifndef VERIFY_INTERNAL_H
#define VERIFY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/types.h>

#include "verify/verify.h"

/*
 * A read cursor over untrusted bytes. Every read checks, in a form that
 * cannot underflow, that the bytes are there (len < off || n > len - off),
 * and the offset advances only on success.
 */
typedef struct vfy_cursor {
    const uint8_t *p;
    size_t len;
    size_t off;
} vfy_cursor;

static inline void vfy_cursor_init(vfy_cursor *c, const uint8_t *p, size_t len)
{
    c->p = p;
    c->len = len;
    c->off = 0;
}

/** Bytes left to read. */
static inline size_t vfy_cursor_left(const vfy_cursor *c)
{
    return c->len < c->off ? 0 : c->len - c->off;
}

vfy_rc vfy_cursor_u8(vfy_cursor *c, uint8_t *v);
vfy_rc vfy_cursor_u16be(vfy_cursor *c, uint16_t *v);
vfy_rc vfy_cursor_u32be(vfy_cursor *c, uint32_t *v);
vfy_rc vfy_cursor_u64be(vfy_cursor *c, uint64_t *v);
/** Point *@v at the next @n bytes (no copy) and skip them. */
vfy_rc vfy_cursor_bytes(vfy_cursor *c, size_t n, const uint8_t **v);
/** Read a TPM2B: u16 size then that many bytes, at most @max. */
vfy_rc vfy_cursor_tpm2b(vfy_cursor *c, size_t max, const uint8_t **v, size_t *n);
/** VFY_OK if every byte was consumed, else VFY_E_TRAILING. */
vfy_rc vfy_cursor_end(const vfy_cursor *c);

/*
 * The OpenSSL digest for @alg, or NULL: fetched once per process and shared
 * by all threads (never freed; callers must not free it). Use it instead of
 * EVP_sha256() and friends, which fetch implicitly on every use.
 */
const EVP_MD *vfy_hash_md(vfy_hash_alg alg);

/* OpenSSL name of a hash ("SHA256"), or NULL; used with EVP_MD_fetch. */
const char *vfy_hash_ossl_name(vfy_hash_alg alg);

/* The OpenSSL key inside an AK (borrowed; lives as long as @ak), built on
 * first use for an EC AK held as its point; NULL if it cannot be built. */
EVP_PKEY *vfy_ak_pkey(const vfy_ak *ak);
/*
 * For an EC AK's first verify only: this thread's scratch verify context
 * with the AK's point set and EVP_PKEY_verify_init run after the set. NULL
 * when the AK is to use its own key: it verified on a scratch key before,
 * it is not held as a point (RSA), or no scratch key can be had. Borrowed:
 * not to be freed or kept past this thread's next AK call (tpm_ak.c,
 * "Scratch keys").
 */
EVP_PKEY_CTX *vfy_ak_scratch_ctx(const vfy_ak *ak);
/*
 * The AK's cached verify context slot, locked, or NULL when another thread
 * holds it (never blocks). The slot holds NULL or a context set up for the
 * AK's pinned scheme with EVP_PKEY_verify_init; release with
 * vfy_ak_vctx_unlock.
 */
EVP_PKEY_CTX **vfy_ak_vctx_lock(const vfy_ak *ak);
void vfy_ak_vctx_unlock(const vfy_ak *ak);

/* Constant-time equality of @n bytes (CRYPTO_memcmp underneath). */
int vfy_ct_eq(const void *a, const void *b, size_t n);

/* The code point at @p if vfy_name_char refuses it as invisible (soft
 * hyphen, zero-width and tag characters, line separators), else 0: for a
 * message that says which. */
uint32_t vfy_name_char_invisible(const void *p, size_t n);

/* Write @len bytes to @path atomically as a 0600 file (temp + fsync + rename). */
vfy_rc vfy_write_private_file(const char *path, const void *data, size_t len);

/* Wipe then free (OPENSSL_cleanse + free); NULL is fine. */
void vfy_free_secret(void *p, size_t n);

/*
 * Group commit (committer.c) as appraise.c uses it. committer_enter() locks
 * @c, opens its batch transaction if none is open and gives the store to
 * run the state phase on and the count of failed batches (a change means a
 * batch was rolled back: caches filled from it are stale). Every enter that
 * returned VFY_OK is followed by one committer_leave(): with @joined, the
 * state phase's savepoint was released into the batch and the batch number
 * is returned (the result's ticket); the batch is committed at once when
 * it reached max_batch. A state phase that failed (@joined 0) in a batch
 * no result joined ends that batch at once: no waiter would, and it holds
 * the store's write lock. Unlocks @c.
 */
vfy_rc committer_enter(vfy_committer *c, vfy_store **st, uint64_t *failures);
uint64_t committer_leave(vfy_committer *c, int joined);

/*
 * The JSON CMW collection in @root, a tree parsed with vfy_json_parse()
 * whose nesting is at most VFY_CMW_MAX_DEPTH (cmw.c; for attest_body.c's
 * evidence member). The rules and codes of vfy_cmw_parse(), the size being
 * that of the compact JSON form: @enc_bound is an upper bound of it (the
 * bytes the tree was parsed from), and only above VFY_CMW_MAX is the tree
 * printed to measure it.
 */
struct cJSON;
vfy_rc vfy_cmw_parse_tree(vfy_cmw **out, const struct cJSON *root, size_t enc_bound,
                          char *detail, size_t cap);

/* The evidence of a parsed body: the JSON tree (then *@cbor is NULL) or the
 * decoded CBOR bytes, and the body's length (attest_body.c, for appraise.c). */
const struct cJSON *vfy_attest_body_evidence(const vfy_attest_body *b, const uint8_t **cbor,
                                             size_t *cbor_len, size_t *body_len);

/* The committer batch a result waits for; 0: none (appraise.c). */
uint64_t result_ticket(const vfy_result *r);

/* The expiry a nonce begins with, read without checking its tag: only for
 * nonces already accepted, such as those stored with results (nonce.c). */
uint64_t vfy_nonce_expiry_of(const uint8_t nonce[32]);

/* 1 if @a and @b say the same (every field, defaults spelled out or not;
 * key order and spacing do not matter). */
int vfy_policy_same(const vfy_policy *a, const vfy_policy *b);

/*
 * Mark @digest known-good for @attester (no-op if known; VFY_E_NOT_FOUND for
 * an unknown attester) with the reference set of @refs, the rows the
 * affirming appraisal relied on, whether or not its result is recorded:
 * revoking one of those components forgets the mark (refstore_known.c, for
 * appraise.c). In the caller's transaction, as a savepoint. The mark's
 * reference set (the existing mark's if it was known; 0: none) goes to
 * *@mark_refset.
 */
vfy_rc vfy_store_manifest_mark_known_refs(vfy_store *st, const char *attester,
                                          const uint8_t digest[32], const vfy_store_ref *refs,
                                          size_t nrefs, int64_t *mark_refset);

/*
 * vfy_store_manifest_known, and the reference set of the mark: *@refset 0
 * when it has none (made before schema 4, or by vfy_store_manifest_mark_known).
 */
vfy_rc vfy_store_manifest_known_refset(vfy_store *st, const char *attester,
                                       const uint8_t digest[32], int *known, int64_t *refset);

/* The rows of reference set @refset (malloc'd; free()); VFY_E_NOT_FOUND if none. */
vfy_rc vfy_store_refset_rows(vfy_store *st, int64_t refset, vfy_store_ref **out, size_t *n);

#endif
