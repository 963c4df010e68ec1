/* Starting, stopping and watching a supervisor's children: thread actors
 * (this process), process actors (the host program, fork+exec via
 * posix_spawn, control channel over an nng pair socket on ipc://), and
 * nested supervisors. */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sup_internal.h"

extern char **environ;
int sys_ensure_run_dir(struct tr_system *sys);

#define READY_TIMEOUT_MS 10000
#define BRUTAL_WAIT_MS 2000

static void nap(void)
{
    struct timespec ts = {0, 500000};
    nanosleep(&ts, NULL);
}

static uint64_t mono_ns(void)
{
    return clk_now(tr_actor_clock_real());
}

static void thread_exit_cb(void *arg, struct tr_actor *a, int reason)
{
    sup_post_notice(arg, a->instance, NULL, reason);
}

static void reg_process(struct tr_sup *sup, struct child *c, const char *url, int up)
{
    pthread_mutex_lock(&sup->sys->mu);
    struct reg_entry *e = reg_get(sup->sys, c->id, 1);
    if (e) {
        if (up) {
            e->is_process = 1;
            e->pid = c->pid;
            e->running = 1;
            snprintf(e->url, sizeof e->url, "%s", url);
            snprintf(e->kind, sizeof e->kind, "%s", c->process_kind);
            c->handled_base = atomic_load(&e->handled);
            reg_notify_locked(sup->sys, e, TR_LIFECYCLE_UP, 0);
        } else if (e->running) {
            e->running = 0;
            e->pid = 0;
            atomic_store(&e->depth, 0);
            e->last_exit_reason = c->last_reason;
            reg_notify_locked(sup->sys, e, TR_LIFECYCLE_DOWN, c->last_reason);
        }
    }
    pthread_mutex_unlock(&sup->sys->mu);
}

static int ctl_send(struct child *c, uint32_t type, uint64_t corr)
{
    nng_msg *m;
    int rc = env_build(&m, type, "", corr, NULL, 0);
    if (rc)
        return rc;
    int rv = nng_sendmsg(c->ctl, m, NNG_FLAG_NONBLOCK);
    if (rv)
        nng_msg_free(m);
    return tr_err_from_nng(rv);
}

static int process_start(struct tr_sup *sup, struct child *c, struct tr_error *err)
{
    struct tr_system *sys = sup->sys;
    char url[TR_URL_MAX], ctl[TR_URL_MAX], parent[32];
    int rc = sys_ensure_run_dir(sys);
    if (rc)
        return tr_errorf(err, rc, "run dir %s", sys->run_dir);
    if (tr_system_ipc_url(sys, c->id, url, sizeof url) ||
        snprintf(ctl, sizeof ctl, "ipc://%s/%s.ctl", sys->run_dir, c->id) > 100)
        return tr_errorf(err, TR_ETOOBIG, "ipc path for %s too long", c->id);
    unlink(ctl + 6);
    int rv = nng_pair0_open(&c->ctl);
    if (rv == 0 && (rv = nng_listen(c->ctl, ctl, NULL, 0)) != 0)
        nng_close(c->ctl);
    if (rv)
        return tr_errorf(err, tr_err_from_nng(rv), "control socket %s: %s", ctl, nng_strerror(rv));
    c->ctl_open = 1;
    snprintf(parent, sizeof parent, "%ld", (long)getpid());
    char hwm[16];
    snprintf(hwm, sizeof hwm, "%u", c->spec.start.opts.mailbox_hwm ? c->spec.start.opts.mailbox_hwm : 1024);
    char *args[] = {sys->host_path, sys->host_subcommand, "--kind", c->process_kind, "--name",
                    c->id, "--url", url, "--ctl", ctl, "--arg", c->process_arg, "--parent", parent,
                    "--hwm", hwm, "--run-dir", sys->run_dir, NULL};
    char **argv = args;
    if (!sys->host_subcommand[0]) { /* no subcommand: drop that slot */
        args[1] = args[0];
        argv = args + 1;
    }
    pid_t pid;
    rv = posix_spawn(&pid, sys->host_path, NULL, NULL, argv, environ);
    if (rv) {
        nng_close(c->ctl);
        c->ctl_open = 0;
        return tr_errorf(err, tr_err_from_errno(rv), "spawn %s: %s", sys->host_path, strerror(rv));
    }
    c->pid = pid;
    /* wait for READY: the host listens on its mailbox before it says so */
    nng_socket_set_ms(c->ctl, NNG_OPT_RECVTIMEO, READY_TIMEOUT_MS);
    nng_msg *m = NULL;
    rv = nng_recvmsg(c->ctl, &m, 0);
    struct tr_msg msg;
    char sender[TR_URL_MAX];
    int ok = rv == 0 && env_parse(nng_msg_body(m), nng_msg_len(m), &msg, sender, sizeof sender) == 0 &&
             msg.type == TR_CTL_READY;
    if (m)
        nng_msg_free(m);
    if (!ok) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        c->pid = 0;
        nng_close(c->ctl);
        c->ctl_open = 0;
        return tr_errorf(err, TR_EPROTO, "process actor %s (%s) did not become ready", c->id,
                         c->process_kind);
    }
    reg_process(sup, c, url, 1);
    return 0;
}

int child_start(struct tr_sup *sup, struct child *c, struct tr_error *err)
{
    int rc;
    const struct tr_child_start *s = &c->spec.start;
    if (s->sup) {
        struct tr_sup_spec sub = *s->sup;
        sub.manual = sup->manual;
        if (!sub.name)
            sub.name = c->id;
        rc = sup_start(sup->sys, &sub, sup, &c->sub, err);
    } else if (s->process_kind) {
        rc = process_start(sup, c, err);
    } else {
        rc = actor_spawn(sup->sys, c->id, s->def, s->arg, &s->opts, NULL, thread_exit_cb, sup,
                         &c->inst, err);
        if (rc == 0)
            c->inst_id = c->inst->instance;
    }
    if (rc)
        return rc;
    uint64_t now = clk_now(sup->sys->clock);
    c->state = C_RUNNING;
    c->started_at = now;
    c->incarnation++;
    c->hb_out = 0;
    c->next_ping = now + (uint64_t)c->spec.heartbeat_ms * MS_NS;
    return 0;
}

static void process_reaped(struct tr_sup *sup, struct child *c, int reason)
{
    c->last_reason = reason;
    c->pid = 0;
    if (c->ctl_open)
        nng_close(c->ctl);
    c->ctl_open = 0;
    reg_process(sup, c, NULL, 0);
}

static int status_reason(int st)
{
    if (WIFSIGNALED(st))
        return TR_EXIT_SIGNAL(WTERMSIG(st));
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        return TR_EXIT_STATUS(WEXITSTATUS(st));
    return TR_EXIT_NORMAL;
}

int child_poll_exit(struct tr_sup *sup, struct child *c, int *reason)
{
    int st;
    if (waitpid((pid_t)c->pid, &st, WNOHANG) != (pid_t)c->pid)
        return 0;
    *reason = status_reason(st);
    process_reaped(sup, c, *reason);
    return 1;
}

/* Waits for the process up to `deadline` on the injected clock (0: forever). */
static int process_wait(struct tr_sup *sup, struct child *c, uint64_t deadline, int *st)
{
    for (;;) {
        if (waitpid((pid_t)c->pid, st, WNOHANG) == (pid_t)c->pid)
            return 1;
        if (deadline && clk_now(sup->sys->clock) >= deadline)
            return 0;
        nap();
    }
}

static void process_stop(struct tr_sup *sup, struct child *c, uint64_t t0)
{
    int st = 0, reason = TR_EXIT_SHUTDOWN;
    int asked = c->spec.shutdown != TR_SHUTDOWN_BRUTAL_KILL && ctl_send(c, TR_MSG_STOP, 0) == 0;
    atomic_fetch_add(&sup->stopping, 1); /* visible once the stop is requested */
    if (asked) {
        uint64_t deadline = c->spec.shutdown == TR_SHUTDOWN_INFINITY
                                ? 0
                                : t0 + (uint64_t)c->spec.shutdown_ms * MS_NS;
        if (process_wait(sup, c, deadline, &st)) {
            process_reaped(sup, c, status_reason(st) == TR_EXIT_NORMAL ? TR_EXIT_SHUTDOWN : status_reason(st));
            return;
        }
    }
    kill((pid_t)c->pid, SIGKILL);
    waitpid((pid_t)c->pid, &st, 0);
    reason = TR_EXIT_KILLED;
    process_reaped(sup, c, reason);
}

/* Waits for a thread actor to finish: until `deadline` on the injected
 * clock, and (brutal) at most BRUTAL_WAIT_MS of real time. */
static int thread_wait(struct tr_sup *sup, struct tr_actor *a, uint64_t deadline, int brutal)
{
    uint64_t real_end = mono_ns() + (uint64_t)BRUTAL_WAIT_MS * MS_NS;
    while (!actor_finished(a)) {
        if (deadline && clk_now(sup->sys->clock) >= deadline)
            return 0;
        if (brutal && mono_ns() >= real_end)
            return 0;
        nap();
    }
    return 1;
}

static void thread_stop(struct tr_sup *sup, struct child *c, uint64_t t0)
{
    struct tr_actor *a = c->inst;
    int brutal = c->spec.shutdown == TR_SHUTDOWN_BRUTAL_KILL;
    uint64_t deadline = c->spec.shutdown == TR_SHUTDOWN_TIMEOUT
                            ? t0 + (uint64_t)c->spec.shutdown_ms * MS_NS
                            : 0;
    tr_actor_stop(a, !brutal);
    atomic_fetch_add(&sup->stopping, 1); /* visible once the stop is requested */
    if (thread_wait(sup, a, deadline, brutal) || !actor_abandon(a)) {
        c->last_reason = tr_actor_join(a);
    } else {
        c->last_reason = TR_EXIT_KILLED; /* abandoned: it frees itself */
    }
    c->inst = NULL;
}

void child_stop(struct tr_sup *sup, struct child *c)
{
    /* the bound starts before anyone can see that we are stopping */
    uint64_t t0 = clk_now(sup->sys->clock);
    if (c->inst) {
        thread_stop(sup, c, t0);
    } else if (c->pid) {
        process_stop(sup, c, t0);
    } else if (c->sub) {
        tr_sup_stop(c->sub);
        atomic_fetch_add(&sup->stopping, 1);
        tr_sup_wait(c->sub);
        tr_sup_free(c->sub);
        c->sub = NULL;
        c->last_reason = TR_EXIT_SHUTDOWN;
    } else {
        atomic_fetch_add(&sup->stopping, 1); /* nothing running: keep the count even */
    }
    c->hb_out = 0;
    atomic_fetch_sub(&sup->stopping, 1);
}

void child_kill_hung(struct tr_sup *sup, struct child *c)
{
    if (c->inst) {
        if (!actor_abandon(c->inst))
            tr_actor_join(c->inst); /* it finished meanwhile */
        c->inst = NULL;
    } else if (c->pid) {
        int st;
        kill((pid_t)c->pid, SIGKILL);
        waitpid((pid_t)c->pid, &st, 0);
        process_reaped(sup, c, TR_EXIT_HUNG);
    }
    c->hb_out = 0;
}

void child_ping(struct tr_sup *sup, struct child *c)
{
    (void)sup;
    if (c->inst) {
        atomic_store(&c->inst->ping, c->ping_seq);
        actor_wake(c->inst);
    } else if (c->pid) {
        ctl_send(c, TR_CTL_PING, c->ping_seq);
    }
}

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int child_pong(struct tr_sup *sup, struct child *c)
{
    if (c->inst)
        return atomic_load(&c->inst->pong) >= c->ping_seq;
    if (!c->pid)
        return 1;
    nng_msg *m;
    while (nng_recvmsg(c->ctl, &m, NNG_FLAG_NONBLOCK) == 0) {
        struct tr_msg msg;
        char sender[TR_URL_MAX];
        if (env_parse(nng_msg_body(m), nng_msg_len(m), &msg, sender, sizeof sender) == 0 &&
            msg.type == TR_CTL_PONG) {
            if (msg.corr > c->pong_seq)
                c->pong_seq = msg.corr;
            if (msg.len == 12) { /* depth u32, handled u64: the host's figures */
                pthread_mutex_lock(&sup->sys->mu);
                struct reg_entry *e = reg_get(sup->sys, c->id, 0);
                if (e) {
                    atomic_store(&e->depth, (uint32_t)(be64(msg.payload) >> 32));
                    atomic_store(&e->handled, c->handled_base + be64(msg.payload + 4));
                }
                pthread_mutex_unlock(&sup->sys->mu);
            }
        }
        nng_msg_free(m);
    }
    return c->pong_seq >= c->ping_seq;
}
