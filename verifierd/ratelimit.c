/*
 * ratelimit.c — per-token token buckets for 429 (DESIGN §8 limits).
 *
 * A fixed table of buckets indexed by the token's SHA-256 (the key is
 * already uniformly distributed), with a mutex per stripe so concurrent
 * requests with different tokens rarely contend. Memory is bounded: a new
 * token evicts the least recently used bucket of its slot group.
 */
#include <stdlib.h>
#include <string.h>

#include "vd.h"

#define RL_SLOTS 4096
#define RL_WAYS 4
#define RL_STRIPES 64

struct bucket {
    uint8_t key[32];
    double tokens;
    double last;
    int used;
};

struct vd_ratelimit {
    double rate, burst;
    pthread_mutex_t mu[RL_STRIPES];
    struct bucket b[RL_SLOTS][RL_WAYS];
};

struct vd_ratelimit *vd_ratelimit_new(unsigned per_s, unsigned burst)
{
    struct vd_ratelimit *rl;

    if (per_s == 0)
        return NULL; /* unlimited */
    if ((rl = calloc(1, sizeof(*rl))) == NULL)
        return NULL;
    rl->rate = per_s;
    rl->burst = burst > 0 ? burst : per_s;
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_init(&rl->mu[i], NULL);
    return rl;
}

void vd_ratelimit_free(struct vd_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < RL_STRIPES; i++)
        pthread_mutex_destroy(&rl->mu[i]);
    free(rl);
}

int vd_ratelimit_allow(struct vd_ratelimit *rl, const uint8_t key[32], double now)
{
    unsigned slot = ((unsigned)key[0] << 8 | key[1]) % RL_SLOTS;
    pthread_mutex_t *mu = &rl->mu[slot % RL_STRIPES];
    struct bucket *b = NULL, *oldest = &rl->b[slot][0];
    int ok;

    pthread_mutex_lock(mu);
    for (int w = 0; w < RL_WAYS; w++) {
        struct bucket *x = &rl->b[slot][w];
        if (x->used && memcmp(x->key, key, 32) == 0) {
            b = x;
            break;
        }
        if (!x->used || x->last < oldest->last)
            oldest = x;
    }
    if (b == NULL) {
        b = oldest;
        memcpy(b->key, key, 32);
        b->tokens = rl->burst;
        b->last = now;
        b->used = 1;
    }
    b->tokens += (now - b->last) * rl->rate;
    if (b->tokens > rl->burst)
        b->tokens = rl->burst;
    b->last = now;
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    pthread_mutex_unlock(mu);
    return ok;
}
