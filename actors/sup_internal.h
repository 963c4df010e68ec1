/* Supervisor internals shared by sup.c (policy) and sup_child.c (starting,
 * stopping and watching the three kinds of child). */
#ifndef TR_ACTORS_SUP_INTERNAL_H
#define TR_ACTORS_SUP_INTERNAL_H

#include "internal.h"

enum child_state { C_STOPPED, C_RUNNING, C_WAITING, C_REMOVED };

struct child {
    struct tr_child_spec spec;    /* pointers below point into this struct */
    char id[TR_NAME_MAX];
    char process_kind[32];
    char process_arg[512];
    struct tr_sup_spec sub_spec;  /* nested supervisor (children borrowed) */
    enum child_state state;
    /* the running incarnation: exactly one of these */
    struct tr_actor *inst;
    uint64_t inst_id;
    long pid;
    nng_socket ctl;
    int ctl_open;
    struct tr_sup *sub;
    uint64_t handled_base;
    /* restart policy */
    uint64_t started_at, restart_at, last_delay_ms;
    uint32_t attempt, restarts;
    int last_reason;
    uint64_t incarnation;
    /* heartbeat */
    int hb_out;
    uint64_t ping_seq, pong_seq, ping_at, next_ping;
};

struct sup_notice {
    struct sup_notice *next;
    uint64_t inst_id;            /* thread actor instance, or 0 */
    struct tr_sup *sub;          /* nested supervisor, or NULL */
    int reason;
};

enum sup_state { S_RUNNING, S_STOPPED, S_ESCALATED };

struct tr_sup {
    struct tr_system *sys;
    char name[TR_NAME_MAX];
    enum tr_sup_strategy strategy;
    uint32_t intensity, period_ms, tick_ms;
    int manual;
    struct tr_sup *parent;
    struct child **children;
    size_t n, cap;
    uint64_t *window;            /* restart times, oldest first */
    size_t nwin;
    pthread_mutex_t mu;          /* children and policy state */
    pthread_mutex_t nmu;         /* notices */
    pthread_cond_t cv;
    struct sup_notice *notices;
    _Atomic int stop_req;
    _Atomic int stopping;        /* >0 while waiting for a child to stop */
    _Atomic int wake_ok;
    enum sup_state state;
    int exit_code;
    int done;
    int has_thread;
    pthread_t th;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
};

/* sup_child.c */
int child_start(struct tr_sup *sup, struct child *c, struct tr_error *err);
/* Stops a running child per its shutdown spec; reason recorded for stats. */
void child_stop(struct tr_sup *sup, struct child *c);
/* Kills a hung child at once (SIGKILL or abandon). */
void child_kill_hung(struct tr_sup *sup, struct child *c);
/* Process children: reaps an exit; returns 1 and sets *reason if it died. */
int child_poll_exit(struct tr_sup *sup, struct child *c, int *reason);
/* Heartbeat: sends ping `seq` / returns 1 if pong for ping_seq arrived. */
void child_ping(struct tr_sup *sup, struct child *c);
int child_pong(struct tr_sup *sup, struct child *c);
/* Posts an exit notice to `sup` and wakes it (any thread). */
void sup_post_notice(struct tr_sup *sup, uint64_t inst_id, struct tr_sup *sub, int reason);
/* Internal start with a parent link (nested supervisors). */
int sup_start(struct tr_system *sys, const struct tr_sup_spec *spec, struct tr_sup *parent,
              struct tr_sup **out, struct tr_error *err);

#endif
