/* Loop actors' internals (lact.c: incarnations and delivery; lsup.c: the
 * supervision policy). */
#ifndef TR_ACTORS_LACT_INTERNAL_H
#define TR_ACTORS_LACT_INTERNAL_H

#include "internal.h"
#include "tickraft/actor_loop.h"

#define LACT_BUDGET 256 /* messages handed to one actor per loop turn */

struct lmsg {
    struct lmsg *next;
    uint32_t type;
    size_t len;
    uint8_t data[];
};

/* L_FAILED: down (reported), its stop_cb not run yet */
enum lact_state { L_STOPPED, L_RUNNING, L_FAILED, L_WAITING, L_REMOVED };

struct tr_lact {
    struct tr_lsup *sup;
    struct tr_lact_spec spec;     /* spec.id points at id */
    char id[TR_NAME_MAX];
    enum lact_state st;
    void *state;
    int fail_code;
    char fail_why[64];
    int in_handler;
    int in_start;                 /* its start_cb runs */
    struct lmsg *head, *tail;
    uint32_t depth;
    uint64_t started_at, restart_at, last_delay_ms, incarnation;
    uint32_t attempt, restarts;
    int last_reason;
    struct reg_entry *reg;        /* the system's entry for id */
};

enum lsup_state { LS_RUNNING, LS_STOPPED, LS_ESCALATED };

struct tr_lsup {
    struct tr_system *sys;
    uv_loop_t *loop;
    char name[TR_NAME_MAX];
    enum tr_sup_strategy strategy;
    uint32_t intensity, period_ms;
    int manual;
    void (*escalate_cb)(void *arg, int reason);
    void *escalate_arg;
    struct tr_lact **kids;
    size_t n, cap;
    uint64_t *window;             /* restart times, oldest first */
    size_t nwin;
    enum lsup_state state;
    uv_async_t wake;              /* messages queued, failures reported */
    uv_timer_t timer;             /* the next restart due */
    int handles_left;             /* closing: close callbacks still to come */
    int in_step;
};

/* lact.c */
/* 0 running; < 0 its start failed (stopped); TR_ACTOR_STOP: start_cb had
 * nothing to do, its stop_cb has run (stopped, normal). */
int lact_start(struct tr_lact *a, uint64_t now);
/* Ends the running (or failed) incarnation: stop_cb, queued messages
 * dropped and counted, figures updated. */
void lact_stop(struct tr_lact *a, int reason);
/* Hands each actor with queued messages up to LACT_BUDGET; 1 if some are
 * left for the next turn. */
int lact_drain_all(struct tr_lsup *sup);
void lact_free(struct tr_lact *a);
/* lsup.c */
void lsup_wake(struct tr_lsup *sup);

#endif
