/* Metrics registry and Prometheus text rendering (see metrics.h).
 *
 * A family owns a singly linked list of series; a series is immutable after
 * creation except for its atomic cells, and is only ever added at the head
 * under the registry mutex, so the hot path touches nothing but its own
 * cells. Histogram buckets are stored per bucket (not cumulative) and summed
 * at render time, so observe is one binary search plus two atomic adds. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    struct series *next;
    char *values[TR_METRIC_LABELS_MAX];
    int type;
    /* counter: u; gauge: bits of a double in u; histogram: buckets/sum/count */
    _Atomic uint64_t u;
    _Atomic uint64_t sum;
    _Atomic uint64_t *buckets; /* n_bounds + 1 (the last is +Inf) */
    uint64_t *bounds;          /* histogram: copy of the family's bounds */
    int n_bounds;
    /* tr_metrics_mirror (registry mutex): the incarnation mirrored last,
     * the sum of the earlier incarnations' totals and its last total */
    uint64_t m_gen, m_base, m_last;
};

struct tr_counter { struct series s; };
struct tr_gauge { struct series s; };
struct tr_histogram { struct series s; };

struct family {
    struct tr_metric_desc d;
    int n_labels, n_buckets;
    struct series *head;
};

struct tr_metrics {
    pthread_mutex_t mu;
    struct family *fams;
    int n_fams, cap_fams;
    tr_metrics_collect_cb collect_cb;
    void *collect_arg;
};

#define MS_NS 1000000ull
/* Latency buckets in ns: 10 us .. 10 s. */
#define LAT_BUCKETS                                                                      \
    {10000, 25000, 50000, 100000, 250000, 500000, 1 * MS_NS, 2 * MS_NS, 5 * MS_NS,       \
     10 * MS_NS, 25 * MS_NS, 50 * MS_NS, 100 * MS_NS, 250 * MS_NS, 500 * MS_NS,          \
     1000 * MS_NS, 2500 * MS_NS, 10000 * MS_NS}

static const struct tr_metric_desc node_table[TR_M__COUNT] = {
    [TR_M_EVENTS_RECEIVED] = {.name = "tickraft_events_received_total",
                              "Normalised events received from providers.", TR_METRIC_COUNTER,
                              {"feed", "kind"}},
    [TR_M_EVENTS_WRITTEN] = {.name = "tickraft_events_written_total",
                             "Events appended to the node's log.", TR_METRIC_COUNTER,
                             {"feed", "kind"}},
    [TR_M_EVENTS_DUPLICATE] = {.name = "tickraft_events_duplicate_total",
                               "Events dropped as duplicates by native id.", TR_METRIC_COUNTER,
                               {"feed", "kind"}},
    [TR_M_EVENTS_REJECTED] = {.name = "tickraft_events_rejected_total",
                              "Provider messages rejected as malformed or invalid.",
                              TR_METRIC_COUNTER, {"feed", "reason"}},
    [TR_M_GAPS_DETECTED] = {.name = "tickraft_gaps_detected_total", "Sequence gaps detected.",
                            TR_METRIC_COUNTER, {"feed", "kind"}},
    [TR_M_GAPS_FILLED] = {.name = "tickraft_gaps_filled_total",
                          "Gaps repaired by REST backfill or snapshot resync.",
                          TR_METRIC_COUNTER, {"feed", "kind"}},
    [TR_M_GAPS_UNFILLED] = {.name = "tickraft_gaps_unfilled_total",
                            "Gaps that could not be repaired and were written as gap events.",
                            TR_METRIC_COUNTER, {"feed", "kind"}},
    [TR_M_RECONNECTS] = {.name = "tickraft_reconnects_total", "Provider reconnections by cause.",
                         TR_METRIC_COUNTER, {"feed", "cause"}},
    [TR_M_REST_ERRORS] = {.name = "tickraft_rest_errors_total", "Failed provider REST requests by status.",
                          TR_METRIC_COUNTER, {"feed", "status"}},
    [TR_M_REST_REQUESTS] = {.name = "tickraft_rest_requests_total", "Provider REST requests by kind.",
                            TR_METRIC_COUNTER, {"feed", "kind"}},
    [TR_M_SUBSCRIBE_ERRORS] = {.name = "tickraft_subscribe_errors_total",
                               "Subscriptions refused by providers.", TR_METRIC_COUNTER,
                               {"feed", "error"}},
    [TR_M_ACTOR_RESTARTS] = {.name = "tickraft_actor_restarts_total",
                             "Actor restarts by their supervisor.", TR_METRIC_COUNTER,
                             {"actor"}},
    [TR_M_MAILBOX_DEPTH] = {.name = "tickraft_mailbox_depth", "Messages waiting in an actor's mailbox.",
                            TR_METRIC_GAUGE, {"actor"}},
    [TR_M_CONNECTIONS] = {.name = "tickraft_connections", "Open provider connections.", TR_METRIC_GAUGE,
                          {"feed"}},
    [TR_M_FEED_UP] = {.name = "tickraft_feed_up", "1 when the feed is subscribed and receiving.",
                      TR_METRIC_GAUGE, {"feed"}},
    [TR_M_FEED_PAUSED] = {.name = "tickraft_feed_paused", "1 while an operator has paused the feed.",
                          TR_METRIC_GAUGE, {"feed"}},
    [TR_M_TLS_HANDSHAKES] = {.name = "tickraft_tls_handshakes_total",
                             "wss:// TLS handshakes by kind: full (certificate checked) or resumed.",
                             TR_METRIC_COUNTER, {"feed", "kind"}},
    [TR_M_TLS_CLOSE_NOTIFY] = {.name = "tickraft_tls_close_notify_total",
                               "wss:// TLS close_notify alerts received from / sent to providers.",
                               TR_METRIC_COUNTER, {"feed", "direction"}},
    [TR_M_LAST_EVENT_TS] = {.name = "tickraft_last_event_timestamp_seconds",
                            "Unix time of the last event written for the feed.",
                            TR_METRIC_GAUGE, {"feed"}},
    [TR_M_LOG_DURABLE_LSN] = {.name = "tickraft_log_durable_lsn", "Highest durable LSN of the log.",
                              TR_METRIC_GAUGE, {0}},
    [TR_M_LOG_BYTES] = {.name = "tickraft_log_bytes", "Bytes in the log's segment files.",
                        TR_METRIC_GAUGE, {0}},
    [TR_M_APPEND_LATENCY] = {.name = "tickraft_append_latency_seconds",
                             "Time from append call to durable, per batch.",
                             TR_METRIC_HISTOGRAM, {0}, LAT_BUCKETS, 1e-9},
    [TR_M_PROVIDER_TO_LOG] = {.name = "tickraft_provider_to_log_latency_seconds",
                              "Time from the provider's event timestamp to durable in the log.",
                              TR_METRIC_HISTOGRAM, {"feed"}, LAT_BUCKETS, 1e-9},
    [TR_M_BATCH_EVENTS] = {.name = "tickraft_batch_events", "Events per batch appended to the log.",
                           TR_METRIC_HISTOGRAM, {0},
                           {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192}, 1},
    [TR_M_LOG_LINES_SUPPRESSED] = {.name = "tickraft_log_lines_suppressed_total",
                                   "Log lines dropped by the repeat rate limiter.",
                                   TR_METRIC_COUNTER, {0}},
    [TR_M_HTTP_REQUESTS] = {.name = "tickraft_http_requests_total",
                            "Requests served by the node's HTTP endpoint.", TR_METRIC_COUNTER,
                            {"path", "code"}},
};

/* ------------------------------------------------------------ registry */

static int valid_name(const char *s, int label)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || (!label && *s == ':')))
            return 0;
    return 1;
}

int tr_metrics_declare(struct tr_metrics *m, const struct tr_metric_desc *d, int *id,
                       struct tr_error *err)
{
    if (!valid_name(d->name, 0) || d->type < TR_METRIC_COUNTER || d->type > TR_METRIC_HISTOGRAM)
        return tr_errorf(err, TR_EINVAL, "metric %s: bad name or type", d->name ? d->name : "?");
    struct family f = {.d = *d};
    while (f.n_labels < TR_METRIC_LABELS_MAX && d->labels[f.n_labels]) {
        const char *l = d->labels[f.n_labels];
        if (!valid_name(l, 1) || strncmp(l, "__", 2) == 0 ||
            (d->type == TR_METRIC_HISTOGRAM && strcmp(l, "le") == 0))
            return tr_errorf(err, TR_EINVAL, "metric %s: bad label name '%s'", d->name, l);
        f.n_labels++;
    }
    if (d->type == TR_METRIC_HISTOGRAM) {
        while (f.n_buckets < TR_METRIC_BUCKETS_MAX && d->buckets[f.n_buckets])
            f.n_buckets++;
        for (int i = 1; i < f.n_buckets; i++)
            if (d->buckets[i] <= d->buckets[i - 1])
                return tr_errorf(err, TR_EINVAL, "metric %s: buckets not increasing", d->name);
        if (f.n_buckets == 0)
            return tr_errorf(err, TR_EINVAL, "metric %s: no buckets", d->name);
    }
    if (f.d.scale == 0)
        f.d.scale = 1;
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    for (int i = 0; i < m->n_fams && rc == 0; i++)
        if (strcmp(m->fams[i].d.name, d->name) == 0)
            rc = tr_errorf(err, TR_EEXISTS, "metric %s: declared twice", d->name);
    if (rc == 0 && m->n_fams == m->cap_fams) {
        int cap = m->cap_fams ? m->cap_fams * 2 : 32;
        struct family *g = realloc(m->fams, (size_t)cap * sizeof *g);
        if (!g)
            rc = tr_errorf(err, TR_ENOMEM, "metric %s: out of memory", d->name);
        else {
            m->fams = g;
            m->cap_fams = cap;
        }
    }
    if (rc == 0) {
        m->fams[m->n_fams] = f;
        if (id)
            *id = m->n_fams;
        m->n_fams++;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int tr_metrics_alloc(struct tr_metrics **out, struct tr_error *err)
{
    *out = NULL;
    struct tr_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return tr_errorf(err, TR_ENOMEM, "metrics: out of memory");
    pthread_mutex_init(&m->mu, NULL);
    for (int i = 0; i < TR_M__COUNT; i++) {
        int rc = tr_metrics_declare(m, &node_table[i], NULL, err);
        if (rc) {
            tr_metrics_free(m);
            return rc;
        }
    }
    *out = m;
    return 0;
}

static void series_free(struct series *s)
{
    for (int i = 0; i < TR_METRIC_LABELS_MAX; i++)
        free(s->values[i]);
    free((void *)s->buckets);
    free(s->bounds);
    free(s);
}

void tr_metrics_free(struct tr_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_fams; i++)
        for (struct series *s = m->fams[i].head, *next; s; s = next) {
            next = s->next;
            series_free(s);
        }
    free(m->fams);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void tr_metrics_set_collect_cb(struct tr_metrics *m, tr_metrics_collect_cb cb, void *arg)
{
    pthread_mutex_lock(&m->mu);
    m->collect_cb = cb;
    m->collect_arg = arg;
    pthread_mutex_unlock(&m->mu);
}

static int same_values(const struct series *s, int n, const char *const *v)
{
    for (int i = 0; i < n; i++)
        if (strncmp(s->values[i], v[i], TR_METRIC_LABEL_MAX - 1) != 0 ||
            strlen(s->values[i]) != strnlen(v[i], TR_METRIC_LABEL_MAX - 1))
            return 0;
    return 1;
}

static struct series *lookup(struct tr_metrics *m, int id, int type, const char *const *values)
{
    if (!m || id < 0)
        return NULL;
    struct series *found = NULL;
    pthread_mutex_lock(&m->mu);
    if (id >= m->n_fams || m->fams[id].d.type != type)
        goto out;
    struct family *f = &m->fams[id];
    for (int i = 0; i < f->n_labels; i++)
        if (!values || !values[i])
            goto out;
    for (struct series *s = f->head; s && !found; s = s->next)
        if (same_values(s, f->n_labels, values))
            found = s;
    if (found)
        goto out;
    struct series *s = calloc(1, sizeof(struct tr_histogram));
    if (!s)
        goto out;
    s->type = type;
    int ok = 1;
    for (int i = 0; i < f->n_labels && ok; i++)
        ok = (s->values[i] = strndup(values[i], TR_METRIC_LABEL_MAX - 1)) != NULL;
    if (ok && type == TR_METRIC_HISTOGRAM) {
        s->n_bounds = f->n_buckets;
        ok = (s->buckets = calloc((size_t)f->n_buckets + 1, sizeof *s->buckets)) != NULL &&
             (s->bounds = malloc((size_t)f->n_buckets * sizeof *s->bounds)) != NULL;
        if (ok)
            memcpy(s->bounds, f->d.buckets, (size_t)f->n_buckets * sizeof *s->bounds);
    }
    if (!ok) {
        series_free(s);
        goto out;
    }
    s->next = f->head;
    f->head = s;
    found = s;
out:
    pthread_mutex_unlock(&m->mu);
    return found;
}

struct tr_counter *tr_metrics_counter(struct tr_metrics *m, int id, const char *const *values)
{
    return (struct tr_counter *)lookup(m, id, TR_METRIC_COUNTER, values);
}

struct tr_gauge *tr_metrics_gauge(struct tr_metrics *m, int id, const char *const *values)
{
    return (struct tr_gauge *)lookup(m, id, TR_METRIC_GAUGE, values);
}

struct tr_histogram *tr_metrics_histogram(struct tr_metrics *m, int id,
                                          const char *const *values)
{
    return (struct tr_histogram *)lookup(m, id, TR_METRIC_HISTOGRAM, values);
}

void tr_metrics_mirror(struct tr_metrics *m, int id, const char *const *values, uint64_t gen,
                       uint64_t total)
{
    struct series *s = lookup(m, id, TR_METRIC_COUNTER, values);
    if (!s)
        return;
    pthread_mutex_lock(&m->mu);
    if (gen > s->m_gen) { /* a new incarnation: keep what the last one counted */
        s->m_base += s->m_last;
        s->m_last = 0;
        s->m_gen = gen;
    }
    if (gen == s->m_gen && total >= s->m_last) {
        s->m_last = total;
        atomic_store_explicit(&s->u, s->m_base + total, memory_order_relaxed);
    }
    pthread_mutex_unlock(&m->mu);
}

void tr_metrics_add(struct tr_metrics *m, int id, const char *const *values, uint64_t n)
{
    tr_counter_add(tr_metrics_counter(m, id, values), n);
}

/* ------------------------------------------------------------ hot path */

void tr_counter_add(struct tr_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->s.u, n, memory_order_relaxed);
}

uint64_t tr_counter_get(const struct tr_counter *c)
{
    return c ? atomic_load_explicit(&((struct tr_counter *)c)->s.u, memory_order_relaxed) : 0;
}

void tr_counter_set(struct tr_counter *c, uint64_t total)
{
    if (c)
        atomic_store_explicit(&c->s.u, total, memory_order_relaxed);
}

static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

void tr_gauge_set(struct tr_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->s.u, dbits(v), memory_order_relaxed);
}

void tr_gauge_add(struct tr_gauge *g, double delta)
{
    if (!g)
        return;
    uint64_t old = atomic_load_explicit(&g->s.u, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&g->s.u, &old, dbits(bitsd(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

double tr_gauge_get(const struct tr_gauge *g)
{
    return g ? bitsd(atomic_load_explicit(&((struct tr_gauge *)g)->s.u, memory_order_relaxed))
             : 0;
}

void tr_histogram_observe(struct tr_histogram *h, uint64_t v)
{
    if (!h)
        return;
    /* first bound >= v (Prometheus buckets are "less than or equal") */
    int lo = 0, hi = h->s.n_bounds;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (h->s.bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->s.buckets[lo], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->s.sum, v, memory_order_relaxed);
}

uint64_t tr_histogram_count(const struct tr_histogram *h)
{
    if (!h)
        return 0;
    uint64_t n = 0;
    for (int i = 0; i <= h->s.n_bounds; i++)
        n += atomic_load_explicit(&h->s.buckets[i], memory_order_relaxed);
    return n;
}

/* ------------------------------------------------------------ rendering */

static int put(struct tr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct tr_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TR_EINVAL;
    return tr_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Escapes \\ and newline (HELP), plus '"' in label values. */
static int put_escaped(struct tr_buf *b, const char *s, int label)
{
    int rc = 0;
    size_t run = 0, i = 0;
    for (; s[i] && rc == 0; i++) {
        const char *e = s[i] == '\\' ? "\\\\" : s[i] == '\n' ? "\\n"
                      : label && s[i] == '"' ? "\\\"" : NULL;
        if (!e)
            continue;
        rc = tr_buf_append(b, s + run, i - run);
        if (rc == 0)
            rc = tr_buf_append(b, e, strlen(e));
        run = i + 1;
    }
    return rc ? rc : tr_buf_append(b, s + run, i - run);
}

/* The shortest of %.15g..%.17g that reads back as the same double, so
 * 0.003002001 prints as such and not as 0.0030020010000000002. */
static void fmt_double(char *buf, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* An integer count of the observed unit in the exposed unit: divide by
 * 1/scale when that is an integer (ns -> s), which rounds once instead of
 * twice. */
static double scaled(uint64_t v, double scale)
{
    double inv = round(1.0 / scale);
    if (scale < 1 && fabs(inv * scale - 1.0) < 1e-12)
        return (double)v / inv;
    return (double)v * scale;
}

static int puts_(struct tr_buf *b, const char *s)
{
    return tr_buf_append(b, s, strlen(s));
}

/* " 123\n" without printf: rendering is mostly this. */
static int put_u64_line(struct tr_buf *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    tmp[--i] = '\n';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tmp[--i] = ' ';
    return tr_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

/* name{a="x",b="y"[,le="..."]} */
static int put_series_name(struct tr_buf *b, const struct family *f, const struct series *s,
                           const char *suffix, const char *le)
{
    int rc = puts_(b, f->d.name);
    rc = rc ? rc : puts_(b, suffix);
    if (rc || (f->n_labels == 0 && !le))
        return rc;
    rc = tr_buf_append(b, "{", 1);
    for (int i = 0; i < f->n_labels && rc == 0; i++) {
        rc = i ? tr_buf_append(b, ",", 1) : 0;
        rc = rc ? rc : puts_(b, f->d.labels[i]);
        rc = rc ? rc : tr_buf_append(b, "=\"", 2);
        rc = rc ? rc : put_escaped(b, s->values[i], 1);
        rc = rc ? rc : tr_buf_append(b, "\"", 1);
    }
    if (le && rc == 0) {
        rc = tr_buf_append(b, f->n_labels ? ",le=\"" : "le=\"", f->n_labels ? 5 : 4);
        rc = rc ? rc : puts_(b, le);
        rc = rc ? rc : tr_buf_append(b, "\"", 1);
    }
    return rc ? rc : tr_buf_append(b, "}", 1);
}

typedef char le_text[32];

static int render_series(struct tr_buf *b, const struct family *f, const struct series *s,
                         le_text *les)
{
    char num[64];
    int rc;
    if (f->d.type == TR_METRIC_COUNTER) {
        rc = put_series_name(b, f, s, "", NULL);
        return rc ? rc : put_u64_line(b, atomic_load(&((struct series *)s)->u));
    }
    if (f->d.type == TR_METRIC_GAUGE) {
        rc = put_series_name(b, f, s, "", NULL);
        fmt_double(num, sizeof num, bitsd(atomic_load(&((struct series *)s)->u)));
        return rc ? rc : put(b, " %s\n", num);
    }
    uint64_t cum = 0;
    rc = 0;
    for (int i = 0; i <= s->n_bounds && rc == 0; i++) {
        cum += atomic_load(&s->buckets[i]);
        rc = put_series_name(b, f, s, "_bucket", les[i]);
        rc = rc ? rc : put_u64_line(b, cum);
    }
    fmt_double(num, sizeof num, scaled(atomic_load(&((struct series *)s)->sum), f->d.scale));
    rc = rc ? rc : put_series_name(b, f, s, "_sum", NULL);
    rc = rc ? rc : put(b, " %s\n", num);
    rc = rc ? rc : put_series_name(b, f, s, "_count", NULL);
    return rc ? rc : put_u64_line(b, cum);
}

int tr_metrics_render(struct tr_metrics *m, struct tr_buf *out)
{
    static const char *const types[] = {NULL, "counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->mu);
    tr_metrics_collect_cb cb = m->collect_cb;
    void *arg = m->collect_arg;
    pthread_mutex_unlock(&m->mu);
    if (cb)
        cb(arg, m);
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n_fams && rc == 0; i++) {
        const struct family *f = &m->fams[i];
        le_text les[TR_METRIC_BUCKETS_MAX + 1];
        for (int j = 0; j < f->n_buckets; j++) /* once per family, not per series */
            fmt_double(les[j], sizeof les[j], scaled(f->d.buckets[j], f->d.scale));
        snprintf(les[f->n_buckets], sizeof les[0], "+Inf");
        rc = put(out, "# HELP %s ", f->d.name);
        rc = rc ? rc : put_escaped(out, f->d.help ? f->d.help : "", 0);
        rc = rc ? rc : put(out, "\n# TYPE %s %s\n", f->d.name, types[f->d.type]);
        /* series are pushed at the head: print oldest first, so a
         * scrape's order is stable */
        size_t n = 0;
        for (const struct series *s = f->head; s; s = s->next)
            n++;
        const struct series **v = n ? malloc(n * sizeof *v) : NULL;
        if (n && !v) {
            rc = TR_ENOMEM;
            break;
        }
        size_t k = n;
        for (const struct series *s = f->head; s; s = s->next)
            v[--k] = s;
        for (k = 0; k < n && rc == 0; k++)
            rc = render_series(out, f, v[k], les);
        free(v);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
