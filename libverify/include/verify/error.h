/*
 * error.h — the one error enum of libverify.
 *
 * Every value is numbered explicitly and never renumbered; values are grouped
 * by module in ranges of 100 (curl's CURLcode, BearSSL's error ranges).
 * VFY_OK is the only success value: verifiers fail closed.
 */
#ifndef VERIFY_ERROR_H
#define VERIFY_ERROR_H

#include "verify/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vfy_rc {
    VFY_OK = 0,

    /* 1..99: generic */
    VFY_E_INVALID_ARG = 1,        /* a caller passed NULL or an impossible value */
    VFY_E_NOMEM = 2,              /* allocation failed */
    VFY_E_INTERNAL = 3,           /* a library call failed unexpectedly */
    VFY_E_TRUNCATED = 4,          /* input ends before a field it declares */
    VFY_E_TRAILING = 5,           /* bytes left after a complete structure */
    VFY_E_ENCODING = 6,           /* bad base64url or hex */
    VFY_E_TOO_LARGE = 7,          /* input exceeds a documented limit */
    VFY_E_IO = 8,                 /* a file could not be read or written */
    VFY_E_UNSUPPORTED = 9,        /* well-formed but not supported */
    VFY_E_JSON = 10,              /* malformed JSON, or JSON of the wrong shape */
    VFY_E_BUFFER_TOO_SMALL = 11,  /* caller's output buffer is too small */

    /* 100..199: TPM structures, keys, signatures, quotes (DESIGN §3) */
    VFY_E_ATTEST_MAGIC = 100,     /* TPMS_ATTEST magic is not TPM_GENERATED_VALUE */
    VFY_E_ATTEST_TYPE = 101,      /* TPMS_ATTEST type is not TPM_ST_ATTEST_QUOTE */
    VFY_E_ATTEST_MALFORMED = 102, /* TPMS_ATTEST does not unmarshal */
    VFY_E_SIG_MALFORMED = 103,    /* TPMT_SIGNATURE does not unmarshal */
    VFY_E_SIG_SCHEME = 104,       /* signature scheme differs from the AK's */
    VFY_E_SIG_HASH = 105,         /* signature hash not allowed (SHA-1) or not the AK's */
    VFY_E_SIG_INVALID = 106,      /* signature does not verify */
    VFY_E_AK_MALFORMED = 107,     /* AK public key does not parse */
    VFY_E_AK_UNSUPPORTED = 108,   /* AK type, curve, size or scheme not supported */
    VFY_E_BINDER_MISMATCH = 109,  /* extraData is not the expected binder */
    VFY_E_PCR_MISSING = 110,      /* quote selects a PCR whose value was not supplied */
    VFY_E_PCR_EXTRA = 111,        /* a PCR value was supplied that the quote does not select */
    VFY_E_PCR_DIGEST = 112,       /* pcrDigest differs from the supplied PCR values */
    VFY_E_PCR_VALUES = 113,       /* pcr-values JSON malformed */
    VFY_E_PCR_BANK = 114,         /* unsupported PCR bank */
    VFY_E_CLOCK_UNSAFE = 115,     /* clockInfo.safe is 0 */
    VFY_E_CLOCK_RESET_BACK = 116, /* resetCount went back */
    VFY_E_CLOCK_RESTART_BACK = 117, /* restartCount went back within one reset epoch */
    VFY_E_CLOCK_BACK = 118,       /* clock behind the latest seen by more than the tolerance */
    VFY_E_PCR_NONE = 119,         /* the quote selects no PCR at all (it attests nothing) */

    /* 200..299: reference-value store (DESIGN §6) */
    VFY_E_DB = 200,               /* SQLite reported an error */
    VFY_E_DB_BUSY = 201,          /* database locked beyond the busy timeout */
    VFY_E_DB_SCHEMA = 202,        /* schema version newer than this library */
    VFY_E_NOT_FOUND = 203,        /* no such object */
    VFY_E_CONFLICT = 204,         /* exists with different contents */
    VFY_E_BAD_DIGEST = 205,       /* digest not "sha256:" + 64 lowercase hex */
    VFY_E_BAD_NAME = 206,         /* empty, too long or invalid name */
    VFY_E_BAD_KIND = 207,         /* unknown component kind or role */
    VFY_E_BUNDLE = 208,           /* reference-value bundle malformed */
    VFY_E_DB_OPEN = 209,          /* database missing, not a database, or not initialised */
    VFY_E_DB_OLD = 210,           /* schema older than this library and migration not requested */
    /* end of 200..299 */

    /* 300..399: evidence (CMW) — DESIGN §5 */
    VFY_E_CMW_MALFORMED = 300,    /* not a CMW collection of the right shape (JSON/CBOR syntax, types) */
    VFY_E_CMW_TOO_LARGE = 301,    /* evidence larger than VFY_CMW_MAX (1 MiB) */
    VFY_E_CMW_NESTING = 302,      /* JSON/CBOR nesting deeper than 16 */
    VFY_E_CMW_TYPE = 303,         /* __cmwc_t missing or not the verifierd evidence tag */
    VFY_E_CMW_MISSING = 304,      /* a required record is missing */
    VFY_E_CMW_MEDIA_TYPE = 305,   /* a record's media type is not the one its label requires */
    VFY_E_CMW_UNKNOWN_LABEL = 306, /* a label not defined by DESIGN §5 */
    VFY_E_CMW_DUPLICATE = 307,    /* a label appears twice */
    VFY_E_CMW_ENCODING = 308,     /* a record's content is not strict base64url (JSON form) */
    /* end of 300..399 */

    /* 400..499: agent manifest and agent log — DESIGN §4 */
    VFY_E_MANIFEST_MALFORMED = 400, /* manifest is not JSON or has the wrong shape or types */
    VFY_E_MANIFEST_TOO_LARGE = 401, /* manifest larger than 64 KiB */
    VFY_E_MANIFEST_NESTING = 402,   /* manifest JSON nesting deeper than 16 */
    VFY_E_MANIFEST_DUPLICATE = 403, /* a JSON key appears twice in one object */
    VFY_E_MANIFEST_UNKNOWN_FIELD = 404, /* a field the manifest schema does not define */
    VFY_E_MANIFEST_MISSING_FIELD = 405, /* a required field is missing */
    VFY_E_MANIFEST_TOO_MANY = 406,  /* more than 256 entries in a list */
    VFY_E_MANIFEST_NAME = 407,      /* agent_id, name or version empty, too long or with control chars */
    VFY_E_MANIFEST_DIGEST = 408,    /* a digest is not "sha256:" + 64 lowercase hex */
    VFY_E_MANIFEST_VERSION = 409,   /* manifest_version is not an integer in 0..2^53-1 */
    VFY_E_LOG_MALFORMED = 420,      /* agent log is not JSON or has the wrong shape or types */
    VFY_E_LOG_TOO_LARGE = 421,      /* agent log document larger than 1 MiB */
    VFY_E_LOG_NESTING = 422,        /* agent log JSON nesting deeper than 16 */
    VFY_E_LOG_DUPLICATE = 423,      /* a JSON key appears twice in a log entry */
    VFY_E_LOG_UNKNOWN_FIELD = 424,  /* a log entry field other than digest and manifest */
    VFY_E_LOG_TOO_MANY = 425,       /* more than 4096 log entries */
    VFY_E_LOG_EMPTY = 426,          /* the agent log has no entries */
    VFY_E_LOG_DIGEST = 427,         /* a log digest is missing or not "sha256:" + 64 lowercase hex */
    VFY_E_LOG_ENCODING = 428,       /* a carried manifest is not strict base64url */
    VFY_E_LOG_MANIFEST_MISMATCH = 429, /* a carried manifest does not hash to its entry's digest */
    VFY_E_LOG_REPLAY = 430,         /* the log does not replay to the quoted agent PCR */
    VFY_E_LOG_LAST = 431,           /* the last log entry is not the presented manifest's digest */
    VFY_E_LOG_STATE = 432,          /* persisted history state is inconsistent */
    VFY_E_LOG_ROLLBACK = 433,       /* agent log history rolled back (DESIGN §4) */
    /* end of 400..499 */

    /* 500..599: appraisal policy and appraisal — DESIGN §6 */
    VFY_E_POLICY_MALFORMED = 500,   /* policy is not JSON or has the wrong shape or types */
    VFY_E_POLICY_TOO_LARGE = 501,   /* policy document larger than 64 KiB */
    VFY_E_POLICY_NESTING = 502,     /* policy JSON nesting deeper than 16 */
    VFY_E_POLICY_DUPLICATE = 503,   /* a JSON key appears twice in one object */
    VFY_E_POLICY_UNKNOWN_FIELD = 504, /* a field the policy schema does not define */
    VFY_E_POLICY_MISSING_FIELD = 505, /* id or version missing */
    VFY_E_POLICY_ID = 506,          /* id empty, longer than 64 bytes or outside [A-Za-z0-9._-] */
    VFY_E_POLICY_RANGE = 507,       /* version or a TTL outside its range */
    VFY_E_POLICY_BANK = 508,        /* platform.bank is not "sha256" */
    VFY_E_POLICY_PCR = 509,         /* PCR index outside 0..23, repeated, empty list, or agent PCR in the platform list */
    VFY_E_POLICY_ENUM = 510,        /* agent.history or agent.unknown_context not an allowed value */
    VFY_E_APPRAISE_POLICY = 550,    /* the request names a policy the store does not have */
    /* end of 500..599 */

    /* 600..699: attestation results (EAR, JWS, JWKS) — DESIGN §7 */
    VFY_E_JWS_MALFORMED = 600,    /* JWS is not three non-empty strict base64url parts */
    VFY_E_JWS_HEADER = 601,       /* JWS header not a JSON object, duplicate key, typ not JWT, crit */
    VFY_E_JWS_ALG = 602,          /* JWS alg missing or not exactly "ES256" */
    VFY_E_JWS_KID = 603,          /* JWS kid missing or not a string */
    VFY_E_JWS_KID_UNKNOWN = 604,  /* JWS kid not in the key set */
    VFY_E_JWS_SIGNATURE = 605,    /* JWS signature does not verify (or r/s out of range) */
    VFY_E_EAR_CLAIMS = 606,       /* EAR claims malformed, missing or of the wrong type */
    VFY_E_EAR_PROFILE = 607,      /* eat_profile missing or not a known EAR profile */
    VFY_E_EAR_EXPIRED = 608,      /* EAR exp <= now */
    VFY_E_EAR_NOT_YET_VALID = 609, /* EAR iat later than now + allowed skew */
    VFY_E_EAR_NONCE = 610,        /* EAR eat_nonce missing or not the expected nonce */
    VFY_E_EAR_CHANNEL_BINDING = 611, /* EAR channel binding missing or not this connection's */
    VFY_E_JWK = 612,              /* JWK or JWKS malformed, duplicate kid, invalid EC point */
    VFY_E_SIGNING_KEY = 613,      /* signing key PEM unreadable or not an EC P-256 private key */
    VFY_E_EAR_JTI = 614,          /* EAR has no jti: no revocation could ever name it */
    VFY_E_EAR_ATTESTER = 615,     /* EAR is about another attester (or names none) */
    VFY_E_EAR_TTL = 616,          /* EAR valid longer than the relying party asked for */
    VFY_E_EAR_STATUS = 617,       /* EAR statuses disagree with its trust vectors or submodules */
    VFY_E_EAR_POLICY = 618,       /* EAR verdict from another appraisal policy than the one required */
    /* end of 600..699 */

    /* 700..799: nonces — DESIGN §8 */
    VFY_E_NONCE_MALFORMED = 700,  /* nonce is not exactly 32 bytes, or an authentic one has an impossible lifetime */
    VFY_E_NONCE_FORGED = 701,     /* nonce tag does not verify under the nonce key */
    VFY_E_NONCE_EXPIRED = 702,    /* nonce expiry has passed */
    VFY_E_NONCE_REPLAY = 703,     /* nonce already used on this replica */
    VFY_E_NONCE_CACHE_FULL = 704, /* used-nonce cache full of live nonces; refused */
    VFY_E_NONCE_KEY = 705,        /* nonce key file malformed (not 64 hex digits) */
    VFY_E_NONCE_STALE = 706,      /* nonce issued nonce_ttl_s or more ago (the appraising policy's) */
    VFY_E_NONCE_UNCHECKED = 707,  /* appraisal request carries no nonce check (issue time 0) */
    VFY_E_NONCE_FUTURE = 708,     /* nonce issue time after the appraisal's clock + VFY_NONCE_FUTURE_SKEW_S */
    /* end of 700..799 */
} vfy_rc;

/**
 * A static, human-readable description of @rc ("unknown error" for values
 * this version does not know). Never NULL; never freed.
 */
VFY_EXPORT const char *vfy_strerror(vfy_rc rc);

/** The symbolic name of @rc, e.g. "VFY_E_SIG_INVALID" (static; "VFY_E_?" if unknown). */
VFY_EXPORT const char *vfy_rc_name(vfy_rc rc);

/**
 * Free memory that libverify handed to the caller as a plain buffer (strings,
 * JSON, PEM). NULL is fine. Objects with their own _free function must be
 * freed with that function instead.
 */
VFY_EXPORT void vfy_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
