/* Actor systems: the per-node name registry (URLs, per-name figures,
 * monitors), the real clock, and process-wide settings such as the run
 * directory for ipc sockets and the host program's path. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static uint64_t real_now(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_rand(void *ctx)
{
    (void)ctx;
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = real_now(NULL) * 0x9E3779B97F4A7C15ull; /* never fails in practice */
    return v;
}

static const struct tr_actor_clock real_clock = {
    TR_ACTOR_CLOCK_VERSION, NULL, real_now, real_rand,
};

const struct tr_actor_clock *tr_actor_clock_real(void)
{
    return &real_clock;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TR_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

static void default_host_path(char *buf, size_t cap)
{
    const char *bin = getenv("TR_BIN_DIR");
    if (bin && *bin) {
        snprintf(buf, cap, "%s/tickraft-actor-host", bin);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(buf, cap, "tickraft-actor-host");
        return;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    if (strlen(exe) + sizeof "/tickraft-actor-host" > cap) {
        snprintf(buf, cap, "tickraft-actor-host");
        return;
    }
    strcpy(buf, exe);
    strcat(buf, "/tickraft-actor-host");
}

int tr_system_alloc(const struct tr_system_opts *opts, struct tr_system **out,
                    struct tr_error *err)
{
    struct tr_system_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.name)
        o.name = "node";
    if (!valid_name(o.name) || strlen(o.name) >= 32)
        return tr_errorf(err, TR_EINVAL, "actor system: bad name '%s'", o.name);
    if (o.clock && o.clock->version != TR_ACTOR_CLOCK_VERSION)
        return tr_errorf(err, TR_EVERSION, "actor system: clock ops version %d", o.clock->version);
    struct tr_system *sys = calloc(1, sizeof *sys);
    if (!sys)
        return tr_errorf(err, TR_ENOMEM, "actor system: out of memory");
    snprintf(sys->name, sizeof sys->name, "%s", o.name);
    sys->clock = o.clock ? o.clock : &real_clock;
    if (o.run_dir)
        snprintf(sys->run_dir, sizeof sys->run_dir, "%s", o.run_dir);
    else
        snprintf(sys->run_dir, sizeof sys->run_dir, "/tmp/tickraft-%ld-%s", (long)getpid(), o.name);
    if (o.host_path)
        snprintf(sys->host_path, sizeof sys->host_path, "%s", o.host_path);
    else
        default_host_path(sys->host_path, sizeof sys->host_path);
    if (o.host_subcommand)
        snprintf(sys->host_subcommand, sizeof sys->host_subcommand, "%s", o.host_subcommand);
    pthread_mutex_init(&sys->mu, NULL);
    pthread_cond_init(&sys->threads_cv, NULL);
    *out = sys;
    return 0;
}

void tr_system_free(struct tr_system *sys)
{
    if (!sys)
        return;
    /* Abandoned (hung) actor threads still reference the system: wait for
     * them a bounded time; if one never returns, leak the system rather
     * than free memory under it. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&sys->mu);
    while (sys->live_threads > 0 &&
           pthread_cond_timedwait(&sys->threads_cv, &sys->mu, &until) == 0)
        ;
    int live = sys->live_threads;
    pthread_mutex_unlock(&sys->mu);
    if (live > 0)
        return;
    struct reg_entry *e = sys->entries;
    while (e) {
        struct reg_entry *n = e->next;
        for (size_t i = 0; i < e->n_watchers; i++)
            free(e->watchers[i]);
        free(e->watchers);
        free(e);
        e = n;
    }
    pthread_cond_destroy(&sys->threads_cv);
    pthread_mutex_destroy(&sys->mu);
    rmdir(sys->run_dir); /* only if empty: ipc sockets are unlinked by nng */
    free(sys);
}

const struct tr_actor_clock *tr_system_clock(const struct tr_system *sys)
{
    return sys->clock;
}

const char *tr_system_run_dir(const struct tr_system *sys)
{
    return sys->run_dir;
}

int tr_system_url(const struct tr_system *sys, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "inproc://tr.%s.%s", sys->name, name);
    return n < 0 || (size_t)n >= cap ? TR_ETOOBIG : 0;
}

int tr_system_ipc_url(const struct tr_system *sys, const char *name, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "ipc://%s/%s.sock", sys->run_dir, name);
    return n < 0 || (size_t)n >= cap || (size_t)n > 100 ? TR_ETOOBIG : 0;
}

struct reg_entry *reg_get(struct tr_system *sys, const char *name, int create)
{
    for (struct reg_entry *e = sys->entries; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    if (!create || !valid_name(name))
        return NULL;
    struct reg_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    tr_system_url(sys, name, e->url, sizeof e->url);
    e->next = sys->entries;
    sys->entries = e;
    return e;
}

int reg_resolve(struct tr_system *sys, const char *to, char *url, size_t cap, int *registered)
{
    *registered = 0;
    if (strstr(to, "://")) {
        if (strlen(to) >= cap)
            return TR_ETOOBIG;
        strcpy(url, to);
        return 0;
    }
    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = reg_get(sys, to, 0);
    if (e && e->is_loop)
        e = NULL; /* reached through its handle only (actor_loop.h) */
    if (e) {
        snprintf(url, cap, "%s", e->url);
        *registered = 1;
    }
    pthread_mutex_unlock(&sys->mu);
    return e ? 0 : TR_ENOTFOUND;
}

void reg_notify_locked(struct tr_system *sys, struct reg_entry *e, int event, int reason)
{
    for (size_t i = 0; i < e->n_watchers; i++) {
        struct reg_entry *w = reg_get(sys, e->watchers[i], 0);
        if (!w || !w->cur)
            continue;
        struct ctl_notice *n = calloc(1, sizeof *n);
        if (!n)
            continue; /* out of memory: the watcher misses one notice */
        snprintf(n->ev.name, sizeof n->ev.name, "%s", e->name);
        n->ev.event = event;
        n->ev.reason = reason;
        struct tr_actor *a = w->cur;
        pthread_mutex_lock(&a->mu);
        *a->notices_tail = n;
        a->notices_tail = &n->next;
        if (a->wake_ok)
            uv_async_send(&a->wake);
        pthread_mutex_unlock(&a->mu);
    }
}

int tr_actor_monitor(struct tr_actor *self, const char *name)
{
    if (self->is_client)
        return TR_EINVAL;
    struct tr_system *sys = self->sys;
    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = reg_get(sys, name, 1);
    int rc = e ? 0 : TR_EINVAL;
    for (size_t i = 0; e && i < e->n_watchers; i++)
        if (strcmp(e->watchers[i], self->name) == 0)
            goto out;
    if (e) {
        char **w = realloc(e->watchers, (e->n_watchers + 1) * sizeof *w);
        char *s = strdup(self->name);
        if (!w || !s) {
            free(s);
            if (w)
                e->watchers = w;
            rc = TR_ENOMEM;
            goto out;
        }
        e->watchers = w;
        w[e->n_watchers++] = s;
    }
out:
    pthread_mutex_unlock(&sys->mu);
    return rc;
}

static void fill_stats(const struct reg_entry *e, struct tr_actor_stats *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", e->name);
    snprintf(st->kind, sizeof st->kind, "%s", e->kind);
    st->mailbox_depth = atomic_load(&e->depth);
    st->mailbox_hwm = e->hwm;
    st->handled = atomic_load(&e->handled);
    st->dropped = atomic_load(&e->dropped);
    st->restarts = e->restarts;
    st->last_exit_reason = e->last_exit_reason;
    snprintf(st->last_restart_reason, sizeof st->last_restart_reason, "%s", e->last_restart_reason);
    st->running = e->running;
    st->is_process = e->is_process;
    st->pid = e->pid;
}

int tr_system_stats(struct tr_system *sys, const char *name, struct tr_actor_stats *out)
{
    pthread_mutex_lock(&sys->mu);
    struct reg_entry *e = reg_get(sys, name, 0);
    if (e)
        fill_stats(e, out);
    pthread_mutex_unlock(&sys->mu);
    return e ? 0 : TR_ENOTFOUND;
}

void tr_system_stats_foreach(struct tr_system *sys,
                             void (*cb)(void *arg, const struct tr_actor_stats *st), void *arg)
{
    pthread_mutex_lock(&sys->mu);
    for (struct reg_entry *e = sys->entries; e; e = e->next) {
        struct tr_actor_stats st;
        fill_stats(e, &st);
        cb(arg, &st);
    }
    pthread_mutex_unlock(&sys->mu);
}

/* Creates the run directory for ipc sockets (once; EEXIST is fine). */
int sys_ensure_run_dir(struct tr_system *sys);
int sys_ensure_run_dir(struct tr_system *sys)
{
    if (mkdir(sys->run_dir, 0700) != 0 && errno != EEXIST)
        return tr_err_from_errno(errno);
    return 0;
}
