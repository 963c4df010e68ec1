/* The node's metrics: counters, gauges and histograms with labels, cheap
 * on the hot path, rendered in the Prometheus text exposition format 0.0.4
 * for GET /metrics (docs/operations.md lists every metric).
 *
 * Hot path: look a series up once (tr_metrics_counter(m, TR_M_..., labels))
 * and keep the handle; tr_counter_add / tr_gauge_set / tr_histogram_observe
 * are then one or two relaxed atomic operations, no lock, no allocation.
 * Lookups take the registry mutex and allocate a series the first time a
 * label combination is seen. Handles stay valid until tr_metrics_free.
 * Every handle function accepts NULL (a failed lookup just does not count),
 * so an out-of-memory never takes the data path down.
 *
 * The node's metric names are declared once, in the table behind
 * enum tr_metric_id (metrics.c): the pipeline only increments. */
#ifndef TR_NODE_METRICS_H
#define TR_NODE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "tickraft/error.h"
#include "tickraft/event.h"

enum tr_metric_type {
    TR_METRIC_COUNTER = 1,
    TR_METRIC_GAUGE = 2,
    TR_METRIC_HISTOGRAM = 3,
};

#define TR_METRIC_LABELS_MAX 4
#define TR_METRIC_BUCKETS_MAX 24
#define TR_METRIC_LABEL_MAX 128 /* bytes of one label value (longer: cut) */

/* A metric family. Strings are static (borrowed for the registry's life). */
struct tr_metric_desc {
    const char *name;   /* [a-zA-Z_:][a-zA-Z0-9_:]* */
    const char *help;
    int type;           /* enum tr_metric_type */
    const char *labels[TR_METRIC_LABELS_MAX]; /* label names, NULL-terminated early */
    /* Histograms: upper bounds in the observed unit, increasing; +Inf is
     * implicit. `scale` converts the observed integer unit to the exposed
     * one (1e-9: observe nanoseconds, expose seconds). */
    uint64_t buckets[TR_METRIC_BUCKETS_MAX];
    double scale; /* 0 means 1 */
};

/* The node's metrics. Label names in brackets. */
enum tr_metric_id {
    TR_M_EVENTS_RECEIVED,     /* counter [feed, kind]: normalised events from providers */
    TR_M_EVENTS_WRITTEN,      /* counter [feed, kind]: appended to the log */
    TR_M_EVENTS_DUPLICATE,    /* counter [feed, kind]: dropped by native id */
    TR_M_EVENTS_REJECTED,     /* counter [feed, reason]: malformed / invalid */
    TR_M_GAPS_DETECTED,       /* counter [feed, kind] */
    TR_M_GAPS_FILLED,         /* counter [feed, kind]: repaired by backfill/snapshot */
    TR_M_GAPS_UNFILLED,       /* counter [feed, kind]: written as gap events */
    TR_M_RECONNECTS,          /* counter [feed, cause]: close_1000, close_1006, ping_timeout,
                                 refused, rotate, ... */
    TR_M_REST_ERRORS,         /* counter [feed, status]: "429", "503", "timeout" ... */
    TR_M_REST_REQUESTS,       /* counter [feed, kind]: registry, snapshot, backfill, status */
    TR_M_SUBSCRIBE_ERRORS,    /* counter [feed, error]: unknown_channel, unknown_market, limit */
    TR_M_ACTOR_RESTARTS,      /* counter [actor] */
    TR_M_MAILBOX_DEPTH,       /* gauge [actor]: messages waiting */
    TR_M_CONNECTIONS,         /* gauge [feed]: open provider connections */
    TR_M_FEED_UP,             /* gauge [feed]: 1 when subscribed and receiving */
    TR_M_LAST_EVENT_TS,       /* gauge [feed]: Unix time (s) of the last event written */
    TR_M_LOG_DURABLE_LSN,     /* gauge: durable LSN of the node's log */
    TR_M_LOG_BYTES,           /* gauge: bytes in segment files */
    TR_M_APPEND_LATENCY,      /* histogram (ns observed, s exposed): append + durable */
    TR_M_PROVIDER_TO_LOG,     /* histogram [feed] (ns -> s): provider timestamp to durable */
    TR_M_BATCH_EVENTS,        /* histogram: events per batch appended */
    TR_M_LOG_LINES_SUPPRESSED, /* counter: log lines dropped by the rate limiter */
    TR_M_HTTP_REQUESTS,       /* counter [path, code]: requests served by the endpoint */
    TR_M_FEED_PAUSED,         /* gauge [feed]: 1 while an operator has paused the feed */
    TR_M_TLS_HANDSHAKES,      /* counter [feed, kind]: wss:// handshakes, full / resumed */
    TR_M_TLS_CLOSE_NOTIFY,    /* counter [feed, direction]: wss:// close_notify received / sent */
    TR_M__COUNT
};

struct tr_metrics;
struct tr_counter;
struct tr_gauge;
struct tr_histogram;

/* A registry with the node's table above declared (ids are its indices).
 * Heap; free with tr_metrics_free. TR_ENOMEM. */
int tr_metrics_alloc(struct tr_metrics **out, struct tr_error *err);
void tr_metrics_free(struct tr_metrics *m);

/* Declares one more family; *id gets its index. `d` is copied; its strings
 * are borrowed (static). TR_EINVAL (bad name, bad buckets, label count),
 * TR_EEXISTS (name taken), TR_ENOMEM. */
int tr_metrics_declare(struct tr_metrics *m, const struct tr_metric_desc *d, int *id,
                       struct tr_error *err);

/* The series of family `id` with these label values (one per declared
 * label, in order; NULL when the family has none). Creates it at zero the
 * first time. NULL when `id` is not of that type, a value is NULL, or on
 * ENOMEM. Thread-safe (registry mutex). */
struct tr_counter *tr_metrics_counter(struct tr_metrics *m, int id, const char *const *values);
struct tr_gauge *tr_metrics_gauge(struct tr_metrics *m, int id, const char *const *values);
struct tr_histogram *tr_metrics_histogram(struct tr_metrics *m, int id,
                                          const char *const *values);

/* Hot path: lock-free; any thread; NULL is a no-op. */
void tr_counter_add(struct tr_counter *c, uint64_t n);
static inline void tr_counter_inc(struct tr_counter *c) { tr_counter_add(c, 1); }
uint64_t tr_counter_get(const struct tr_counter *c);
/* Mirrors a monotonic total kept elsewhere (tr_nlog_suppressed, the log's
 * sync count) from a collect callback. The caller keeps it monotonic. */
void tr_counter_set(struct tr_counter *c, uint64_t total);
/* Mirrors a total that starts again from 0 with each incarnation of its
 * owner (the collector actor's per-feed totals, which a supervisor restart
 * resets): the series shows the last totals of the earlier incarnations
 * plus this one's, so a Prometheus counter never goes backwards across a
 * restart. `gen` names the incarnation and must grow with each (the
 * collector's fencing epoch): a higher gen folds the previous gen's last
 * total into the series' base; a lower one (a torn-down incarnation still
 * publishing) is ignored. Within a gen a total below the last one is
 * ignored too. Creates the series like tr_metrics_counter. Any thread
 * (under the registry mutex). */
void tr_metrics_mirror(struct tr_metrics *m, int id, const char *const *values, uint64_t gen,
                       uint64_t total);
void tr_gauge_set(struct tr_gauge *g, double v);
void tr_gauge_add(struct tr_gauge *g, double delta);
double tr_gauge_get(const struct tr_gauge *g);
/* Records one observation in the family's integer unit (ns for latencies). */
void tr_histogram_observe(struct tr_histogram *h, uint64_t v);
uint64_t tr_histogram_count(const struct tr_histogram *h);

/* Convenience for cold paths: lookup + add in one call. */
void tr_metrics_add(struct tr_metrics *m, int id, const char *const *values, uint64_t n);

/* Called at the start of every render (with no registry lock held), so
 * the owner can refresh gauges that are cheaper to read than to track
 * (mailbox depths, log size). */
typedef void (*tr_metrics_collect_cb)(void *arg, struct tr_metrics *m);
void tr_metrics_set_collect_cb(struct tr_metrics *m, tr_metrics_collect_cb cb, void *arg);

/* Appends the Prometheus text exposition of every family to `out`:
 * "# HELP", "# TYPE", then one line per series; histograms as cumulative
 * _bucket{le="..."} lines ending with le="+Inf", then _sum and _count.
 * Families with no series print only HELP/TYPE. 0 or TR_ENOMEM. */
int tr_metrics_render(struct tr_metrics *m, struct tr_buf *out);

/* Content-Type of the rendering. */
#define TR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
