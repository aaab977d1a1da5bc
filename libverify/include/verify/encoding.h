/*
 * encoding.h — base64url (RFC 4648 §5, no padding) and lowercase hex.
 *
 * Decoders are strict: they reject padding, whitespace, characters outside
 * the alphabet and non-canonical trailing bits, so that one value has exactly
 * one encoding.
 */
#ifndef VERIFY_ENCODING_H
#define VERIFY_ENCODING_H

#include <stddef.h>
#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Length of the base64url encoding of @n bytes, without the NUL. */
#define VFY_B64URL_LEN(n) ((((n) / 3) * 4) + (((n) % 3) ? ((n) % 3) + 1 : 0))
/** Maximum decoded length for @n characters of base64url. */
#define VFY_B64URL_DECODED_MAX(n) ((((n) + 3) / 4) * 3)

/**
 * Encode @len bytes of @in as base64url without padding into @out, which has
 * room for @out_cap bytes including a terminating NUL.
 * Returns VFY_E_BUFFER_TOO_SMALL if it does not fit.
 */
VFY_EXPORT vfy_rc vfy_b64url_encode(char *out, size_t out_cap,
                                    const uint8_t *in, size_t len);

/**
 * Decode @len characters of base64url (no padding) from @in into @out (room
 * for @out_cap bytes); the decoded length is stored in @out_len.
 * Returns VFY_E_ENCODING for any character outside the alphabet, padding, a
 * length of 1 mod 4 or non-zero trailing bits; VFY_E_BUFFER_TOO_SMALL if it
 * does not fit. @out_len is 0 on failure.
 */
VFY_EXPORT vfy_rc vfy_b64url_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                                    const char *in, size_t len) VFY_MUST_CHECK;

/** Encode @len bytes as lowercase hex into @out (room for 2*len+1). */
VFY_EXPORT vfy_rc vfy_hex_encode(char *out, size_t out_cap,
                                 const uint8_t *in, size_t len);

/**
 * Decode exactly @len hex characters (either case) from @in into @out, which
 * must have room for len/2 bytes (@out_cap). Odd lengths and non-hex
 * characters give VFY_E_ENCODING.
 */
VFY_EXPORT vfy_rc vfy_hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
                                 const char *in, size_t len) VFY_MUST_CHECK;

/**
 * Length (1..4) of the valid UTF-8 sequence at @p, of at most @n bytes, or 0
 * if there is none (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence; @n 0 gives 0). The rule the store applies
 * to names, for programs that must agree with it.
 */
VFY_EXPORT size_t vfy_utf8_seq(const void *p, size_t n);

/**
 * vfy_utf8_seq, but 0 also for a character a name may not hold: a C0 or
 * C1 control (a terminal acts on CSI, U+009B), DEL, or a bidirectional
 * mark, embedding, override or isolate (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069: they make a printed name read as
 * another). The store's and the manifest's rule for names.
 */
VFY_EXPORT size_t vfy_name_char(const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
