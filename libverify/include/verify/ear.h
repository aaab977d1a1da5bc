/*
 * ear.h — attestation results: EAR (draft-ietf-rats-ear) as an ES256 JWT,
 * AR4SI trustworthiness vectors and tiers (draft-ietf-rats-ar4si), and the
 * relying-party verifier (DESIGN §7; every claim is described in docs/ear.md).
 *
 * Issuing: fill a vfy_ear_claims (plain struct, all pointers borrowed for the
 * duration of the call) and call vfy_ear_sign() with a vfy_signing_key
 * (verify/jwk.h). Statuses are not inputs: each submodule's status is the
 * worst tier of its trustworthiness vector and the overall status the worst
 * submodule status, so a signed result can never say "affirming" next to a
 * contraindicated claim.
 *
 * Verifying (relying parties): vfy_ear_verify_expected() checks the JWS
 * against a key set, the validity period, and everything the relying party
 * expects (nonce, TLS channel binding, attester, lifetime, optionally the
 * policy), each required, and returns an opaque vfy_ear with accessors.
 * vfy_ear_verify() and vfy_ear_check_scope() are its parts, for callers
 * that need them separately (a NULL nonce or binding there skips the check).
 */
#ifndef VERIFY_EAR_H
#define VERIFY_EAR_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"
#include "verify/jwk.h"

#ifdef __cplusplus
extern "C" {
#endif

/** eat_profile of the current draft-ietf-rats-ear names (draft -04). */
#define VFY_EAR_PROFILE_IETF_ID "tag:ietf.org,2026:rats/ear#04"
/** eat_profile of the older Veraison names ("ear.status", ...). */
#define VFY_EAR_PROFILE_VERAISON_ID "tag:github.com,2023:veraison/ear"

#define VFY_EAR_IAT_SKEW_S 60    /* iat may be this far ahead of the verifier's now */
#define VFY_EAR_JTI_MAX 128      /* longest result id (jti) */
#define VFY_EAR_MAX_REASONS 256  /* reasons accepted in a result */
#define VFY_EAR_MAX_POLICY_IDS 16 /* policy ids per submodule */
#define VFY_EAR_MAX_STRING 4096  /* longest string claim accepted */

/** AR4SI trust tiers; the values are each tier's lowest positive claim value,
 *  so numeric order is severity order (none < affirming < warning < contraindicated). */
typedef enum vfy_ear_status {
    VFY_EAR_NONE = 0,
    VFY_EAR_AFFIRMING = 2,
    VFY_EAR_WARNING = 32,
    VFY_EAR_CONTRAINDICATED = 96,
} vfy_ear_status;

/** The eight AR4SI trustworthiness claims (index into vfy_trust_vector). */
typedef enum vfy_tv_claim {
    VFY_TV_INSTANCE_IDENTITY = 0,
    VFY_TV_CONFIGURATION = 1,
    VFY_TV_EXECUTABLES = 2,
    VFY_TV_FILE_SYSTEM = 3,
    VFY_TV_HARDWARE = 4,
    VFY_TV_RUNTIME_OPAQUE = 5,
    VFY_TV_STORAGE_OPAQUE = 6,
    VFY_TV_SOURCED_DATA = 7,
    VFY_TV_COUNT = 8,
} vfy_tv_claim;

/** A trustworthiness vector: only claims whose bit is set in @set are emitted. */
typedef struct vfy_trust_vector {
    uint8_t set;                  /* bit (1 << claim) set: value[claim] present */
    int8_t value[VFY_TV_COUNT];   /* AR4SI claim values, -128..127 */
} vfy_trust_vector;

/** Claim-naming profile of an issued result (DESIGN §7). */
typedef enum vfy_ear_profile {
    VFY_EAR_PROFILE_IETF = 0,     /* ear_status, ear_trustworthiness_vector, ... (default) */
    VFY_EAR_PROFILE_VERAISON = 1, /* ear.status, ear.trustworthiness-vector, ... */
} vfy_ear_profile;

/** The two submodules verifierd reports ("platform", "agent"). */
typedef enum vfy_ear_submod_id {
    VFY_EAR_PLATFORM = 0,
    VFY_EAR_AGENT = 1,
    VFY_EAR_SUBMOD_COUNT = 2,
} vfy_ear_submod_id;

/**
 * The AR4SI tier of one claim value: -1..1 none; 2..31 and -32..-2
 * affirming; 32..95 and -96..-33 warning; 96..127 and -128..-97
 * contraindicated. Values outside -128..127 are not AR4SI values and map to
 * contraindicated (fail closed).
 */
VFY_EXPORT vfy_ear_status vfy_ar4si_tier(int value);

/** Worst tier over the claims present in @tv; VFY_EAR_NONE if none is set or @tv is NULL. */
VFY_EXPORT vfy_ear_status vfy_trust_vector_status(const vfy_trust_vector *tv);

/** Set claim @c to @value (-128..127) and mark it present. VFY_E_INVALID_ARG otherwise. */
VFY_EXPORT vfy_rc vfy_trust_vector_set(vfy_trust_vector *tv, vfy_tv_claim c, int value);

/** The more severe of @a and @b. */
VFY_EXPORT vfy_ear_status vfy_ear_status_worst(vfy_ear_status a, vfy_ear_status b);

/** "none", "affirming", "warning", "contraindicated" (static), or NULL if unknown. */
VFY_EXPORT const char *vfy_ear_status_name(vfy_ear_status s);

/** AR4SI claim name, e.g. "instance-identity" (static), or NULL if unknown. */
VFY_EXPORT const char *vfy_tv_claim_name(vfy_tv_claim c);

/**
 * Validity period of a result: min(@policy_ttl_s, @requested_max_ttl_s),
 * where a requested maximum of 0 means "none requested" (DESIGN §7). exp is
 * then iat + this value. Returns 0 only if @policy_ttl_s is 0.
 */
VFY_EXPORT uint32_t vfy_ear_ttl(uint32_t policy_ttl_s, uint32_t requested_max_ttl_s);

/** One submodule of a result to issue. */
typedef struct vfy_ear_submod {
    int present;                    /* 0: submodule omitted */
    vfy_trust_vector tv;            /* status = vfy_trust_vector_status(&tv) */
    const char *const *policy_ids;  /* e.g. "default@1"; Veraison profile emits the first only */
    size_t n_policy_ids;            /* 0..VFY_EAR_MAX_POLICY_IDS */
} vfy_ear_submod;

/** Everything an issued result says. Pointers are borrowed during vfy_ear_sign(). */
typedef struct vfy_ear_claims {
    vfy_ear_profile profile;
    int64_t iat;                    /* unix seconds */
    int64_t exp;                    /* > iat; iat + vfy_ear_ttl(...) */
    const char *jti;                /* result id; NULL: 16 random bytes, base64url */
    const char *verifier_build;     /* ear_verifier_id.build, e.g. "verifierd 0.1.0"; required */
    const char *attester;           /* verifierd.attester; NULL: omitted */
    const uint8_t *nonce;           /* eat_nonce (base64url of these bytes); NULL: omitted */
    size_t nonce_len;               /* 8..64 (EAT), verifierd uses 32 */
    const uint8_t *channel_binding; /* 32 bytes tls-exporter cb; the claim is b64url(SHA-256(cb)); NULL: omitted */
    vfy_ear_submod submod[VFY_EAR_SUBMOD_COUNT]; /* [VFY_EAR_PLATFORM], [VFY_EAR_AGENT] */
    int has_manifest;               /* agent submod carries the two claims below */
    uint8_t manifest_digest[32];    /* verifierd.manifest_digest = "sha256:<hex>" */
    int64_t manifest_version;       /* verifierd.manifest_version, >= 0 */
    const char *const *reasons;     /* verifierd.reasons; required (>= 1) unless affirming/none */
    size_t n_reasons;               /* 0..VFY_EAR_MAX_REASONS */
} vfy_ear_claims;

/**
 * The claims of @c as the JSON payload (compact, NUL-terminated, caller frees
 * with vfy_free()). @jti_out (optional, VFY_EAR_JTI_MAX + 1 bytes) receives
 * the jti used, generated if @c->jti is NULL.
 * Errors: VFY_E_INVALID_ARG (missing verifier_build, exp <= iat, a limit
 * exceeded, a non-affirming result without reasons, manifest without an
 * agent submodule, ...), VFY_E_NOMEM, VFY_E_INTERNAL (RNG).
 */
VFY_EXPORT vfy_rc vfy_ear_claims_json(const vfy_ear_claims *c, char **json, char *jti_out);

/**
 * Sign @c as an ES256 compact JWS with header
 * {"alg":"ES256","typ":"JWT","kid":<kid of @key>}. *@jws is NUL-terminated
 * and owned by the caller (vfy_free()). @jti_out as in vfy_ear_claims_json().
 * Errors: those of vfy_ear_claims_json(), VFY_E_INTERNAL (signing failed).
 */
VFY_EXPORT vfy_rc vfy_ear_sign(const vfy_ear_claims *c, const vfy_signing_key *key,
                               char **jws, char *jti_out);

/** A verified result (opaque); every string it returns is owned by it. */
typedef struct vfy_ear vfy_ear;

/**
 * Verify a result for a relying party. Checks, in order, each failing with
 * its own error: size (VFY_E_TOO_LARGE above 64 KiB); three non-empty strict
 * base64url segments (VFY_E_JWS_MALFORMED); header a JSON object without
 * duplicate members whose alg is exactly "ES256" (VFY_E_JWS_ALG, also for a
 * repeated "alg"), with no members besides alg/typ/kid and typ "JWT" if
 * present (VFY_E_JWS_HEADER); kid present (VFY_E_JWS_KID) and in @keys
 * (VFY_E_JWS_KID_UNKNOWN); 64-byte r||s with 0 < r,s < n that verifies
 * (VFY_E_JWS_SIGNATURE); claims JSON with a known eat_profile
 * (VFY_E_EAR_PROFILE) and the claims of docs/ear.md well-typed, including
 * integer iat < exp, submods holding only "platform" and "agent", and an
 * integer nbf (if any) not after exp (VFY_E_EAR_CLAIMS); each submodule's
 * status its trust vector's tier and the overall status the worst
 * submodule's (VFY_E_EAR_STATUS); exp > @now (VFY_E_EAR_EXPIRED);
 * iat and nbf <= @now + VFY_EAR_IAT_SKEW_S (VFY_E_EAR_NOT_YET_VALID); if
 * @expected_nonce is given, eat_nonce equals it (VFY_E_EAR_NONCE); if
 * @channel_binding (the 32-byte tls-exporter value of the relying party's
 * own connection) is given, verifierd.channel_binding equals
 * b64url(SHA-256(cb)) (VFY_E_EAR_CHANNEL_BINDING).
 * On success *@out owns the result (vfy_ear_free()); on failure it is NULL.
 * @keys is only read and may be shared between threads.
 */
VFY_EXPORT vfy_rc vfy_ear_verify(vfy_ear **out, const char *jws, size_t jws_len,
                                 const vfy_jwks *keys, const uint8_t *expected_nonce,
                                 size_t nonce_len, const uint8_t *channel_binding,
                                 int64_t now) VFY_MUST_CHECK;

/** As vfy_ear_verify() with the key set given as JWKS JSON (errors of vfy_jwks_parse() too). */
VFY_EXPORT vfy_rc vfy_ear_verify_jwks_json(vfy_ear **out, const char *jws, size_t jws_len,
                                           const char *jwks_json, size_t jwks_len,
                                           const uint8_t *expected_nonce, size_t nonce_len,
                                           const uint8_t *channel_binding,
                                           int64_t now) VFY_MUST_CHECK;

/** Free *@ear and set it NULL. NULL is fine. */
VFY_EXPORT void vfy_ear_free(vfy_ear **ear);

/**
 * What a verified EAR's signature and binding do not settle for a relying
 * party that gates on it, in this order: it has a jti, the result id the
 * revocation feed names (VFY_E_EAR_JTI: without one it could never be
 * revoked); it is about @attester (VFY_E_EAR_ATTESTER, also when it names
 * none); and, if @max_ttl_s is not 0, exp - iat is at most @max_ttl_s, the
 * lifetime the relying party asked for (VFY_E_EAR_TTL). An honest verifierd
 * never issues such EARs; the checks keep a relying party from acting on one
 * that some other signer of the key set, or a bug, produced.
 * Errors: VFY_E_INVALID_ARG (NULL @ear or @attester) and those above.
 */
VFY_EXPORT vfy_rc vfy_ear_check_scope(const vfy_ear *ear, const char *attester,
                                      uint32_t max_ttl_s) VFY_MUST_CHECK;

/**
 * What a relying party expects of the result it asked for. Every member but
 * @policy is required: vfy_ear_verify_expected() refuses to run without
 * them, so a forgotten check cannot pass silently. Fill it with designated
 * initializers ({.nonce = ..., .attester = ...}): the members left out are
 * zero, and @reserved must be (a later version may give its slots a
 * meaning without changing the struct's size).
 */
typedef struct vfy_ear_expect {
    const uint8_t *nonce;           /* the nonce the relying party sent (VFY_NONCE_LEN bytes) */
    size_t nonce_len;
    const uint8_t *channel_binding; /* its own connection's tls-exporter value, 32 bytes */
    const char *attester;           /* the attester it asked about */
    uint32_t max_ttl_s;             /* the lifetime it asked for (max_ttl_s sent), > 0 */
    const char *policy;             /* NULL (any), "ID" (any version) or "ID@VERSION" */
    const void *reserved[4];        /* NULL */
} vfy_ear_expect;

/**
 * vfy_ear_verify() and vfy_ear_check_scope() in one call that cannot be
 * misused: the nonce, channel binding, attester and lifetime of @expect are
 * all required (VFY_E_INVALID_ARG when one is NULL, empty or 0, or a
 * reserved slot is not NULL, before anything is parsed). With @expect->policy, every submodule the result
 * holds must carry exactly one appraisal policy id, equal to "ID@VERSION",
 * or of the form "ID@<any version>" for a bare "ID" (VFY_E_EAR_POLICY):
 * a request body that someone else could shape cannot lower the bar.
 * Errors: those of vfy_ear_verify() and vfy_ear_check_scope(), in that
 * order, then VFY_E_EAR_POLICY. On success *@out owns the result
 * (vfy_ear_free()); on failure it is NULL. Whether the verdict affirms is
 * the caller's decision (vfy_ear_get_status(), vfy_ear_get_submod_status()).
 */
VFY_EXPORT vfy_rc vfy_ear_verify_expected(vfy_ear **out, const char *jws, size_t jws_len,
                                          const vfy_jwks *keys, const vfy_ear_expect *expect,
                                          int64_t now) VFY_MUST_CHECK;

/* Accessors: @ear must be a verified result; returned strings live as long as @ear. */

/** Overall status (ear_status; the worst submodule status if the claim is absent). */
VFY_EXPORT vfy_ear_status vfy_ear_get_status(const vfy_ear *ear);
/** Which naming profile the result used. */
VFY_EXPORT vfy_ear_profile vfy_ear_get_profile(const vfy_ear *ear);
/** 1 if submodule @id is present. */
VFY_EXPORT int vfy_ear_has_submod(const vfy_ear *ear, vfy_ear_submod_id id);
/** Status of submodule @id (VFY_EAR_NONE if absent). */
VFY_EXPORT vfy_ear_status vfy_ear_get_submod_status(const vfy_ear *ear, vfy_ear_submod_id id);
/** Trustworthiness vector of submodule @id into *@tv (empty if absent). */
VFY_EXPORT vfy_rc vfy_ear_get_vector(const vfy_ear *ear, vfy_ear_submod_id id, vfy_trust_vector *tv);
/** Number of appraisal policy ids of submodule @id, and the @i-th (NULL if out of range). */
VFY_EXPORT size_t vfy_ear_get_policy_id_count(const vfy_ear *ear, vfy_ear_submod_id id);
VFY_EXPORT const char *vfy_ear_get_policy_id(const vfy_ear *ear, vfy_ear_submod_id id, size_t i);
VFY_EXPORT int64_t vfy_ear_get_iat(const vfy_ear *ear);
VFY_EXPORT int64_t vfy_ear_get_exp(const vfy_ear *ear);
/** jti (result id), or NULL if absent. */
VFY_EXPORT const char *vfy_ear_get_jti(const vfy_ear *ear);
/** verifierd.attester, or NULL. */
VFY_EXPORT const char *vfy_ear_get_attester(const vfy_ear *ear);
/** ear_verifier_id.build. */
VFY_EXPORT const char *vfy_ear_get_verifier_build(const vfy_ear *ear);
/** verifierd.channel_binding as sent (b64url SHA-256 of cb), or NULL. */
VFY_EXPORT const char *vfy_ear_get_channel_binding(const vfy_ear *ear);
/** eat_nonce decoded: *@nonce points into @ear, *@len its length; VFY_E_NOT_FOUND if absent. */
VFY_EXPORT vfy_rc vfy_ear_get_nonce(const vfy_ear *ear, const uint8_t **nonce, size_t *len);
/** Agent verifierd.manifest_digest into @out; VFY_E_NOT_FOUND if absent. */
VFY_EXPORT vfy_rc vfy_ear_get_manifest_digest(const vfy_ear *ear, uint8_t out[32]);
/** Agent verifierd.manifest_version into *@v; VFY_E_NOT_FOUND if absent. */
VFY_EXPORT vfy_rc vfy_ear_get_manifest_version(const vfy_ear *ear, int64_t *v);
/** Number of verifierd.reasons, and the @i-th (NULL if out of range). */
VFY_EXPORT size_t vfy_ear_get_reason_count(const vfy_ear *ear);
VFY_EXPORT const char *vfy_ear_get_reason(const vfy_ear *ear, size_t i);
/** kid of the key that signed it. */
VFY_EXPORT const char *vfy_ear_get_kid(const vfy_ear *ear);
/** The verified claims JSON exactly as signed (decoded payload). */
VFY_EXPORT const char *vfy_ear_get_claims_json(const vfy_ear *ear);

#ifdef __cplusplus
}
#endif
#endif
