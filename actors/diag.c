/* The diagnostic actor kind "diag": echoes calls, counts messages and batch
 * items, and crashes or hangs on command. Tests and the benchmark run it as
 * a thread actor and as a process actor (tickraft-actor-host). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tickraft/actor_sup.h"

struct diag {
    uint64_t msgs, items;
};

static int diag_init(struct tr_actor *self, void *arg, void **state)
{
    (void)self;
    (void)arg;
    *state = calloc(1, sizeof(struct diag));
    return *state ? 0 : TR_ENOMEM;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int diag_handle(struct tr_actor *self, void *state, const struct tr_msg *msg)
{
    struct diag *d = state;
    d->msgs++;
    switch (msg->type) {
    case TR_DIAG_ECHO:
        tr_actor_reply(self, msg, msg->payload, msg->len);
        return 0;
    case TR_DIAG_SEGV:
        /* a parser dying on a hostile message; default action so that a
         * sanitizer's handler does not turn the signal into exit(1) */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
        return 0;
    case TR_DIAG_HANG:
        for (;;)
            pause();
    case TR_DIAG_BATCH: {
        uint32_t n;
        const uint8_t *items;
        size_t len;
        if (tr_batch_view(msg, &n, &items, &len) == 0)
            d->items += n;
        return 0;
    }
    case TR_DIAG_COUNT: {
        uint8_t b[16];
        put_be64(b, d->msgs - 1);
        put_be64(b + 8, d->items);
        tr_actor_reply(self, msg, b, sizeof b);
        return 0;
    }
    case TR_DIAG_EXIT:
        return TR_ACTOR_STOP;
    case TR_DIAG_FORWARD: {
        char url[256];
        if (msg->len == 0 || msg->len >= sizeof url)
            return 0;
        memcpy(url, msg->payload, msg->len);
        url[msg->len] = '\0';
        int rc = tr_actor_send(self, url, TR_DIAG_FORWARD + 100, "fwd", 3, 5000);
        if (msg->corr)
            rc ? tr_actor_reply_error(self, msg, rc) : tr_actor_reply(self, msg, NULL, 0);
        return 0;
    }
    default:
        return 0;
    }
}

static void diag_terminate(struct tr_actor *self, void *state, int reason)
{
    (void)self;
    (void)reason;
    free(state);
}

const struct tr_actor_def tr_actor_diag_def = {"diag", diag_init, diag_handle, diag_terminate};
