/*
 * fuzz_agent_log.c — the agent log parser, replay and history rule
 * (agent_log.c). A parsed log must replay to the PCR it reports, with its
 * last digest as the manifest digest, and must extend an empty history.
 */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vfy_agent_log *log = NULL;
    uint8_t pcr[32];
    vfy_clock_info ci = {1000, 1, 0, 1};
    vfy_agent_history next = {0, 0, NULL}, again = {0, 0, NULL};
    vfy_log_outcome o;
    size_t n;

    if (vfy_agent_log_parse(&log, data, size, NULL, 0) != VFY_OK)
        return 0;
    n = vfy_agent_log_count(log);
    vfy_agent_log_pcr(log, pcr);
    if (n == 0 || vfy_agent_log_replay(log, pcr, vfy_agent_log_digest(log, n - 1)) != VFY_OK)
        __builtin_trap();
    if (vfy_agent_history_check(NULL, log, &ci, &o, &next) != VFY_OK || o != VFY_LOG_NEW_EPOCH ||
        next.n != n)
        __builtin_trap();
    if (vfy_agent_history_check(&next, log, &ci, &o, &again) != VFY_OK || o != VFY_LOG_SAME)
        __builtin_trap();
    vfy_agent_history_clear(&again);
    vfy_agent_history_clear(&next);
    vfy_agent_log_free(&log);
    return 0;
}
