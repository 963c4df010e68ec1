/* Tests of the metrics registry (node/metrics.c): the exact Prometheus text
 * exposition (HELP/TYPE, label escaping, cumulative histogram buckets with
 * le labels, _sum and _count), the node's pre-declared table, handle
 * semantics, and counts that stay exact under concurrent writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static char *render(struct tr_metrics *m, struct tr_buf *b)
{
    b->len = 0;
    assert_int_equal(tr_metrics_render(m, b), 0);
    assert_int_equal(tr_buf_append(b, "", 1), 0);
    return (char *)b->data;
}

/* A registry with only the families a test declares: alloc the node one
 * and look only at the new families' text. */
static const char *after(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "# HELP %s ", name);
    const char *p = strstr(text, key);
    assert_non_null(p);
    return p;
}

static void counter_and_gauge_text_is_exact(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    int cid, gid;
    struct tr_metric_desc c = {.name = "t_requests_total",
                               .help = "Requests.\nSecond \\ line.",
                               .type = TR_METRIC_COUNTER, .labels = {"path", "code"}};
    struct tr_metric_desc g = {.name = "t_temp", .help = "Temperature.", .type = TR_METRIC_GAUGE};
    assert_int_equal(tr_metrics_declare(m, &c, &cid, NULL), 0);
    assert_int_equal(tr_metrics_declare(m, &g, &gid, NULL), 0);
    struct tr_counter *a = tr_metrics_counter(m, cid, (const char *const[]){"/x", "200"});
    struct tr_counter *b =
        tr_metrics_counter(m, cid, (const char *const[]){"we\"ird\\\npath", "404"});
    assert_non_null(a);
    assert_ptr_equal(a, tr_metrics_counter(m, cid, (const char *const[]){"/x", "200"}));
    tr_counter_add(a, 41);
    tr_counter_inc(a);
    tr_counter_inc(b);
    tr_gauge_set(tr_metrics_gauge(m, gid, NULL), -2.5);
    struct tr_buf buf;
    tr_buf_init(&buf);
    const char *t = after(render(m, &buf), "t_requests_total");
    assert_string_equal(t, "# HELP t_requests_total Requests.\\nSecond \\\\ line.\n"
                           "# TYPE t_requests_total counter\n"
                           "t_requests_total{path=\"/x\",code=\"200\"} 42\n"
                           "t_requests_total{path=\"we\\\"ird\\\\\\npath\",code=\"404\"} 1\n"
                           "# HELP t_temp Temperature.\n"
                           "# TYPE t_temp gauge\n"
                           "t_temp -2.5\n");
    assert_int_equal(tr_counter_get(a), 42);
    tr_buf_free(&buf);
    tr_metrics_free(m);
}

static void histogram_buckets_are_cumulative_with_le(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    int id;
    struct tr_metric_desc d = {.name = "t_lat_seconds", .help = "Latency.",
                               .type = TR_METRIC_HISTOGRAM, .labels = {"feed"},
                               .buckets = {1000, 5000, 2000000}, .scale = 1e-9};
    assert_int_equal(tr_metrics_declare(m, &d, &id, NULL), 0);
    struct tr_histogram *h = tr_metrics_histogram(m, id, (const char *const[]){"cb"});
    assert_non_null(h);
    tr_histogram_observe(h, 0);       /* le 1e-06 */
    tr_histogram_observe(h, 1000);    /* le 1e-06: bounds are inclusive */
    tr_histogram_observe(h, 1001);    /* le 5e-06 */
    tr_histogram_observe(h, 3000000); /* +Inf only */
    assert_int_equal(tr_histogram_count(h), 4);
    struct tr_buf buf;
    tr_buf_init(&buf);
    const char *t = after(render(m, &buf), "t_lat_seconds");
    assert_string_equal(t, "# HELP t_lat_seconds Latency.\n"
                           "# TYPE t_lat_seconds histogram\n"
                           "t_lat_seconds_bucket{feed=\"cb\",le=\"1e-06\"} 2\n"
                           "t_lat_seconds_bucket{feed=\"cb\",le=\"5e-06\"} 3\n"
                           "t_lat_seconds_bucket{feed=\"cb\",le=\"0.002\"} 3\n"
                           "t_lat_seconds_bucket{feed=\"cb\",le=\"+Inf\"} 4\n"
                           "t_lat_seconds_sum{feed=\"cb\"} 0.003002001\n"
                           "t_lat_seconds_count{feed=\"cb\"} 4\n");
    tr_buf_free(&buf);
    tr_metrics_free(m);
}

static void node_table_declares_the_issue_metrics(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    tr_metrics_add(m, TR_M_EVENTS_RECEIVED, (const char *const[]){"cb", "trade"}, 3);
    tr_histogram_observe(tr_metrics_histogram(m, TR_M_APPEND_LATENCY, NULL), 150000);
    struct tr_buf buf;
    tr_buf_init(&buf);
    const char *t = render(m, &buf);
    static const char *const names[] = {
        "# TYPE tickraft_events_received_total counter",
        "# TYPE tickraft_events_written_total counter",
        "# TYPE tickraft_events_duplicate_total counter",
        "# TYPE tickraft_events_rejected_total counter",
        "# TYPE tickraft_gaps_detected_total counter",
        "# TYPE tickraft_gaps_filled_total counter",
        "# TYPE tickraft_gaps_unfilled_total counter",
        "# TYPE tickraft_reconnects_total counter",
        "# TYPE tickraft_rest_errors_total counter",
        "# TYPE tickraft_actor_restarts_total counter",
        "# TYPE tickraft_mailbox_depth gauge",
        "# TYPE tickraft_append_latency_seconds histogram",
        "# TYPE tickraft_provider_to_log_latency_seconds histogram",
        "tickraft_events_received_total{feed=\"cb\",kind=\"trade\"} 3\n",
        "tickraft_append_latency_seconds_bucket{le=\"0.0001\"} 0\n",
        "tickraft_append_latency_seconds_bucket{le=\"0.00025\"} 1\n",
        "tickraft_append_latency_seconds_count 1\n",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(t, names[i]))
            fail_msg("missing: %s", names[i]);
    tr_buf_free(&buf);
    tr_metrics_free(m);
}

static void bad_declarations_and_lookups_are_refused(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    struct tr_error err;
    struct tr_metric_desc d = {.name = "tickraft_events_received_total", .help = "x",
                               .type = TR_METRIC_COUNTER};
    assert_int_equal(tr_metrics_declare(m, &d, NULL, &err), TR_EEXISTS);
    d.name = "9bad";
    assert_int_equal(tr_metrics_declare(m, &d, NULL, &err), TR_EINVAL);
    d.name = "ok_name";
    d.labels[0] = "bad-label";
    assert_int_equal(tr_metrics_declare(m, &d, NULL, &err), TR_EINVAL);
    struct tr_metric_desc h = {.name = "h", .help = "x", .type = TR_METRIC_HISTOGRAM,
                               .buckets = {5, 5}};
    assert_int_equal(tr_metrics_declare(m, &h, NULL, &err), TR_EINVAL);
    struct tr_metric_desc h2 = {.name = "h2", .help = "x", .type = TR_METRIC_HISTOGRAM,
                                .labels = {"le"}, .buckets = {5}};
    assert_int_equal(tr_metrics_declare(m, &h2, NULL, &err), TR_EINVAL);
    /* wrong type, missing label values, unknown id: NULL, and NULL handles are no-ops */
    assert_null(tr_metrics_gauge(m, TR_M_EVENTS_RECEIVED, (const char *const[]){"a", "b"}));
    assert_null(tr_metrics_counter(m, TR_M_EVENTS_RECEIVED, NULL));
    assert_null(tr_metrics_counter(m, TR_M_EVENTS_RECEIVED, (const char *const[]){"a", NULL}));
    assert_null(tr_metrics_counter(m, 9999, NULL));
    tr_counter_add(NULL, 1);
    tr_gauge_add(NULL, 1);
    tr_histogram_observe(NULL, 1);
    assert_int_equal(tr_counter_get(NULL), 0);
    tr_metrics_free(m);
}

static void collect_cb_refreshes_gauges_before_render(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    int calls = 0;
    struct cbarg { int *calls; } arg = {&calls};
    void collect(void *a, struct tr_metrics *mm);
    tr_metrics_set_collect_cb(m, collect, &arg);
    struct tr_buf buf;
    tr_buf_init(&buf);
    const char *t = render(m, &buf);
    assert_int_equal(calls, 1);
    assert_non_null(strstr(t, "tickraft_mailbox_depth{actor=\"writer\"} 17\n"));
    assert_non_null(strstr(t, "tickraft_log_lines_suppressed_total 99990\n"));
    tr_buf_free(&buf);
    tr_metrics_free(m);
}

void collect(void *a, struct tr_metrics *mm)
{
    int **calls = a;
    (**calls)++;
    tr_gauge_set(tr_metrics_gauge(mm, TR_M_MAILBOX_DEPTH, (const char *const[]){"writer"}), 17);
    tr_counter_set(tr_metrics_counter(mm, TR_M_LOG_LINES_SUPPRESSED, NULL), 99990);
}

/* The collector's totals restart from 0 with each incarnation: the
 * mirrored counter adds them to the earlier incarnations' last totals and
 * never goes backwards (docs/node.md "Status and metrics"). */
static void mirrored_totals_survive_a_new_incarnation(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    const char *const v[2] = {"sim", "trade"};
    struct tr_counter *c = tr_metrics_counter(m, TR_M_EVENTS_WRITTEN, v);
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 2, 10);
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 2, 25);
    assert_int_equal(tr_counter_get(c), 25);
    /* a total below the last one of the same incarnation: ignored */
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 2, 7);
    assert_int_equal(tr_counter_get(c), 25);
    /* incarnation 3 starts from 0: 25 + its own */
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 3, 0);
    assert_int_equal(tr_counter_get(c), 25);
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 3, 4);
    assert_int_equal(tr_counter_get(c), 29);
    /* the torn-down incarnation 2 publishing late: ignored */
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 2, 40);
    assert_int_equal(tr_counter_get(c), 29);
    /* a gen may skip numbers (a writer restart moves the epoch on twice) */
    tr_metrics_mirror(m, TR_M_EVENTS_WRITTEN, v, 5, 1);
    assert_int_equal(tr_counter_get(c), 30);
    struct tr_buf buf;
    tr_buf_init(&buf);
    assert_non_null(strstr(render(m, &buf),
                           "tickraft_events_written_total{feed=\"sim\",kind=\"trade\"} 30\n"));
    /* not a counter family: nothing happens, nothing crashes */
    tr_metrics_mirror(m, TR_M_MAILBOX_DEPTH, (const char *const[]){"w"}, 1, 1);
    tr_buf_free(&buf);
    tr_metrics_free(m);
}

struct hammer {
    struct tr_metrics *m;
};

static void *hammer(void *p)
{
    struct hammer *h = p;
    /* half the threads look the series up themselves: creation races too */
    struct tr_counter *c =
        tr_metrics_counter(h->m, TR_M_EVENTS_WRITTEN, (const char *const[]){"f", "trade"});
    struct tr_histogram *hi = tr_metrics_histogram(h->m, TR_M_BATCH_EVENTS, NULL);
    struct tr_gauge *g = tr_metrics_gauge(h->m, TR_M_CONNECTIONS, (const char *const[]){"f"});
    for (int i = 0; i < 100000; i++) {
        tr_counter_inc(c);
        tr_histogram_observe(hi, (uint64_t)(i % 300));
        tr_gauge_add(g, 1);
    }
    return NULL;
}

static void concurrent_updates_are_exact(void **state)
{
    (void)state;
    struct tr_metrics *m;
    assert_int_equal(tr_metrics_alloc(&m, NULL), 0);
    struct hammer h = {m};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, &h);
    struct tr_buf buf;
    tr_buf_init(&buf);
    for (int i = 0; i < 20; i++)
        render(m, &buf); /* scrapes race the writers */
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(
        tr_counter_get(tr_metrics_counter(m, TR_M_EVENTS_WRITTEN, (const char *const[]){"f", "trade"})),
        400000);
    assert_int_equal(tr_histogram_count(tr_metrics_histogram(m, TR_M_BATCH_EVENTS, NULL)), 400000);
    assert_true(tr_gauge_get(tr_metrics_gauge(m, TR_M_CONNECTIONS, (const char *const[]){"f"})) ==
                400000.0);
    const char *t = render(m, &buf);
    assert_non_null(strstr(t, "tickraft_batch_events_count 400000\n"));
    assert_non_null(strstr(t, "tickraft_batch_events_bucket{le=\"+Inf\"} 400000\n"));
    tr_buf_free(&buf);
    tr_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_and_gauge_text_is_exact),
        cmocka_unit_test(histogram_buckets_are_cumulative_with_le),
        cmocka_unit_test(node_table_declares_the_issue_metrics),
        cmocka_unit_test(bad_declarations_and_lookups_are_refused),
        cmocka_unit_test(collect_cb_refreshes_gauges_before_render),
        cmocka_unit_test(mirrored_totals_survive_a_new_incarnation),
        cmocka_unit_test(concurrent_updates_are_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
