/* Durability: the group-commit sync thread, publishing durable and
 * committed LSNs, blocking waits, and notification eventfds.
 *
 * Why a sync thread (and not the caller's flush): a record must be
 * acknowledged within about one window even when the writer goes quiet
 * after it, and the writer should not stall for the fsync (0.2-1 ms here)
 * while it could be compressing the next batch. The thread sleeps while
 * nothing is unsynced; the first append after a quiet period wakes it and
 * is synced at once; under load it syncs once per window (or earlier past
 * group_commit_bytes). The fsync runs without the writer lock, so appends
 * continue during it; sync_mu keeps a roll from closing the fd under it.
 *
 * group_commit_ms = 0 is leader/follower group commit: the thread syncs
 * as soon as anything is unsynced, and whatever is appended while one fsync
 * runs goes into the next one. The fsync's own cost (~0.2 ms here) then
 * sets the batch size, so a record waits at most about two fsyncs. A
 * floor of MIN_GAP_NS between the starts of two syncs keeps a device whose
 * fsync is nearly free (tmpfs, a fast NVMe) from thrashing the writer lock
 * with one-record blocks; on a disk it never bites. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MIN_GAP_NS 100000u /* window 0: at most one sync per 100 us */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec abs_time(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    return ts;
}

void publish_lsns(struct tr_log *log, uint64_t written, uint64_t durable, int synced)
{
    uint64_t cb_lsn = 0;
    pthread_mutex_lock(&log->mu);
    if (written > log->written_lsn) {
        log->written_lsn = written;
        pthread_cond_broadcast(&log->wcv);
    }
    if (synced) {
        log->syncs++;
        /* after a failed fsync nothing more is vouched for, not even by an
         * overlapping fsync that returned 0 (sync_threads > 1) */
        if (durable > log->durable_lsn && !log->sync_err) {
            log->durable_lsn = cb_lsn = durable;
            log->durable_at_ns = now_realtime_ns();
        }
    }
    uint64_t c = log->o.sync == TR_LOG_SYNC_NONE ? log->written_lsn : log->durable_lsn;
    if (c > log->committed_lsn) {
        log->committed_lsn = c;
        uint64_t one = 1;
        for (int i = 0; i < MAX_NOTIFY_FDS; i++)
            if (log->notify_fds[i] >= 0 && write(log->notify_fds[i], &one, 8) < 0) {
                /* EAGAIN: the counter is saturated, the fd is readable anyway */
            }
    }
    pthread_cond_broadcast(&log->cv);
    pthread_mutex_unlock(&log->mu);
    if (cb_lsn && log->o.durable_cb)
        log->o.durable_cb(log->o.durable_arg, cb_lsn);
}

int do_fsync(struct tr_log *log, int fd, struct tr_error *err)
{
    int r = log->fs->fsync(log->fs->ctx, fd);
    if (r == 0)
        return 0;
    /* After a failed fsync the kernel may have dropped the dirty pages:
     * nothing unsynced can be trusted, so the log stops taking appends. */
    pthread_mutex_lock(&log->mu);
    log->sync_err = TR_EIO;
    pthread_cond_broadcast(&log->cv);
    pthread_mutex_unlock(&log->mu);
    return tr_errorf(err, TR_EIO, "fsync segment: %s (records not yet durable may be lost; "
                     "the log refuses appends until reopened)", strerror(-r));
}

/* Something to sync that no fsync started yet covers. Caller holds wmu. */
static int dirty(struct tr_log *log)
{
    pthread_mutex_lock(&log->mu);
    int d = !log->sync_err && (log->raw_len > 0 || log->written_lsn > log->sync_started_lsn);
    pthread_mutex_unlock(&log->mu);
    return d;
}

/* The fd worker `w` fsyncs: its own on the active segment when several
 * sync threads run (reopened after a roll), else the log's, under sync_mu
 * (*shared = 1). Own fds because Linux reports a writeback error once per
 * open file: two fsyncs racing on one fd could hand the error to the later
 * one and 0 to the earlier one, whose range the lost pages were in. Each
 * fd opened before the data it covers was written sees every error
 * after that. Caller holds wmu. */
static int worker_fd(struct tr_log *log, struct sync_worker *w, int *shared)
{
    if (log->n_sync > 1 && (w->fd < 0 || w->seg_id != log->active_id)) {
        if (w->fd >= 0)
            close(w->fd);
        char path[4096];
        seg_path(log, log->active_id, "seg", path, sizeof path);
        w->fd = log->fs->open(log->fs->ctx, path, O_WRONLY | O_CLOEXEC, 0);
        w->seg_id = log->active_id;
        /* open failed (EMFILE...): fall back to the shared fd, serialised */
    }
    *shared = log->n_sync == 1 || w->fd < 0;
    if (!*shared)
        return w->fd;
    pthread_mutex_lock(&log->sync_mu);
    return log->fd;
}

static void *sync_main(void *arg)
{
    struct sync_worker *w = arg;
    struct tr_log *log = w->log;
    unsigned id = (unsigned)(w - log->sync_w);
    char name[16];
    snprintf(name, sizeof name, "tr-sync%u", id);
    pthread_setname_np(pthread_self(), name); /* per-thread CPU in top, the bench */
    if (log->o.thread_cb)
        log->o.thread_cb(log->o.thread_arg, "sync", id);
    uint64_t window = log->o.group_commit_ms ? (uint64_t)log->o.group_commit_ms * 1000000u
                                             : MIN_GAP_NS;
    pthread_mutex_lock(&log->wmu);
    while (!log->sync_stop) {
        if (!dirty(log)) {
            log->sync_idle++;
            pthread_cond_wait(&log->sync_cv, &log->wmu);
            log->sync_idle--;
            continue;
        }
        uint64_t now = mono_ns();
        if (now < log->last_sync_ns + window && log->unsynced_bytes < log->o.group_commit_bytes) {
            struct timespec ts = abs_time(log->last_sync_ns + window);
            pthread_cond_timedwait(&log->sync_cv, &log->wmu, &ts);
            continue;
        }
        log->last_sync_ns = now;
        if (log->raw_len && write_raw(log, log->raw_len, NULL) != 0) {
            /* Disk full: retry after a window, and not more than every 10 ms. */
            struct timespec ts = abs_time(now + (window > 10000000u ? window : 10000000u));
            pthread_cond_timedwait(&log->sync_cv, &log->wmu, &ts);
            continue;
        }
        /* Everything up to `target` is in the file now; this fsync covers
         * it (POSIX: data written before fdatasync starts; Linux also waits
         * for writeback another fsync started). So the durable LSN may move
         * to `target` when it returns 0, even if an fsync started earlier
         * is still running: max() in publish_lsns. */
        uint64_t target = log->written_lsn;
        log->sync_started_lsn = target;
        log->unsynced_bytes = 0; /* counts bytes no started fsync covers */
        int shared;
        int fd = worker_fd(log, w, &shared);
        pthread_mutex_unlock(&log->wmu);
        int rc = do_fsync(log, fd, NULL);
        if (shared)
            pthread_mutex_unlock(&log->sync_mu);
        if (rc == 0)
            publish_lsns(log, target, target, 1);
        pthread_mutex_lock(&log->wmu);
        if (rc == 0)
            prezero_ahead(log);
    }
    pthread_mutex_unlock(&log->wmu);
    return NULL;
}

int sync_start(struct tr_log *log, struct tr_error *err)
{
    unsigned n = log->o.sync_threads ? log->o.sync_threads : 1;
    log->sync_started_lsn = log->written_lsn;
    for (unsigned i = 0; i < n; i++) {
        struct sync_worker *w = &log->sync_w[i];
        w->log = log;
        w->fd = -1;
        w->seg_id = 0;
        /* n_sync is final before any thread runs: they read it */
    }
    log->n_sync = n;
    for (unsigned i = 0; i < n; i++) {
        int r = pthread_create(&log->sync_w[i].th, NULL, sync_main, &log->sync_w[i]);
        if (r) {
            pthread_mutex_lock(&log->wmu);
            log->n_sync = i; /* stop and join the ones that run */
            pthread_mutex_unlock(&log->wmu);
            sync_stop(log);
            return tr_errorf(err, TR_ENOMEM, "start sync thread: %s", strerror(r));
        }
    }
    return 0;
}

void sync_stop(struct tr_log *log)
{
    if (!log->n_sync)
        return;
    pthread_mutex_lock(&log->wmu);
    log->sync_stop = 1;
    pthread_cond_broadcast(&log->sync_cv);
    pthread_mutex_unlock(&log->wmu);
    for (unsigned i = 0; i < log->n_sync; i++) {
        pthread_join(log->sync_w[i].th, NULL);
        if (log->sync_w[i].fd >= 0)
            close(log->sync_w[i].fd);
        log->sync_w[i].fd = -1;
    }
    log->n_sync = 0;
}

int sync_kick_wanted(struct tr_log *log)
{
    return log->sync_idle || log->unsynced_bytes >= log->o.group_commit_bytes;
}

void sync_kick(struct tr_log *log)
{
    pthread_cond_signal(&log->sync_cv);
}

/* Waits on log->cv until `done` or the deadline; caller holds mu. */
static int wait_until(struct tr_log *log, int timeout_ms, uint64_t deadline)
{
    if (timeout_ms < 0) {
        pthread_cond_wait(&log->cv, &log->mu);
        return 0;
    }
    if (mono_ns() >= deadline)
        return TR_ETIMEDOUT;
    struct timespec ts = abs_time(deadline);
    pthread_cond_timedwait(&log->cv, &log->mu, &ts);
    return 0;
}

int tr_log_wait_durable(struct tr_log *log, uint64_t lsn, int timeout_ms)
{
    uint64_t deadline = mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    int rc = 0;
    pthread_mutex_lock(&log->mu);
    while (log->durable_lsn < lsn && rc == 0) {
        if (log->sync_err)
            rc = TR_EIO;
        else if (log->nospace)
            rc = TR_ENOSPACE;
        else if (log->closing)
            rc = TR_ECLOSED;
        else
            rc = wait_until(log, timeout_ms, deadline);
    }
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int tr_log_wait_committed(struct tr_log *log, uint64_t after_lsn, int timeout_ms)
{
    uint64_t deadline = mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    int rc = 0;
    pthread_mutex_lock(&log->mu);
    while (log->committed_lsn <= after_lsn && rc == 0)
        rc = log->closing ? TR_ECLOSED : wait_until(log, timeout_ms, deadline);
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int tr_log_wait_appended(struct tr_log *log, uint64_t after_lsn, int timeout_ms)
{
    uint64_t deadline = mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    int rc = 0;
    /* counted before looking (seq_cst, as the append stores appended_lsn
     * before it loads live_waiting): an append either sees this waiter or
     * is seen by it, so no wake is lost */
    atomic_fetch_add(&log->live_waiting, 1);
    pthread_mutex_lock(&log->mu);
    /* after a failed write or fsync what is still in raw may stay there:
     * wait for written records then, or a reader would spin on them */
    while ((log->sync_err || log->nospace ? log->written_lsn : atomic_load(&log->appended_lsn)) <=
               after_lsn && rc == 0) {
        if (log->closing) {
            rc = TR_ECLOSED;
        } else if (timeout_ms < 0) {
            pthread_cond_wait(&log->wcv, &log->mu);
        } else if (mono_ns() >= deadline) {
            rc = TR_ETIMEDOUT;
        } else {
            struct timespec ts = abs_time(deadline);
            pthread_cond_timedwait(&log->wcv, &log->mu, &ts);
        }
    }
    pthread_mutex_unlock(&log->mu);
    atomic_fetch_sub(&log->live_waiting, 1);
    return rc;
}

int tr_log_notify_fd_open(struct tr_log *log, int *fd, struct tr_error *err)
{
    int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e < 0)
        return tr_errorf(err, tr_err_from_errno(errno), "eventfd: %s", strerror(errno));
    pthread_mutex_lock(&log->mu);
    for (int i = 0; i < MAX_NOTIFY_FDS; i++) {
        if (log->notify_fds[i] < 0) {
            log->notify_fds[i] = e;
            pthread_mutex_unlock(&log->mu);
            *fd = e;
            return 0;
        }
    }
    pthread_mutex_unlock(&log->mu);
    close(e);
    return tr_errorf(err, TR_EOVERLOADED, "already %d notification fds", MAX_NOTIFY_FDS);
}

void tr_log_notify_fd_close(struct tr_log *log, int fd)
{
    pthread_mutex_lock(&log->mu);
    for (int i = 0; i < MAX_NOTIFY_FDS; i++) {
        if (log->notify_fds[i] == fd) {
            log->notify_fds[i] = -1;
            close(fd);
        }
    }
    pthread_mutex_unlock(&log->mu);
}
