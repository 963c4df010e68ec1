/* tickraft-ctl backfill: ask the node to backfill a stream's range over
 * the provider's REST API (admin RPC "backfill start ...", answered by the
 * node's pipeline). With --wait it polls "backfill status JOB" and draws a
 * progress bar when stderr is a terminal (docs/ctl.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pub_ctl.h"

const char ctl_backfill_help[] = "backfill a stream's range (seq or time) from the provider";

static const char *cell(const struct tr_client_table *t, const char *col)
{
    for (size_t c = 0; c < t->n_cols; c++)
        if (t->n_rows && strcmp(t->cols[c], col) == 0)
            return t->cells[c];
    return NULL;
}

static void bar(double pct)
{
    int w = 40, fill = (int)(pct / 100.0 * w);
    fprintf(stderr, "\r[");
    for (int i = 0; i < w; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %5.1f%%", pct);
    fflush(stderr);
}

static int wait_job(const struct ctl_common *o, const char *job)
{
    struct tr_client *c;
    int rc = ctl_client_open(o, &c);
    if (rc)
        return rc;
    int tty = isatty(2);
    for (;;) {
        const char *sa[] = {"status", job};
        struct tr_client_table t;
        struct tr_error err;
        tr_error_clear(&err);
        if ((rc = tr_client_admin(c, "backfill", sa, 2, &t, &err))) {
            rc = ctl_fail(o, rc, &err);
            break;
        }
        const char *state = cell(&t, "state"), *prog = cell(&t, "progress");
        int done = state && (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0);
        if (tty && prog)
            bar(atof(prog));
        if (done) {
            if (tty)
                fputc('\n', stderr);
            ctl_print_table(stdout, &t, o->json);
            rc = strcmp(state, "done") == 0 ? 0 : CTL_EXIT_FAIL;
            tr_client_table_free(&t);
            break;
        }
        tr_client_table_free(&t);
        nanosleep(&(struct timespec){0, 200000000}, NULL);
    }
    tr_client_close(c);
    return rc;
}

int ctl_backfill_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "backfill", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl backfill STREAM --from A --to B [--by seq|time] [--wait]"
               " [options]\n       tickraft-ctl backfill status JOB [options]\n\n%s.\n"
               "STREAM is provider/kind/instrument; times are ns or YYYY-MM-DDTHH:MM:SSZ.\n"
               "Recovered trades go to provider/trade.backfill/instrument.\n\n",
               ctl_backfill_help);
        ctl_common_help(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "status") == 0) { /* a job started earlier */
        const char *sa[] = {"status", argv[2]};
        return ctl_admin_print(&o, "backfill", sa, 2, NULL);
    }
    const char *stream = NULL, *from = NULL, *to = NULL, *by = "seq";
    int wait = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--from") == 0) {
            from = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--to") == 0) {
            to = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--by") == 0) {
            by = argv[++i];
        } else if (argv[i][0] != '-' && !stream) {
            stream = argv[i];
        } else {
            fprintf(stderr, "tickraft-ctl backfill: unexpected argument '%s'\n", argv[i]);
            return CTL_EXIT_USAGE;
        }
    }
    if (!stream || !from || !to || (strcmp(by, "seq") && strcmp(by, "time"))) {
        fprintf(stderr, "tickraft-ctl backfill: need STREAM --from A --to B [--by seq|time]\n");
        return CTL_EXIT_USAGE;
    }
    char fbuf[32], tbuf[32];
    int64_t a, b;
    if (strcmp(by, "time") == 0 ? (ctl_parse_time(from, &a) || ctl_parse_time(to, &b))
                                : (sscanf(from, "%ld", &a) != 1 || sscanf(to, "%ld", &b) != 1)) {
        fprintf(stderr, "tickraft-ctl backfill: bad range (seq numbers, or times as ns or "
                        "YYYY-MM-DDTHH:MM:SSZ)\n");
        return CTL_EXIT_USAGE;
    }
    snprintf(fbuf, sizeof fbuf, "%lld", (long long)a);
    snprintf(tbuf, sizeof tbuf, "%lld", (long long)b);
    const char *args[] = {"start", stream, by, fbuf, tbuf};
    struct tr_client_table t;
    rc = ctl_admin_print(&o, "backfill", args, 5, &t);
    if (rc)
        return rc;
    char job[64];
    const char *j = cell(&t, "job");
    snprintf(job, sizeof job, "%s", j ? j : "");
    tr_client_table_free(&t);
    if (!wait)
        return 0;
    if (!job[0]) {
        fprintf(stderr, "tickraft-ctl backfill: the node gave no job id to wait for\n");
        return CTL_EXIT_FAIL;
    }
    return wait_job(&o, job);
}
