/*
 * tpm_clock.c — the TPM clock-state rule of DESIGN §3 (see clock.h).
 *
 * Pure functions: the caller persists the state per attester. Counters may
 * carry a per-key obfuscation offset, so "went back" is decided with
 * wrap-around arithmetic on the 32-bit difference.
 */
#include "internal.h"

static int32_t diff32(uint32_t now, uint32_t then)
{
    return (int32_t)(now - then);
}

vfy_rc vfy_clock_check(const vfy_clock_info *last, const vfy_clock_info *cur,
                       uint64_t tolerance_ms)
{
    if (cur == NULL)
        return VFY_E_INVALID_ARG;
    if (cur->safe != 1)
        return VFY_E_CLOCK_UNSAFE;
    if (last == NULL)
        return VFY_OK;
    if (diff32(cur->reset_count, last->reset_count) < 0)
        return VFY_E_CLOCK_RESET_BACK;
    if (diff32(cur->reset_count, last->reset_count) > 0)
        return VFY_OK; /* TPM reset (reboot): a new epoch */
    if (diff32(cur->restart_count, last->restart_count) < 0)
        return VFY_E_CLOCK_RESTART_BACK;
    if (diff32(cur->restart_count, last->restart_count) > 0)
        return VFY_OK;
    if (cur->clock < last->clock && last->clock - cur->clock > tolerance_ms)
        return VFY_E_CLOCK_BACK;
    return VFY_OK;
}

vfy_clock_info vfy_clock_advance(const vfy_clock_info *last, const vfy_clock_info *cur)
{
    vfy_clock_info next;

    if (last == NULL)
        return *cur;
    if (diff32(cur->reset_count, last->reset_count) != 0 ||
        diff32(cur->restart_count, last->restart_count) != 0)
        return *cur;
    next = *last;
    if (cur->clock > next.clock)
        next.clock = cur->clock;
    next.safe = cur->safe;
    return next;
}
