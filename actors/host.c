/* The host side of a process actor: tr_actor_host_main runs one actor in a
 * fresh process (exec'd, never just forked: nng panics in a forked child of
 * a process that initialised it). It listens on the ipc:// URL it was given,
 * dials the supervisor's control socket, says READY, answers heartbeats
 * from its actor's loop (so a hung handler stops the pongs), and drains
 * and exits on STOP. It exits within 100 ms of its parent's death. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct host_args {
    const char *kind, *name, *url, *ctl, *arg, *run_dir;
    long parent;
    uint32_t hwm;
};

static int parse(int argc, char **argv, struct host_args *h)
{
    memset(h, 0, sizeof *h);
    h->arg = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--kind")) h->kind = v;
        else if (!strcmp(k, "--name")) h->name = v;
        else if (!strcmp(k, "--url")) h->url = v;
        else if (!strcmp(k, "--ctl")) h->ctl = v;
        else if (!strcmp(k, "--arg")) h->arg = v;
        else if (!strcmp(k, "--run-dir")) h->run_dir = v;
        else if (!strcmp(k, "--parent")) h->parent = strtol(v, NULL, 10);
        else if (!strcmp(k, "--hwm")) h->hwm = (uint32_t)strtoul(v, NULL, 10);
        else return -1;
    }
    return h->kind && h->name && h->url && h->ctl ? 0 : -1;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int ctl_reply(nng_socket s, uint32_t type, uint64_t corr, const void *pl, size_t len)
{
    nng_msg *m;
    if (env_build(&m, type, "", corr, pl, len) != 0)
        return -1;
    if (nng_sendmsg(s, m, 0) != 0) {
        nng_msg_free(m);
        return -1;
    }
    return 0;
}

/* Answers a ping once the actor's loop has turned (or never, if it hangs). */
static void answer_ping(nng_socket ctl, struct tr_actor *a, uint64_t seq, pid_t parent)
{
    atomic_store(&a->ping, seq);
    actor_wake(a);
    struct timespec ts = {0, 100000};
    while (atomic_load(&a->pong) < seq) {
        if (actor_finished(a))
            return;
        if (parent && getppid() != parent)
            _exit(1); /* hung and orphaned: nobody will ever kill us */
        nanosleep(&ts, NULL);
    }
    uint8_t pl[12];
    put_be(pl, atomic_load(&a->reg->depth), 4);
    put_be(pl + 4, atomic_load(&a->reg->handled), 8);
    ctl_reply(ctl, TR_CTL_PONG, seq, pl, sizeof pl);
}

static void serve_ctl(nng_socket ctl, struct tr_actor *a, pid_t parent)
{
    nng_socket_set_ms(ctl, NNG_OPT_RECVTIMEO, 100);
    for (;;) {
        nng_msg *m;
        int rv = nng_recvmsg(ctl, &m, 0);
        if (rv == NNG_ETIMEDOUT) {
            if (actor_finished(a))
                return;
            if (parent && getppid() != parent) {
                tr_actor_stop(a, 0); /* the node died: do not outlive it */
                return;
            }
            continue;
        }
        if (rv) {
            tr_actor_stop(a, 1); /* control channel gone: the supervisor is gone */
            return;
        }
        struct tr_msg msg;
        char sender[TR_URL_MAX];
        int ok = env_parse(nng_msg_body(m), nng_msg_len(m), &msg, sender, sizeof sender) == 0;
        uint32_t type = ok ? msg.type : 0;
        uint64_t corr = ok ? msg.corr : 0;
        nng_msg_free(m);
        if (type == TR_CTL_PING) {
            answer_ping(ctl, a, corr, parent);
        } else if (type == TR_MSG_STOP) {
            tr_actor_stop(a, 1);
            return;
        }
    }
}

int tr_actor_host_main(int argc, char **argv, const struct tr_actor_def *const *kinds)
{
    struct host_args h;
    if (parse(argc, argv, &h) != 0) {
        fprintf(stderr, "usage: %s --kind K --name N --url ipc://... --ctl ipc://... "
                        "[--arg S] [--parent PID] [--hwm N] [--run-dir D]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Not PR_SET_PDEATHSIG: it fires when the spawning *thread* exits (a
     * child actor that called tr_sup_start_child, say), not the node. The
     * control loop checks getppid() every 100 ms instead. */
    if (h.parent && getppid() != (pid_t)h.parent)
        return 1; /* the parent died before we could watch it */
    const struct tr_actor_def *def = NULL;
    for (size_t i = 0; kinds && kinds[i]; i++)
        if (kinds[i]->kind && strcmp(kinds[i]->kind, h.kind) == 0)
            def = kinds[i];
    if (!def) {
        fprintf(stderr, "%s: unknown actor kind '%s'\n", argv[0], h.kind);
        return 2;
    }
    struct tr_error err;
    tr_error_clear(&err);
    struct tr_system *sys;
    struct tr_system_opts so = {.name = "host", .run_dir = h.run_dir};
    if (tr_system_alloc(&so, &sys, &err) != 0) {
        fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        return 1;
    }
    nng_socket ctl;
    int rv = nng_pair0_open(&ctl);
    if (rv == 0)
        rv = nng_dial(ctl, h.ctl, NULL, 0);
    struct tr_actor *a = NULL;
    struct tr_actor_opts opts = {.mailbox_hwm = h.hwm};
    int rc = rv ? TR_EIO : actor_spawn(sys, h.name, def, (void *)h.arg, &opts, h.url, NULL, NULL, &a, &err);
    if (rc || ctl_reply(ctl, TR_CTL_READY, 0, NULL, 0) != 0) {
        fprintf(stderr, "%s: %s: start failed: %s\n", argv[0], h.name, rv ? nng_strerror(rv) : err.msg);
        if (a) {
            tr_actor_stop(a, 0);
            tr_actor_join(a);
        }
        nng_close(ctl);
        tr_system_free(sys);
        return 1;
    }
    serve_ctl(ctl, a, (pid_t)h.parent);
    int reason = tr_actor_join(a);
    nng_close(ctl);
    tr_system_free(sys);
    return tr_exit_is_normal(reason) ? 0 : 1;
}
