/*
 * agent_log.c — the agent-log record of the example agent's evidence.
 *
 * The size is counted before the JSON is built, from the lengths cJSON
 * prints for this shape (base64url and "sha256:" hex need no escaping):
 * test_example_agent_log.c holds the count to the printed length.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include <verify/verify.h>

#include "agent_log.h"

/* {"digest":"sha256:<64 hex>"} */
#define ENTRY_LEN (sizeof("{\"digest\":\"\"}") - 1 + VFY_SHA256_STR_LEN)
/* ,"manifest":"" added inside an entry that carries its manifest */
#define CARRY_LEN (sizeof(",\"manifest\":\"\"") - 1)

_Static_assert(2 + VFY_AGENT_LOG_MAX_ENTRIES * (ENTRY_LEN + 1) <= AGENT_LOG_JSON_MAX,
               "a full log of digests alone must fit AGENT_LOG_JSON_MAX");

char *agent_log_json(const struct agent_log_entry *log, size_t n, size_t max,
                     size_t *first_carried)
{
    size_t total = 2 + n * ENTRY_LEN + (n > 0 ? n - 1 : 0), first = n;
    cJSON *arr = NULL;
    char *out = NULL;

    /* the newest manifests that fit carry themselves */
    while (first > 0) {
        size_t more = CARRY_LEN + strlen(log[first - 1].b64);

        if (total + more > max)
            break;
        total += more;
        first--;
    }
    if ((arr = cJSON_CreateArray()) == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char ds[VFY_SHA256_STR_LEN + 1];
        cJSON *e = cJSON_CreateObject();

        if (e == NULL || !cJSON_AddItemToArray(arr, e))
            goto out;
        vfy_sha256_format(ds, sizeof(ds), log[i].md);
        if (cJSON_AddStringToObject(e, "digest", ds) == NULL ||
            (i >= first && cJSON_AddStringToObject(e, "manifest", log[i].b64) == NULL))
            goto out;
    }
    out = cJSON_PrintUnformatted(arr);
    if (first_carried != NULL)
        *first_carried = first;
out:
    cJSON_Delete(arr);
    return out;
}
