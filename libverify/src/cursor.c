/*
 * cursor.c — bounds-checked reads over untrusted bytes (see internal.h).
 *
 * Modelled on tpm2-tss's Tss2_MU_*_Unmarshal: the check `len < off ||
 * n > len - off` cannot underflow, and the offset moves only on success.
 * Integers are big-endian, as in every TPM structure.
 */
#include "internal.h"

vfy_rc vfy_cursor_bytes(vfy_cursor *c, size_t n, const uint8_t **v)
{
    if (c == NULL || c->len < c->off || n > c->len - c->off)
        return VFY_E_TRUNCATED;
    if (v != NULL)
        *v = c->p + c->off;
    c->off += n;
    return VFY_OK;
}

static vfy_rc read_be(vfy_cursor *c, size_t n, uint64_t *v)
{
    const uint8_t *b;
    uint64_t x = 0;
    vfy_rc rc = vfy_cursor_bytes(c, n, &b);

    if (rc != VFY_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | b[i];
    *v = x;
    return VFY_OK;
}

vfy_rc vfy_cursor_u8(vfy_cursor *c, uint8_t *v)
{
    uint64_t x;
    vfy_rc rc = read_be(c, 1, &x);

    if (rc == VFY_OK)
        *v = (uint8_t)x;
    return rc;
}

vfy_rc vfy_cursor_u16be(vfy_cursor *c, uint16_t *v)
{
    uint64_t x;
    vfy_rc rc = read_be(c, 2, &x);

    if (rc == VFY_OK)
        *v = (uint16_t)x;
    return rc;
}

vfy_rc vfy_cursor_u32be(vfy_cursor *c, uint32_t *v)
{
    uint64_t x;
    vfy_rc rc = read_be(c, 4, &x);

    if (rc == VFY_OK)
        *v = (uint32_t)x;
    return rc;
}

vfy_rc vfy_cursor_u64be(vfy_cursor *c, uint64_t *v)
{
    return read_be(c, 8, v);
}

vfy_rc vfy_cursor_tpm2b(vfy_cursor *c, size_t max, const uint8_t **v, size_t *n)
{
    vfy_cursor save = *c;
    uint16_t sz;
    vfy_rc rc = vfy_cursor_u16be(c, &sz);

    if (rc != VFY_OK)
        return rc;
    if (sz > max) {
        *c = save;
        return VFY_E_TOO_LARGE;
    }
    rc = vfy_cursor_bytes(c, sz, v);
    if (rc != VFY_OK) {
        *c = save;
        return rc;
    }
    *n = sz;
    return VFY_OK;
}

vfy_rc vfy_cursor_end(const vfy_cursor *c)
{
    return c->off == c->len ? VFY_OK : VFY_E_TRAILING;
}
