/*
 * jwk.h — the EAR signing key (EC P-256) and public key sets (JWK, JWKS).
 *
 * verifierd signs attestation results with one EC P-256 private key kept as
 * a PEM file. Relying parties fetch the public keys as a JWKS (RFC 7517)
 * from GET /v1/keys. Every key is named by its kid: the RFC 7638 JWK
 * thumbprint, i.e. base64url(SHA-256('{"crv":"P-256","kty":"EC","x":"..","y":".."}')),
 * 43 characters. Key rotation: the JWKS lists the current key and every
 * previous key whose results may still be unexpired (docs/ear.md).
 *
 * Handles are immutable once built, so they may be shared between threads
 * for signing and verifying; building a vfy_jwks (vfy_jwks_add*) is not
 * thread-safe.
 */
#ifndef VERIFY_JWK_H
#define VERIFY_JWK_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VFY_KID_LEN 43          /* characters in a thumbprint kid, without NUL */
#define VFY_JWKS_MAX_KEYS 32    /* keys accepted in one JWKS */
#define VFY_JWKS_MAX_BYTES 65536 /* JWKS JSON accepted by vfy_jwks_parse */
#define VFY_JWK_MAX_KID 128     /* longest kid accepted from a JWKS */

/** An EC P-256 private key used to sign results (opaque). */
typedef struct vfy_signing_key vfy_signing_key;

/** A set of EC P-256 public keys by kid (opaque). */
typedef struct vfy_jwks vfy_jwks;

/**
 * Generate a fresh P-256 key. *@out owns it (vfy_signing_key_free()).
 * Errors: VFY_E_INVALID_ARG, VFY_E_NOMEM, VFY_E_INTERNAL. *@out NULL on failure.
 */
VFY_EXPORT vfy_rc vfy_signing_key_generate(vfy_signing_key **out);

/**
 * Parse a PEM private key (PKCS#8 "PRIVATE KEY" or "EC PRIVATE KEY",
 * unencrypted) of @len bytes. Anything that is not an EC P-256 private key
 * gives VFY_E_SIGNING_KEY. *@out NULL on failure.
 */
VFY_EXPORT vfy_rc vfy_signing_key_from_pem(vfy_signing_key **out, const char *pem, size_t len);

/** As vfy_signing_key_from_pem() from the file @path; VFY_E_IO if unreadable. */
VFY_EXPORT vfy_rc vfy_signing_key_load(vfy_signing_key **out, const char *path);

/**
 * Write the private key to @path as unencrypted PKCS#8 PEM, mode 0600,
 * atomically (temporary file in the same directory, fsync, rename).
 * Errors: VFY_E_INVALID_ARG, VFY_E_IO, VFY_E_INTERNAL.
 */
VFY_EXPORT vfy_rc vfy_signing_key_save(const vfy_signing_key *key, const char *path);

/** Free *@key (the private key is wiped by OpenSSL) and set it NULL. NULL is fine. */
VFY_EXPORT void vfy_signing_key_free(vfy_signing_key **key);

/** The key's kid (RFC 7638 thumbprint, VFY_KID_LEN chars); owned by @key. */
VFY_EXPORT const char *vfy_signing_key_kid(const vfy_signing_key *key);

/**
 * The public key as one JWK JSON object
 * {"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256","use":"sig"}.
 * *@json is NUL-terminated and owned by the caller: free with vfy_free().
 */
VFY_EXPORT vfy_rc vfy_signing_key_public_jwk(const vfy_signing_key *key, char **json);

/** The public key as a PEM SubjectPublicKeyInfo; *@pem freed with vfy_free(). */
VFY_EXPORT vfy_rc vfy_signing_key_public_pem(const vfy_signing_key *key, char **pem);

/** An empty key set; *@out freed with vfy_jwks_free(). */
VFY_EXPORT vfy_rc vfy_jwks_new(vfy_jwks **out);

/**
 * Add the public half of @key to @set (the set keeps its own reference; @key
 * may be freed afterwards). Adding the same key again is a no-op.
 * Errors: VFY_E_TOO_LARGE beyond VFY_JWKS_MAX_KEYS, VFY_E_NOMEM.
 */
VFY_EXPORT vfy_rc vfy_jwks_add(vfy_jwks *set, const vfy_signing_key *key);

/**
 * Add the PEM SubjectPublicKeyInfo EC P-256 public keys in @pem (e.g. retired
 * signing keys kept for rotation; one block or several, each "PUBLIC KEY")
 * with their thumbprints as kids. Same key twice: no-op.
 * Errors: VFY_E_JWK (no block, or a block that is not an EC P-256 public key:
 * a private key, another curve or type; then none is added), VFY_E_TOO_LARGE,
 * VFY_E_NOMEM.
 */
VFY_EXPORT vfy_rc vfy_jwks_add_public_pem(vfy_jwks *set, const char *pem, size_t len);

/**
 * Parse a JWKS {"keys":[...]} of @len bytes (untrusted, at most
 * VFY_JWKS_MAX_BYTES). Keys whose kty/crv is not EC/P-256, or whose "use" is
 * present and not "sig", or whose "alg" is present and not "ES256", are
 * skipped (RFC 7517 §5). A key without "kty", or an EC key without "crv"
 * (required, RFC 7518 §6.2.1.1), makes the set malformed. Every EC P-256 key
 * must have strict base64url x and y of 32 bytes forming a valid curve
 * point. Its kid is the "kid" member if
 * present (1..VFY_JWK_MAX_KID chars), else its thumbprint; two keys with one
 * kid are rejected.
 * Errors: VFY_E_JWK, VFY_E_TOO_LARGE. *@out is NULL on failure.
 */
VFY_EXPORT vfy_rc vfy_jwks_parse(vfy_jwks **out, const char *json, size_t len) VFY_MUST_CHECK;

/** The set as JWKS JSON (same members as vfy_signing_key_public_jwk); free with vfy_free(). */
VFY_EXPORT vfy_rc vfy_jwks_to_json(const vfy_jwks *set, char **json);

/** Number of keys in @set (0 for NULL). */
VFY_EXPORT size_t vfy_jwks_count(const vfy_jwks *set);

/** kid of key @i (< count), owned by @set; NULL if out of range. */
VFY_EXPORT const char *vfy_jwks_kid(const vfy_jwks *set, size_t i);

/** Free *@set and set it NULL. NULL is fine. */
VFY_EXPORT void vfy_jwks_free(vfy_jwks **set);

#ifdef __cplusplus
}
#endif
#endif
