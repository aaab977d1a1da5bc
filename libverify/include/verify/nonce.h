/*
 * nonce.h — stateless, replica-shareable challenge nonces (DESIGN §8).
 *
 * A nonce is 32 bytes that any verifierd replica holding the same 32-byte
 * nonce key can check without shared state:
 *
 *   nonce  = expiry[5] || ttl[3] || random[8] || tag[16]
 *   expiry = big-endian unix seconds after which the nonce is refused
 *   ttl    = big-endian seconds it was issued for (1..VFY_NONCE_MAX_TTL), so
 *            that its issue time, expiry - ttl, is authenticated too: an
 *            appraisal holds it against its own policy's nonce_ttl_s
 *   tag    = first 16 bytes of HMAC-SHA256(key, "verifierd nonce v2" || 0x00
 *                                                || expiry || ttl || random)
 *
 * The tag authenticates the expiry and lifetime, so a client cannot extend
 * either; the random part makes every nonce distinct; the label separates
 * this use of the key from any other (and from the v1 layout, expiry[8] ||
 * random[8] || tag[16], whose nonces a v2 key refuses as forged). 64 random
 * bits are enough for uniqueness (single use is enforced by the used-set,
 * not by the random part) and a 128-bit tag keeps forgery at 2^-128 per try.
 * The expiry still comes first, so memcmp order of nonces is expiry order.
 *
 * Single use is per replica: a vfy_nonce_cache remembers every nonce it
 * accepted until that nonce expires. The cache is bounded; when it is full
 * of live nonces it refuses new ones (VFY_E_NONCE_CACHE_FULL) rather than
 * forget a live one, which would re-open a replay window. All functions here
 * are thread-safe on distinct or shared objects unless stated otherwise.
 */
#ifndef VERIFY_NONCE_H
#define VERIFY_NONCE_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_NONCE_LEN 32     /* bytes in a nonce */
#define VFY_NONCE_KEY_LEN 32 /* bytes in a nonce key */
#define VFY_NONCE_MAX_TTL 86400u /* longest lifetime vfy_nonce_issue accepts (s) */
#define VFY_NONCE_EXPIRY_LEN 5   /* bytes of big-endian expiry a nonce begins with */
/* How far after the appraisal's clock a nonce's issue time may lie (s):
 * verifierd stamps a nonce from the next second, and replicas' clocks
 * differ a little; beyond this the appraisal refuses it (VFY_E_NONCE_FUTURE). */
#define VFY_NONCE_FUTURE_SKEW_S 5

/** A nonce key (opaque; immutable after creation, so shareable across threads). */
typedef struct vfy_nonce_key vfy_nonce_key;

/** A bounded set of used nonces (opaque; internally locked). */
typedef struct vfy_nonce_cache vfy_nonce_cache;

/**
 * Create a key handle from @key (VFY_NONCE_KEY_LEN bytes, copied).
 * On success *@out owns the handle; free it with vfy_nonce_key_free().
 * Errors: VFY_E_INVALID_ARG, VFY_E_NOMEM, VFY_E_INTERNAL. *@out is NULL on failure.
 */
VFY_EXPORT vfy_rc vfy_nonce_key_new(vfy_nonce_key **out, const uint8_t key[VFY_NONCE_KEY_LEN]);

/** Create a key handle from 32 fresh bytes of RAND_bytes. Errors as vfy_nonce_key_new(). */
VFY_EXPORT vfy_rc vfy_nonce_key_generate(vfy_nonce_key **out);

/**
 * Load a key file: exactly 64 hex digits, optionally followed by one "\n".
 * Replicas that must accept each other's nonces load the same file.
 * Errors: VFY_E_IO (cannot read), VFY_E_NONCE_KEY (anything else in the
 * file), and those of vfy_nonce_key_new(). *@out is NULL on failure.
 */
VFY_EXPORT vfy_rc vfy_nonce_key_load(vfy_nonce_key **out, const char *path);

/**
 * Write the key to @path as 64 hex digits and "\n", mode 0600, atomically
 * (temporary file in the same directory, then rename). Errors: VFY_E_IO.
 */
VFY_EXPORT vfy_rc vfy_nonce_key_save(const vfy_nonce_key *key, const char *path);

/**
 * Wipe and free *@key and set it to NULL. NULL and *NULL are fine.
 * Each thread that issued or checked a nonce keeps one HMAC context holding
 * the keyed state of the last key it used: the calling thread's copy of
 * this key's state is wiped here, another thread's when that thread next
 * uses another key or exits. A key allocated later is never served a freed
 * key's context.
 */
VFY_EXPORT void vfy_nonce_key_free(vfy_nonce_key **key);

/**
 * Issue a nonce valid from @now (unix seconds, 0..2^40 - 1 - @ttl_s; an
 * appraisal refuses issue time 0 as "not checked") for
 * @ttl_s seconds (1..VFY_NONCE_MAX_TTL) into @out. *@expires_at (optional)
 * receives the expiry now + ttl_s: the nonce is accepted while check time <
 * expiry. Errors: VFY_E_INVALID_ARG, VFY_E_INTERNAL (RNG or HMAC failure;
 * @out zeroed).
 */
VFY_EXPORT vfy_rc vfy_nonce_issue(const vfy_nonce_key *key, uint64_t now, uint32_t ttl_s,
                                  uint8_t out[VFY_NONCE_LEN], uint64_t *expires_at);

/**
 * Write time @t (< 2^40) as the leading expiry bytes of a nonce into @out:
 * nonces that expire at @t or later sort (memcmp) at or after @out, those
 * that expire earlier before it. For reading stored nonces by expiry, e.g.
 * vfy_store_recent_nonces_from(st, since, out, VFY_NONCE_EXPIRY_LEN, ...)
 * with @t = now + 1 selects the unexpired ones. Errors: VFY_E_INVALID_ARG.
 */
VFY_EXPORT vfy_rc vfy_nonce_expiry_prefix(uint64_t t, uint8_t out[VFY_NONCE_EXPIRY_LEN]);

/**
 * Check that @nonce (@len bytes, untrusted) was issued with @key and has not
 * expired at @now. Stateless: says nothing about reuse (see
 * vfy_nonce_consume). *@expires_at and *@issued_at (both optional) receive
 * its expiry and its issue time (expiry - ttl) on success, 0 on failure; a
 * caller with its own used-nonce set passes the issue time — not the
 * expiry — to the appraisal as vfy_appraisal_request.nonce_issued_at.
 * Errors, in this order: VFY_E_NONCE_MALFORMED (len != 32), VFY_E_NONCE_FORGED
 * (tag mismatch, compared in constant time), VFY_E_NONCE_MALFORMED (an
 * authentic lifetime vfy_nonce_issue() never writes), VFY_E_NONCE_EXPIRED
 * (now >= expiry).
 */
VFY_EXPORT vfy_rc vfy_nonce_check(const vfy_nonce_key *key, const uint8_t *nonce, size_t len,
                                  uint64_t now, uint64_t *expires_at,
                                  uint64_t *issued_at) VFY_MUST_CHECK;

/**
 * Create a used-nonce cache holding up to @capacity live nonces
 * (1..16777216). Memory is allocated up front: a table of 16-byte slots at least twice the capacity (about 40 bytes per entry; 400000 entries hold about 19 MiB once full).
 * Large caches are split into up to 16 independently locked stripes chosen
 * by the nonce tag; each stripe holds capacity/stripes entries (rounded up),
 * so a stripe may report full slightly before the whole cache is.
 * Errors: VFY_E_INVALID_ARG, VFY_E_NOMEM, VFY_E_INTERNAL (mutex init).
 */
VFY_EXPORT vfy_rc vfy_nonce_cache_new(vfy_nonce_cache **out, size_t capacity);

/** Free *@cache and set it to NULL. NULL and *NULL are fine. */
VFY_EXPORT void vfy_nonce_cache_free(vfy_nonce_cache **cache);

/**
 * Count every nonce expiring at or before @t as possibly dropped: from now
 * on vfy_nonce_consume() refuses it as expired whatever its @now, as if a
 * sweep had run at @t. Call it after creating a cache that is to carry on
 * from an earlier one (a restart), with the time up to which used nonces
 * were not carried over: those it did not restore because they had expired
 * must not be taken as unused if the clock is later stepped back.
 */
VFY_EXPORT void vfy_nonce_cache_mark_swept(vfy_nonce_cache *cache, uint64_t t);

/** Number of entries currently held (live or not yet swept). */
VFY_EXPORT size_t vfy_nonce_cache_size(vfy_nonce_cache *cache);

/**
 * Check @nonce as vfy_nonce_check() does and, if valid, record it as used in
 * @cache; *@issued_at (optional) then receives the time it was issued
 * (expiry - ttl; 0 on any error) — pass it to the appraisal as
 * vfy_appraisal_request.nonce_issued_at, which holds it against the
 * policy's nonce_ttl_s. The first call for a nonce returns VFY_OK; any later call returns
 * VFY_E_NONCE_REPLAY. Entries are dropped once expired (swept lazily when a
 * stripe fills up). If the stripe is full of unexpired nonces the call returns
 * VFY_E_NONCE_CACHE_FULL and does not record the nonce.
 * A nonce the cache may have dropped as expired (its stripe was swept, or
 * marked with vfy_nonce_cache_mark_swept(), at a time at or after its
 * expiry) stays expired for any later caller, whatever its @now, so callers
 * with different clocks, or a clock stepped back, cannot re-admit it; other
 * nonces are judged at @now. So a clock that ran ahead for a while and was
 * corrected does not make fresh nonces expire early, except in a stripe
 * swept while it was ahead (a cache that filled up then): there a nonce
 * expiring before that sweep's time is refused until the clock passes it.
 * Errors: those of vfy_nonce_check(), VFY_E_NONCE_REPLAY, VFY_E_NONCE_CACHE_FULL.
 */
VFY_EXPORT vfy_rc vfy_nonce_consume(const vfy_nonce_key *key, vfy_nonce_cache *cache,
                                    const uint8_t *nonce, size_t len, uint64_t now,
                                    uint64_t *issued_at) VFY_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
