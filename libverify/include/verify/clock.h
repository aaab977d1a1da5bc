/*
 * clock.h — the TPM clock-state rule of DESIGN §3, as pure functions.
 *
 * Per attester the verifier keeps the latest clock state it accepted. A new
 * quote's state is checked against it:
 *   - safe must be 1;
 *   - resetCount behind the last seen → VFY_E_CLOCK_RESET_BACK; ahead → a
 *     reboot, accepted (history restarts);
 *   - same resetCount: restartCount behind → VFY_E_CLOCK_RESTART_BACK; ahead
 *     → accepted;
 *   - both equal: clock behind the latest clock seen by more than the
 *     tolerance (the nonce TTL) → VFY_E_CLOCK_BACK.
 * resetCount and restartCount may carry a constant per-key obfuscation
 * offset, so they are compared with wrap-around arithmetic:
 * (int32_t)(new - old) < 0 means "went back".
 */
#ifndef VERIFY_CLOCK_H
#define VERIFY_CLOCK_H

#include <stdint.h>
#include "verify/export.h"
#include "verify/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** TPMS_CLOCK_INFO. */
typedef struct vfy_clock_info {
    uint64_t clock;          /* milliseconds the TPM has been powered, persisted */
    uint32_t reset_count;
    uint32_t restart_count;
    uint8_t safe;
} vfy_clock_info;

/**
 * Check @cur against the last accepted state @last (NULL: nothing seen yet,
 * only `safe` is checked) allowing @tolerance_ms of clock going back.
 */
VFY_EXPORT vfy_rc vfy_clock_check(const vfy_clock_info *last, const vfy_clock_info *cur,
                                  uint64_t tolerance_ms) VFY_MUST_CHECK;

/**
 * The state to persist after accepting @cur: @cur if it starts a new reset
 * or restart epoch, else @last with clock = max(last.clock, cur.clock).
 * Call only after vfy_clock_check() returned VFY_OK.
 */
VFY_EXPORT vfy_clock_info vfy_clock_advance(const vfy_clock_info *last,
                                            const vfy_clock_info *cur);

#ifdef __cplusplus
}
#endif
#endif
