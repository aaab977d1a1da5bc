/*
 * agent_log.h — the example agent's log of measured manifests, as the
 * agent-log record of its evidence (DESIGN §4, docs/evidence.md).
 */
#ifndef VFY_EXAMPLE_AGENT_LOG_H
#define VFY_EXAMPLE_AGENT_LOG_H

#include <stddef.h>
#include <stdint.h>

/* One measured manifest. */
struct agent_log_entry {
    uint8_t md[32]; /* its SHA-256, as extended into the agent PCR */
    char *b64;      /* base64url of its bytes (NUL-terminated) */
};

/*
 * Bytes the agent-log JSON may take. The evidence holds each record as
 * base64url (4/3 of its size) in a CMW collection of at most VFY_CMW_MAX
 * (1 MiB), and the request that carries it to verifierd (nonce, channel
 * binding, attester name) must stay under verifierd's 1 MiB body limit.
 * Beside the log the records are the current manifest (at most 64 KiB), the
 * PCR values of at most 24 sha256 PCRs (under 4 KiB of JSON), and the quote
 * and its signature (under 1 KiB): 4/3 × (640 + 69) KiB ≈ 945 KiB of
 * evidence, with room to spare. test_example_agent_log.c builds that worst case.
 */
#define AGENT_LOG_JSON_MAX (640 * 1024)

/*
 * The log's JSON: one object per entry, oldest first, each with its
 * "digest" and, for the newest entries whose manifests fit in @max bytes of
 * JSON in all, its "manifest" (DESIGN §4 makes carrying it optional; the
 * verifier appraised older entries when they were current). Digests are
 * never left out: 4096 entries of digests alone take about 348 KiB. The
 * result is allocated by cJSON (free it with cJSON_free), or NULL when out
 * of memory. *@first_carried, if not NULL, receives the index of the oldest
 * entry that carries its manifest (@n when none does).
 */
char *agent_log_json(const struct agent_log_entry *log, size_t n, size_t max,
                     size_t *first_carried);

#endif
