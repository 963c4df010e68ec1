/* tickraft-ctl tail: follow live events through the client SDK, with the
 * SDK's failover across --node URLs (docs/ctl.md). Prints one line per
 * event (human columns, or JSON lines with --json); on Ctrl-C or after
 * --count events prints the resume cursor on stderr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pub_ctl.h"

const char ctl_tail_help[] = "follow live events (filters, from latest/earliest/time/cursor)";

/* The one subscription Ctrl-C must stop (a signal handler has no argument). */
static struct tr_client_sub *volatile g_sub;

static void on_sigint(int sig)
{
    (void)sig;
    if (g_sub)
        tr_client_sub_stop(g_sub);
}

static void usage(void)
{
    printf("usage: tickraft-ctl tail [--provider G] [--kind G] [--instrument G]\n"
           "                        [--earliest | --since TIME | --cursor HEX] [--count N]\n"
           "                        [--live] [options]\n\n%s.\nG are globs; TIME is ns or "
           "YYYY-MM-DDTHH:MM:SSZ.\n--live: events as soon as the node has written them, before "
           "they are durable\n(lower latency; a node crash may lose events already shown: "
           "docs/sdk.md \"Live\nsubscriptions\"). Needs a node speaking protocol 1.2.\n\n",
           ctl_tail_help);
    ctl_common_help(stdout);
}

static void ctl_print_event(FILE *out, const struct tr_client_msg *m, int json, struct tr_buf *tmp)
{
    if (json) {
        tmp->len = 0;
        if (tr_event_to_json(&m->ev, tmp) == 0)
            fprintf(out, "%.*s\n", (int)tmp->len, (const char *)tmp->data);
        return;
    }
    char px[64] = "-", sz[64] = "-";
    if (m->ev.fields & TR_F_PRICE)
        tr_decimal_format(m->ev.price, px);
    if (m->ev.fields & TR_F_SIZE)
        tr_decimal_format(m->ev.size, sz);
    const char *side = tr_side_name(m->ev.side);
    fprintf(out, "%-32s %12llu %20lld %14s %14s %s\n", m->stream, (unsigned long long)m->seq,
            (long long)m->ts_ns, px, sz, side ? side : "-");
}

int ctl_tail_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "tail", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        usage();
        return 0;
    }
    struct tr_client_sub_options so = {.start = TR_CLIENT_START_LATEST};
    struct tr_buf cur;
    tr_buf_init(&cur);
    long long count = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--earliest") == 0) {
            so.start = TR_CLIENT_START_EARLIEST;
            continue;
        }
        if (strcmp(a, "--live") == 0) {
            so.live = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "tickraft-ctl tail: unexpected argument '%s'\n", a);
            return CTL_EXIT_USAGE;
        }
        i++;
        if (strcmp(a, "--provider") == 0) {
            so.provider = v;
        } else if (strcmp(a, "--kind") == 0) {
            so.kind = v;
        } else if (strcmp(a, "--instrument") == 0) {
            so.instrument = v;
        } else if (strcmp(a, "--count") == 0) {
            count = atoll(v);
        } else if (strcmp(a, "--since") == 0) {
            so.start = TR_CLIENT_START_TIME;
            if (ctl_parse_time(v, &so.start_ts)) {
                fprintf(stderr, "tickraft-ctl tail: bad time '%s'\n", v);
                return CTL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--cursor") == 0) {
            struct tr_error e;
            if (tr_client_cursor_from_hex(v, &cur, &e)) {
                fprintf(stderr, "tickraft-ctl tail: %s\n", e.msg);
                return CTL_EXIT_USAGE;
            }
            so.start = TR_CLIENT_START_CURSOR;
            so.cursor = cur.data;
            so.cursor_len = cur.len;
        } else {
            fprintf(stderr, "tickraft-ctl tail: unexpected argument '%s'\n", a);
            return CTL_EXIT_USAGE;
        }
    }
    struct tr_client *c;
    if ((rc = ctl_client_open(&o, &c)))
        return rc;
    struct tr_client_sub *s;
    struct tr_error err;
    tr_error_clear(&err);
    if ((rc = tr_client_subscribe(c, &so, &s, &err))) {
        rc = ctl_fail(&o, rc, &err);
        tr_client_close(c);
        tr_buf_free(&cur);
        return rc;
    }
    g_sub = s;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct tr_buf tmp;
    tr_buf_init(&tmp);
    struct tr_client_msg m;
    long long seen = 0;
    rc = 0;
    while (count < 0 || seen < count) {
        int r = tr_client_sub_poll(s, &m, 1000, &err);
        if (r == 0 || r == TR_ECONNREFUSED)
            continue; /* all nodes down for now: keep trying */
        if (r == TR_ECLOSED)
            break;
        if (r < 0) {
            rc = ctl_fail(&o, r, &err);
            break;
        }
        if (m.type == TR_CLIENT_EVENT) {
            ctl_print_event(stdout, &m, o.json, &tmp);
            seen++;
        } else if (m.type == TR_CLIENT_FELL_BEHIND) {
            fprintf(stderr, "tickraft-ctl tail: fell behind the node's retention: events were "
                            "dropped before they were read\n");
        } else {
            fprintf(stderr, "tickraft-ctl tail: now following %s\n", m.node);
        }
        fflush(stdout);
    }
    cur.len = 0;
    struct tr_buf hex;
    tr_buf_init(&hex);
    if (tr_client_sub_cursor(s, &cur) == 0 && tr_client_cursor_to_hex(cur.data, cur.len, &hex) == 0)
        fprintf(stderr, "cursor: %s\n", (const char *)hex.data);
    g_sub = NULL;
    tr_client_sub_free(s);
    tr_client_close(c);
    tr_buf_free(&hex);
    tr_buf_free(&tmp);
    tr_buf_free(&cur);
    return rc;
}
