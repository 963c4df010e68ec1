/* tickraft-sim speaks each dialect: WebSocket subscribe handshakes, data
 * messages, subscribe errors and every REST endpoint of docs/simulator.md,
 * against one simulator process serving all four dialects on one port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "integration/sim_harness.h"

static struct simproc sp;

static int setup(void **state)
{
    static const char *const args[] = {"--seed", "11", "--dialect", "native,coinbase,binance,kalshi",
                                       "--instruments", "3", "--rate", "400", "--history", "600",
                                       "--truth", "sim_dialects_truth.jsonl", NULL};
    if (simproc_start(&sp, args) != 0)
        return -1;
    sleep_ms(300); /* some history for REST */
    return 0;
}

static int teardown(void **state)
{
    simproc_stop(&sp);
    return 0;
}

static void ws_send_text(struct sim_rc *c, const char *s)
{
    assert_int_equal(sim_ws_send(c, 1, s, strlen(s)), 0);
}

static void expect(struct sim_rc *c, const char *needle)
{
    char *m = ws_expect(c, needle, 5000, NULL);
    if (!m)
        fail_msg("no frame containing %s", needle);
    free(m);
}

static void expect_get(const char *path, int status, const char *needle)
{
    char *body = NULL;
    int st = http_get(sp.port, path, &body);
    if (st != status || (needle && (!body || !strstr(body, needle))))
        fail_msg("GET %s: status %d body %.300s (wanted %d with %s)", path, st, body ? body : "",
                 status, needle ? needle : "");
    free(body);
}

static void native_subscribe_streams_batches_and_rejects_unknown(void **state)
{
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, "/native", 5000), 0);
    ws_send_text(&c, "{\"type\":\"subscribe\",\"channels\":[\"trade\",\"book\",\"ticker\"],\"instruments\":[\"SIM-0\",\"SIM-1\"]}");
    expect(&c, "\"type\":\"subscribed\"");
    expect(&c, "{\"type\":\"batch\",\"sent_ns\":");
    expect(&c, "\"events\":[{\"provider\":\"sim\"");
    expect(&c, "\"kind\":\"trade\"");
    expect(&c, "\"type\":\"heartbeat\"");
    ws_send_text(&c, "{\"type\":\"subscribe\",\"channels\":[\"trade\"],\"instruments\":[\"NOPE\"]}");
    expect(&c, "\"code\":\"unknown_market\"");
    ws_send_text(&c, "{\"type\":\"subscribe\",\"channels\":[\"bogus\"],\"instruments\":[\"SIM-0\"]}");
    expect(&c, "\"code\":\"unknown_channel\"");
    sim_rc_close(&c);
}

/* Every native batch carries the frame-sent stamp: 19 digits at a fixed
 * place, the simulator's CLOCK_REALTIME at the send, never decreasing on a
 * connection and never after this (same-machine) client received it. */
static void native_batches_carry_a_monotone_sent_stamp(void **state)
{
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, "/native", 5000), 0);
    ws_send_text(&c, "{\"type\":\"subscribe\",\"channels\":[\"trade\",\"book\",\"ticker\"],"
                     "\"instruments\":[\"SIM-0\",\"SIM-1\",\"SIM-2\"]}");
    static const char head[] = "{\"type\":\"batch\",\"sent_ns\":";
    long long prev = 0;
    for (int n = 0; n < 20;) {
        char *m = ws_expect(&c, "\"type\":\"batch\"", 5000, NULL);
        assert_non_null(m);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        long long recv = (long long)now.tv_sec * 1000000000ll + now.tv_nsec;
        if (strncmp(m, head, sizeof head - 1) != 0)
            fail_msg("batch without a sent_ns first: %.80s", m);
        char *end;
        long long v = strtoll(m + sizeof head - 1, &end, 10);
        assert_int_equal(end - (m + sizeof head - 1), 19);
        assert_true(strncmp(end, ",\"events\":[", 11) == 0);
        assert_true(v >= prev);
        assert_true(v <= recv);
        prev = v;
        n++;
        free(m);
    }
    sim_rc_close(&c);
}

static void native_rest_endpoints(void **state)
{
    expect_get("/native/markets", 200, "\"instruments\":[\"SIM-0\",\"SIM-1\",\"SIM-2\"]");
    expect_get("/native/trades?instrument=SIM-0&from_seq=1&limit=2", 200, "\"seq\":1,\"id\":\"1\"");
    expect_get("/native/trades?instrument=SIM-0&from_seq=1&limit=2", 200, "\"next_seq\":3");
    expect_get("/native/book?instrument=SIM-1", 200, "\"kind\":\"book_snapshot\"");
    expect_get("/native/status", 200, "\"status\":\"open\"");
    expect_get("/native/trades?instrument=NOPE", 404, NULL);
    expect_get("/nowhere", 404, NULL);
}

static void coinbase_subscribe_snapshot_updates_matches_heartbeat(void **state)
{
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, "/coinbase", 5000), 0);
    ws_send_text(&c, "{\"type\":\"subscribe\",\"product_ids\":[\"SIM0-USD\"],"
                     "\"channels\":[\"matches\",\"level2\",\"heartbeat\",{\"name\":\"ticker\",\"product_ids\":[\"SIM1-USD\"]}]}");
    expect(&c, "{\"type\":\"snapshot\",\"product_id\":\"SIM0-USD\"");
    expect(&c, "{\"type\":\"subscriptions\",\"channels\":[{\"name\":\"level2\",\"product_ids\":[\"SIM0-USD\"]}");
    expect(&c, "{\"type\":\"l2update\",\"product_id\":\"SIM0-USD\",\"changes\":[[");
    expect(&c, "{\"type\":\"match\",\"trade_id\":");
    expect(&c, "{\"type\":\"heartbeat\",\"sequence\":");
    ws_send_text(&c, "{\"type\":\"subscribe\",\"product_ids\":[\"NOPE-USD\"],\"channels\":[\"matches\"]}");
    expect(&c, "\"reason\":\"NOPE-USD is not a valid product\"");
    ws_send_text(&c, "{\"type\":\"subscribe\",\"product_ids\":[\"SIM0-USD\"],\"channels\":[\"full2\"]}");
    expect(&c, "\"reason\":\"full2 is not a valid channel\"");
    ws_send_text(&c, "{\"type\":\"unsubscribe\",\"product_ids\":[\"SIM0-USD\"],\"channels\":[\"level2\"]}");
    expect(&c, "{\"type\":\"subscriptions\",\"channels\":[{\"name\":\"matches\"");
    sim_rc_close(&c);
}

static void coinbase_rest_endpoints(void **state)
{
    expect_get("/coinbase/products", 200, "\"id\":\"SIM2-USD\"");
    expect_get("/coinbase/products/SIM0-USD/trades?limit=2", 200, "\"trade_id\":");
    expect_get("/coinbase/products/SIM0-USD/trades?limit=5&after=3", 200, "[{\"time\":");
    expect_get("/coinbase/products/SIM0-USD/trades?limit=1&before=1", 200, "\"trade_id\":2,");
    expect_get("/coinbase/products/SIM0-USD/book?level=2", 200, "{\"sequence\":");
    expect_get("/coinbase/status", 200, "\"status\":\"online\"");
    expect_get("/coinbase/products/NOPE-USD/trades", 404, NULL);
    char *hdr = NULL, *body = NULL;
    int st = sim_http(sp.port, "GET", "/coinbase/products/SIM0-USD/trades?limit=2", &body, &hdr, 5000);
    assert_int_equal(st, 200);
    assert_non_null(strstr(hdr, "cb-after:"));
    free(hdr);
    free(body);
    /* after=3 gives ids 2 and 1, newest first */
    st = http_get(sp.port, "/coinbase/products/SIM0-USD/trades?after=3", &body);
    assert_int_equal(st, 200);
    char *a = strstr(body, "\"trade_id\":2,"), *b = strstr(body, "\"trade_id\":1,");
    assert_true(a && b && a < b && !strstr(body, "\"trade_id\":3,"));
    free(body);
}

static void binance_raw_combined_and_live_subscribe(void **state)
{
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, "/binance/ws/sim0usdt@depth@100ms", 5000), 0);
    expect(&c, "{\"e\":\"depthUpdate\",\"E\":");
    ws_send_text(&c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"sim1usdt@trade\"],\"id\":7}");
    expect(&c, "{\"result\":null,\"id\":7}");
    expect(&c, "{\"e\":\"trade\"");
    ws_send_text(&c, "{\"method\":\"SUBSCRIBE\",\"params\":[\"nope@trade\"],\"id\":8}");
    expect(&c, "{\"error\":{\"code\":2,\"msg\":\"Invalid request: unknown stream\"},\"id\":8}");
    sim_rc_close(&c);
    assert_int_equal(sim_ws_open(&c, sp.port,
                                 "/binance/stream?streams=sim0usdt@aggTrade/sim0usdt@bookTicker", 5000), 0);
    expect(&c, "{\"stream\":\"sim0usdt@aggTrade\",\"data\":{\"e\":\"aggTrade\"");
    expect(&c, "{\"stream\":\"sim0usdt@bookTicker\",\"data\":{\"u\":");
    sim_rc_close(&c);
}

static void binance_rest_endpoints(void **state)
{
    expect_get("/binance/api/v3/depth?symbol=SIM0USDT&limit=100", 200, "{\"lastUpdateId\":");
    expect_get("/binance/api/v3/aggTrades?symbol=SIM0USDT&fromId=1&limit=2", 200, "[{\"a\":1,");
    expect_get("/binance/api/v3/historicalTrades?symbol=SIM0USDT&fromId=1&limit=2", 200, "[{\"id\":1,");
    expect_get("/binance/api/v3/exchangeInfo", 200, "\"symbol\":\"SIM1USDT\"");
    expect_get("/binance/sapi/v1/system/status", 200, "{\"status\":0,\"msg\":\"normal\"}");
    expect_get("/binance/api/v3/depth?symbol=NOPE", 404, "-1121");
}

static void kalshi_subscribe_snapshot_deltas_trades_and_errors(void **state)
{
    struct sim_rc c;
    assert_int_equal(sim_ws_open(&c, sp.port, "/kalshi/trade-api/ws/v2", 5000), 0);
    ws_send_text(&c, "{\"id\":1,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"orderbook_delta\",\"trade\"],"
                     "\"market_tickers\":[\"KXSIM-26JAN01-T0\",\"KXSIM-26JAN01-T1\"]}}");
    expect(&c, "{\"id\":1,\"type\":\"subscribed\",\"msg\":{\"channel\":\"orderbook_delta\",\"sid\":");
    expect(&c, "{\"type\":\"orderbook_snapshot\",\"sid\":");
    expect(&c, "{\"type\":\"orderbook_delta\",\"sid\":");
    expect(&c, "{\"type\":\"trade\",\"sid\":");
    ws_send_text(&c, "{\"id\":2,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"trade\"],\"market_tickers\":[\"NOPE\"]}}");
    expect(&c, "{\"id\":2,\"type\":\"error\",\"msg\":{\"code\":16,\"msg\":\"Market not found\"}}");
    ws_send_text(&c, "{\"id\":3,\"cmd\":\"subscribe\",\"params\":{\"channels\":[\"bogus\"],\"market_tickers\":[\"KXSIM-26JAN01-T0\"]}}");
    expect(&c, "{\"id\":3,\"type\":\"error\",\"msg\":{\"code\":8,");
    sim_rc_close(&c);
}

static void kalshi_rest_endpoints(void **state)
{
    expect_get("/kalshi/trade-api/v2/markets", 200, "{\"ticker\":\"KXSIM-26JAN01-T2\",\"status\":\"active\"}");
    expect_get("/kalshi/trade-api/v2/markets/trades?ticker=KXSIM-26JAN01-T0&limit=1", 200, "\"cursor\":\"");
    expect_get("/kalshi/trade-api/v2/markets/trades?ticker=KXSIM-26JAN01-T0&limit=1&cursor=1", 200,
               "\"cursor\":\"\"}");
    expect_get("/kalshi/trade-api/v2/markets/KXSIM-26JAN01-T0/orderbook", 200, "{\"orderbook_fp\":{\"yes_dollars\":[[");
    expect_get("/kalshi/trade-api/v2/exchange/status", 200, "\"exchange_active\":true");
    expect_get("/kalshi/trade-api/v2/markets/NOPE/orderbook", 404, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(native_subscribe_streams_batches_and_rejects_unknown),
        cmocka_unit_test(native_batches_carry_a_monotone_sent_stamp),
        cmocka_unit_test(native_rest_endpoints),
        cmocka_unit_test(coinbase_subscribe_snapshot_updates_matches_heartbeat),
        cmocka_unit_test(coinbase_rest_endpoints),
        cmocka_unit_test(binance_raw_combined_and_live_subscribe),
        cmocka_unit_test(binance_rest_endpoints),
        cmocka_unit_test(kalshi_subscribe_snapshot_deltas_trades_and_errors),
        cmocka_unit_test(kalshi_rest_endpoints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
