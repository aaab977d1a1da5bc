/*
 * test_cursor.c — the bounds-checked cursor (cursor.c, internal.h).
 * Every failing read must leave the offset where it was.
 */
#include <criterion/criterion.h>

#include "internal.h"

Test(cursor, reads_big_endian)
{
    const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                         0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    vfy_cursor c;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    vfy_cursor_init(&c, b, sizeof(b));
    cr_assert_eq(vfy_cursor_u8(&c, &u8), VFY_OK);
    cr_assert_eq(u8, 0x01);
    cr_assert_eq(vfy_cursor_u16be(&c, &u16), VFY_OK);
    cr_assert_eq(u16, 0x0203);
    cr_assert_eq(vfy_cursor_u32be(&c, &u32), VFY_OK);
    cr_assert_eq(u32, 0x04050607u);
    cr_assert_eq(vfy_cursor_u64be(&c, &u64), VFY_OK);
    cr_assert_eq(u64, 0x08090a0b0c0d0e0full);
    cr_assert_eq(vfy_cursor_end(&c), VFY_OK);
    cr_assert_eq(vfy_cursor_left(&c), 0);
}

Test(cursor, short_read_does_not_move)
{
    const uint8_t b[] = {0xaa, 0xbb, 0xcc};
    vfy_cursor c;
    uint32_t u32 = 7;
    uint64_t u64 = 7;
    const uint8_t *p = NULL;

    vfy_cursor_init(&c, b, sizeof(b));
    cr_assert_eq(vfy_cursor_u32be(&c, &u32), VFY_E_TRUNCATED);
    cr_assert_eq(c.off, 0);
    cr_assert_eq(u32, 7, "output written on failure");
    cr_assert_eq(vfy_cursor_u64be(&c, &u64), VFY_E_TRUNCATED);
    cr_assert_eq(vfy_cursor_bytes(&c, 4, &p), VFY_E_TRUNCATED);
    cr_assert_eq(c.off, 0);
    cr_assert_eq(vfy_cursor_bytes(&c, 3, &p), VFY_OK);
    cr_assert_eq(p, b);
    cr_assert_eq(vfy_cursor_bytes(&c, 1, &p), VFY_E_TRUNCATED);
    cr_assert_eq(c.off, 3);
}

Test(cursor, huge_length_cannot_wrap)
{
    const uint8_t b[] = {1, 2, 3, 4};
    vfy_cursor c;
    const uint8_t *p;

    vfy_cursor_init(&c, b, sizeof(b));
    cr_assert_eq(vfy_cursor_bytes(&c, 2, &p), VFY_OK);
    cr_assert_eq(vfy_cursor_bytes(&c, SIZE_MAX, &p), VFY_E_TRUNCATED);
    cr_assert_eq(vfy_cursor_bytes(&c, SIZE_MAX - 1, &p), VFY_E_TRUNCATED);
    cr_assert_eq(c.off, 2);
    /* An offset past the end (corrupted cursor) still fails closed. */
    c.off = 10;
    cr_assert_eq(vfy_cursor_bytes(&c, 0, &p), VFY_E_TRUNCATED);
    cr_assert_eq(vfy_cursor_left(&c), 0);
}

Test(cursor, tpm2b)
{
    const uint8_t ok[] = {0x00, 0x02, 0xde, 0xad, 0xff};
    const uint8_t big[] = {0x00, 0x05, 1, 2, 3, 4, 5};
    const uint8_t cut[] = {0x00, 0x04, 1, 2};
    vfy_cursor c;
    const uint8_t *p;
    size_t n = 0;

    vfy_cursor_init(&c, ok, sizeof(ok));
    cr_assert_eq(vfy_cursor_tpm2b(&c, 2, &p, &n), VFY_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(p[0], 0xde);
    cr_assert_eq(vfy_cursor_end(&c), VFY_E_TRAILING);

    vfy_cursor_init(&c, big, sizeof(big));
    cr_assert_eq(vfy_cursor_tpm2b(&c, 4, &p, &n), VFY_E_TOO_LARGE);
    cr_assert_eq(c.off, 0);

    vfy_cursor_init(&c, cut, sizeof(cut));
    cr_assert_eq(vfy_cursor_tpm2b(&c, 16, &p, &n), VFY_E_TRUNCATED);
    cr_assert_eq(c.off, 0);
}
