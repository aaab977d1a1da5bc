/*
 * encoding.h — base64url (RFC 4648 §5, no padding) and lowercase hex; the
 * UTF-8 and name rules of the store; the strict JSON rule of every JSON
 * document libverify reads.
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
 * C1 control (a terminal acts on CSI, U+009B), DEL, a bidirectional
 * mark, embedding, override or isolate (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069: they make a printed name read as
 * another). The store's rule for names it looks up and imports, and the
 * manifest's rule for names.
 */
VFY_EXPORT size_t vfy_name_char(const void *p, size_t n);

/**
 * vfy_name_char, but 0 also for a character that prints as nothing
 * (U+00AD, U+180E, U+200B..U+200D, U+2028, U+2029, U+2060..U+2064,
 * U+FEFF, U+FFF9..U+FFFB, U+E0000..U+E007F: "agent-1" and "agent-1"
 * followed by U+200B read the same). The store's rule, from 0.2.7, for the
 * names and versions its add calls create (vfy_store_attester_add,
 * vfy_store_component_add, vfy_store_pcr_add/import, the token adds); names
 * stored before, and bundles, keep vfy_name_char's rule, so that such
 * values can still be revoked and copied.
 */
VFY_EXPORT size_t vfy_name_char_visible(const void *p, size_t n);

/**
 * VFY_OK if the @len bytes at @json (need not be NUL-terminated) are one
 * strict JSON value (RFC 8259) as libverify reads every JSON document:
 * strings of valid UTF-8 (keys included) without raw control characters,
 * without \u0000 (a C string would end there) and without unpaired
 * surrogate escapes; numbers plain integers -?(0|[1-9][0-9]*) (no
 * fraction, exponent or leading zero: none of these documents carries
 * one); nesting at most 16 arrays and objects; only whitespace after the
 * value. Repeated keys are not looked for: a caller walking an object's
 * members finds them. The value is parsed once (with cJSON) and freed;
 * nothing is kept. For a program that then parses the same bytes with a
 * lenient parser and must not read them differently from libverify (a
 * \u0000 cutting a name short, 1.0 read as 1).
 *
 * VFY_E_JSON if they are not, with *@why (optional) set to a static
 * one-line reason ("\u0000 in a string", "invalid UTF-8 in a string",
 * "a number that is not a plain integer (no fraction, exponent or leading
 * zero)", "nesting deeper than 16 levels", "bytes after the JSON value",
 * "not well-formed JSON", ...); *@why is NULL on VFY_OK. VFY_E_INVALID_ARG
 * for a NULL @json with a non-zero @len. An empty buffer is VFY_E_JSON
 * ("no JSON value"). (Since 0.2.6.)
 */
VFY_EXPORT vfy_rc vfy_json_check(const void *json, size_t len, const char **why) VFY_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
