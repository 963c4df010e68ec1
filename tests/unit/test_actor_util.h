/* Shared helpers for the actor tests: a mock clock the test steps, a gate a
 * handler can block on, a start/stop log, and bounded polling for things
 * that happen on other threads (no timing assertions: a poll only bounds
 * how long a test may wait before it fails). */
#ifndef TEST_ACTOR_UTIL_H
#define TEST_ACTOR_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tickraft/actor_sup.h"

struct mock_clock {
    _Atomic uint64_t now;
    uint64_t rnd;                /* rand_u64 returns this */
};

static inline uint64_t mock_now(void *ctx) { return atomic_load(&((struct mock_clock *)ctx)->now); }
static inline uint64_t mock_rand(void *ctx) { return ((struct mock_clock *)ctx)->rnd; }

static inline struct tr_actor_clock mock_clock_ops(struct mock_clock *m)
{
    struct tr_actor_clock c = {TR_ACTOR_CLOCK_VERSION, m, mock_now, mock_rand};
    return c;
}

static inline void mock_advance_ms(struct mock_clock *m, uint64_t ms)
{
    atomic_fetch_add(&m->now, ms * 1000000ull);
}

static inline void tiny_nap(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

/* A gate a handler blocks on until the test opens it. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    _Atomic int waiting;
};
#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0}

static inline void gate_pass(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    atomic_fetch_add(&g->waiting, 1);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    atomic_fetch_sub(&g->waiting, 1);
    pthread_mutex_unlock(&g->mu);
}

static inline void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* An ordered log of "+name" (started) and "-name" (terminated). */
struct evlog {
    pthread_mutex_t mu;
    char buf[4096];
};
#define EVLOG_INIT {PTHREAD_MUTEX_INITIALIZER, ""}

static inline void evlog_add(struct evlog *l, char sign, const char *name)
{
    pthread_mutex_lock(&l->mu);
    size_t n = strlen(l->buf);
    snprintf(l->buf + n, sizeof l->buf - n, "%c%s ", sign, name);
    pthread_mutex_unlock(&l->mu);
}

static inline void evlog_take(struct evlog *l, char *out, size_t cap)
{
    pthread_mutex_lock(&l->mu);
    size_t n = strnlen(l->buf, cap - 1);
    memcpy(out, l->buf, n);
    out[n] = '\0';
    l->buf[0] = '\0';
    pthread_mutex_unlock(&l->mu);
}

/* Polls `cond` up to ~10 s of real time; evaluates to its final value. */
#define POLL_UNTIL(cond)                                                      \
    ({                                                                        \
        int ok_ = 0;                                                          \
        for (int i_ = 0; i_ < 50000; i_++) {                                  \
            if ((cond)) {                                                     \
                ok_ = 1;                                                      \
                break;                                                        \
            }                                                                 \
            tiny_nap();                                                       \
        }                                                                     \
        ok_;                                                                  \
    })

#endif
