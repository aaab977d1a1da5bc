/*
 * timeshift.c — an LD_PRELOAD shim for tests: the wall clock a process
 * reads (time, gettimeofday, clock_gettime(CLOCK_REALTIME)) is shifted by
 * the number of seconds in the file $TIMESHIFT_FILE, read at each call, so
 * a test can set a process's wall clock back while it runs. CLOCK_MONOTONIC
 * is left alone: that is what the shim lets a test tell apart. Used by
 * tests/integration/rp_clock_back.sh; not part of any product.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long shift(void)
{
    const char *path = getenv("TIMESHIFT_FILE");
    long v = 0;
    FILE *f;

    if (path == NULL || (f = fopen(path, "r")) == NULL)
        return 0;
    if (fscanf(f, "%ld", &v) != 1)
        v = 0;
    fclose(f);
    return v;
}

static int real_clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*fn)(clockid_t, struct timespec *);

    if (fn == NULL)
        fn = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return fn(id, ts);
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc = real_clock_gettime(id, ts);

    if (rc == 0 && ts != NULL && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += shift();
    return rc;
}

time_t time(time_t *t)
{
    struct timespec ts;
    time_t v;

    if (real_clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    v = ts.tv_sec + shift();
    if (t != NULL)
        *t = v;
    return v;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    struct timespec ts;

    (void)tz;
    if (tv == NULL)
        return 0;
    if (real_clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -1;
    tv->tv_sec = ts.tv_sec + shift();
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}
