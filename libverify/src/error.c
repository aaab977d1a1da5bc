/*
 * error.c — vfy_strerror() and vfy_rc_name(): one row per vfy_rc value.
 *
 * Keep the table in the order of error.h; a unit test checks that every
 * value in error.h has a row.
 */
#include "internal.h"

struct rc_row {
    vfy_rc rc;
    const char *name;
    const char *msg;
};

#define ROW(rc, msg) { rc, #rc, msg }

static const struct rc_row rows[] = {
    ROW(VFY_OK, "success"),
    ROW(VFY_E_INVALID_ARG, "invalid argument"),
    ROW(VFY_E_NOMEM, "out of memory"),
    ROW(VFY_E_INTERNAL, "internal error"),
    ROW(VFY_E_TRUNCATED, "input truncated"),
    ROW(VFY_E_TRAILING, "trailing bytes after structure"),
    ROW(VFY_E_ENCODING, "bad base64url or hex encoding"),
    ROW(VFY_E_TOO_LARGE, "input exceeds a size limit"),
    ROW(VFY_E_IO, "I/O error"),
    ROW(VFY_E_UNSUPPORTED, "unsupported value"),
    ROW(VFY_E_JSON, "malformed JSON"),
    ROW(VFY_E_BUFFER_TOO_SMALL, "output buffer too small"),

    ROW(VFY_E_ATTEST_MAGIC, "TPMS_ATTEST magic is not TPM_GENERATED_VALUE"),
    ROW(VFY_E_ATTEST_TYPE, "TPMS_ATTEST is not a quote (TPM_ST_ATTEST_QUOTE)"),
    ROW(VFY_E_ATTEST_MALFORMED, "TPMS_ATTEST is malformed"),
    ROW(VFY_E_SIG_MALFORMED, "TPMT_SIGNATURE is malformed"),
    ROW(VFY_E_SIG_SCHEME, "signature scheme differs from the AK's registered scheme"),
    ROW(VFY_E_SIG_HASH, "signature hash algorithm not allowed"),
    ROW(VFY_E_SIG_INVALID, "quote signature does not verify"),
    ROW(VFY_E_AK_MALFORMED, "attestation key is malformed"),
    ROW(VFY_E_AK_UNSUPPORTED, "attestation key type or size not supported"),
    ROW(VFY_E_BINDER_MISMATCH, "quote extraData does not match the channel binder"),
    ROW(VFY_E_PCR_MISSING, "quote selects a PCR whose value was not supplied"),
    ROW(VFY_E_PCR_EXTRA, "a supplied PCR value is not selected by the quote"),
    ROW(VFY_E_PCR_DIGEST, "quote pcrDigest does not match the supplied PCR values"),
    ROW(VFY_E_PCR_VALUES, "PCR values malformed"),
    ROW(VFY_E_PCR_BANK, "PCR bank or index not supported"),
    ROW(VFY_E_CLOCK_UNSAFE, "TPM clock is not safe"),
    ROW(VFY_E_CLOCK_RESET_BACK, "TPM resetCount went back"),
    ROW(VFY_E_CLOCK_RESTART_BACK, "TPM restartCount went back"),
    ROW(VFY_E_CLOCK_BACK, "TPM clock went back beyond the tolerance"),
    ROW(VFY_E_PCR_NONE, "quote selects no PCR"),

    ROW(VFY_E_DB, "database error"),
    ROW(VFY_E_DB_BUSY, "database busy"),
    ROW(VFY_E_DB_SCHEMA, "database schema is newer than this program"),
    ROW(VFY_E_NOT_FOUND, "not found"),
    ROW(VFY_E_CONFLICT, "already exists with different contents"),
    ROW(VFY_E_BAD_DIGEST, "digest must be sha256: followed by 64 lowercase hex digits"),
    ROW(VFY_E_BAD_NAME, "invalid name"),
    ROW(VFY_E_BAD_KIND, "unknown kind or role"),
    ROW(VFY_E_BUNDLE, "reference-value bundle malformed"),
    ROW(VFY_E_DB_OPEN, "database missing, unreadable or not initialised"),
    ROW(VFY_E_DB_OLD, "database schema is older than this program; migrate it (verifyctl init)"),
    /* end of 200..299 (store) */

    /* 300..399 (evidence, CMW) */
    ROW(VFY_E_CMW_MALFORMED, "evidence is not a well-formed CMW collection"),
    ROW(VFY_E_CMW_TOO_LARGE, "evidence exceeds 1 MiB"),
    ROW(VFY_E_CMW_NESTING, "evidence nesting exceeds 16 levels"),
    ROW(VFY_E_CMW_TYPE, "evidence __cmwc_t is missing or not the verifierd agent-evidence tag"),
    ROW(VFY_E_CMW_MISSING, "evidence lacks a required record"),
    ROW(VFY_E_CMW_MEDIA_TYPE, "evidence record has the wrong media type"),
    ROW(VFY_E_CMW_UNKNOWN_LABEL, "evidence has an unknown record label"),
    ROW(VFY_E_CMW_DUPLICATE, "evidence has a duplicate record label"),
    ROW(VFY_E_CMW_ENCODING, "evidence record is not strict base64url"),
    /* end of 300..399 */

    /* 400..499 (agent manifest, agent log) */
    ROW(VFY_E_MANIFEST_MALFORMED, "agent manifest is malformed"),
    ROW(VFY_E_MANIFEST_TOO_LARGE, "agent manifest exceeds 64 KiB"),
    ROW(VFY_E_MANIFEST_NESTING, "agent manifest nesting exceeds 16 levels"),
    ROW(VFY_E_MANIFEST_DUPLICATE, "agent manifest has a duplicate key"),
    ROW(VFY_E_MANIFEST_UNKNOWN_FIELD, "agent manifest has an unknown field"),
    ROW(VFY_E_MANIFEST_MISSING_FIELD, "agent manifest lacks a required field"),
    ROW(VFY_E_MANIFEST_TOO_MANY, "agent manifest list exceeds 256 entries"),
    ROW(VFY_E_MANIFEST_NAME, "agent manifest name is empty, longer than 128 bytes or has control characters"),
    ROW(VFY_E_MANIFEST_DIGEST, "agent manifest digest is not sha256: followed by 64 lowercase hex digits"),
    ROW(VFY_E_MANIFEST_VERSION, "agent manifest_version is not a non-negative integer"),
    ROW(VFY_E_LOG_MALFORMED, "agent log is malformed"),
    ROW(VFY_E_LOG_TOO_LARGE, "agent log exceeds 1 MiB"),
    ROW(VFY_E_LOG_NESTING, "agent log nesting exceeds 16 levels"),
    ROW(VFY_E_LOG_DUPLICATE, "agent log entry has a duplicate key"),
    ROW(VFY_E_LOG_UNKNOWN_FIELD, "agent log entry has an unknown field"),
    ROW(VFY_E_LOG_TOO_MANY, "agent log exceeds 4096 entries"),
    ROW(VFY_E_LOG_EMPTY, "agent log is empty"),
    ROW(VFY_E_LOG_DIGEST, "agent log digest is missing or not sha256: followed by 64 lowercase hex digits"),
    ROW(VFY_E_LOG_ENCODING, "agent log manifest is not strict base64url"),
    ROW(VFY_E_LOG_MANIFEST_MISMATCH, "agent log manifest does not match its digest"),
    ROW(VFY_E_LOG_REPLAY, "agent log does not replay to the quoted agent PCR"),
    ROW(VFY_E_LOG_LAST, "last agent log entry is not the presented manifest"),
    ROW(VFY_E_LOG_STATE, "agent history state is inconsistent"),
    ROW(VFY_E_LOG_ROLLBACK, "agent log history rolled back"),
    /* end of 400..499 */

    /* 500..599 (policy, appraisal) */
    ROW(VFY_E_POLICY_MALFORMED, "policy is malformed"),
    ROW(VFY_E_POLICY_TOO_LARGE, "policy exceeds 64 KiB"),
    ROW(VFY_E_POLICY_NESTING, "policy nesting exceeds 16 levels"),
    ROW(VFY_E_POLICY_DUPLICATE, "policy has a duplicate key"),
    ROW(VFY_E_POLICY_UNKNOWN_FIELD, "policy has an unknown field"),
    ROW(VFY_E_POLICY_MISSING_FIELD, "policy lacks id or version"),
    ROW(VFY_E_POLICY_ID, "policy id must be 1..64 characters of A-Z a-z 0-9 . _ -"),
    ROW(VFY_E_POLICY_RANGE, "policy value out of range"),
    ROW(VFY_E_POLICY_BANK, "policy platform bank must be sha256"),
    ROW(VFY_E_POLICY_PCR, "policy PCR index invalid, repeated, or agent PCR among platform PCRs"),
    ROW(VFY_E_POLICY_ENUM, "policy history or unknown_context value not allowed"),
    ROW(VFY_E_APPRAISE_POLICY, "unknown appraisal policy"),
    /* end of 500..599 */

    /* 600..699 (EAR, JWS, JWKS) */
    ROW(VFY_E_JWS_MALFORMED, "JWS is not three base64url parts"),
    ROW(VFY_E_JWS_HEADER, "JWS header malformed or not allowed"),
    ROW(VFY_E_JWS_ALG, "JWS alg is not ES256"),
    ROW(VFY_E_JWS_KID, "JWS kid missing"),
    ROW(VFY_E_JWS_KID_UNKNOWN, "JWS kid not found in the key set"),
    ROW(VFY_E_JWS_SIGNATURE, "JWS signature does not verify"),
    ROW(VFY_E_EAR_CLAIMS, "EAR claims malformed"),
    ROW(VFY_E_EAR_PROFILE, "EAR eat_profile unknown"),
    ROW(VFY_E_EAR_EXPIRED, "EAR expired"),
    ROW(VFY_E_EAR_NOT_YET_VALID, "EAR issued in the future"),
    ROW(VFY_E_EAR_NONCE, "EAR nonce does not match"),
    ROW(VFY_E_EAR_CHANNEL_BINDING, "EAR channel binding does not match"),
    ROW(VFY_E_JWK, "JWK or JWKS malformed"),
    ROW(VFY_E_SIGNING_KEY, "signing key is not a readable EC P-256 private key"),
    ROW(VFY_E_EAR_JTI, "EAR has no jti, so it could never be revoked"),
    ROW(VFY_E_EAR_ATTESTER, "EAR is about another attester"),
    ROW(VFY_E_EAR_TTL, "EAR is valid longer than the relying party asked for"),
    ROW(VFY_E_EAR_STATUS, "EAR statuses disagree with its trust vectors"),
    ROW(VFY_E_EAR_POLICY, "EAR verdict comes from another appraisal policy than the one required"),
    /* end of 600..699 */

    /* 700..799 (nonces) */
    ROW(VFY_E_NONCE_MALFORMED, "nonce malformed (length or lifetime)"),
    ROW(VFY_E_NONCE_FORGED, "nonce was not issued by this verifier"),
    ROW(VFY_E_NONCE_EXPIRED, "nonce expired"),
    ROW(VFY_E_NONCE_REPLAY, "nonce already used"),
    ROW(VFY_E_NONCE_CACHE_FULL, "used-nonce cache full"),
    ROW(VFY_E_NONCE_KEY, "nonce key malformed (want 64 hex digits, optionally followed by a newline)"),
    ROW(VFY_E_NONCE_STALE, "nonce issued nonce_ttl_s or more ago"),
    ROW(VFY_E_NONCE_UNCHECKED, "nonce not checked by the caller"),
    ROW(VFY_E_NONCE_FUTURE, "nonce issued in the future (clocks apart?)"),
    /* end of 700..799 */
};

static const struct rc_row *find(vfy_rc rc)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].rc == rc)
            return &rows[i];
    return NULL;
}

const char *vfy_strerror(vfy_rc rc)
{
    const struct rc_row *r = find(rc);

    return r != NULL ? r->msg : "unknown error";
}

const char *vfy_rc_name(vfy_rc rc)
{
    const struct rc_row *r = find(rc);

    return r != NULL ? r->name : "VFY_E_?";
}
