/* tickraft-sim: the exchange simulator program.
 *   tickraft-sim --port P --seed S --dialect coinbase|binance|kalshi|native[,..]
 *                --instruments N --rate EVENTS_PER_S [--history SECONDS]
 *                [--truth FILE] [--epoch NS] [--control-port P] [--max-subs N]
 *                [--max-events N] [--tick-us US] [--backpressure BYTES]
 *                [--tls-cert FILE --tls-key FILE] [--rest-port P]
 *   tickraft-sim --replay FILE [--speed X] [--port P] [--truth FILE]
 *   tickraft-sim --bench SECONDS [--rate R] [--instruments N] [--truth FILE]
 *   tickraft-sim ctl --port P <fault> [key=value ...]
 * On start it prints {"listening":PORT} on stdout (useful with --port 0),
 * {"listening":PORT,"rest_port":P} with --rest-port. */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr,
            "usage: tickraft-sim --port P --seed S --dialect D[,D..] --instruments N --rate R\n"
            "                    [--history S] [--truth FILE] [--epoch NS] [--control-port P]\n"
            "                    [--max-subs N] [--max-events N] [--tick-us US] [--markets-page N]\n"
            "                    [--backpressure BYTES] [--tls-cert FILE --tls-key FILE]\n"
            "                    [--rest-port P]\n"
            "       tickraft-sim --replay FILE [--speed X] [--port P] [--truth FILE]\n"
            "       tickraft-sim --bench SECONDS [--rate R] [--instruments N] [--truth FILE]\n"
            "       tickraft-sim ctl --port P <fault> [key=value ...]\n"
            "faults: close stall refuse http429 http5xx auth maintenance gap duplicate\n"
            "        malformed badframe unknown_market sub_limit tls_rekey close_notify clear\n"
            "        (docs/simulator.md)\n");
    return 2;
}

static int ctl_main(int argc, char **argv)
{
    int port = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2)
        if (i + 1 < argc && strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else
            return usage();
    if (!port || i >= argc)
        return usage();
    char path[2048];
    size_t n = (size_t)snprintf(path, sizeof path, "/control/%s", argv[i++]);
    for (char sep = '?'; i < argc && n < sizeof path; i++, sep = '&')
        n += (size_t)snprintf(path + n, sizeof path - n, "%c%s", sep, argv[i]);
    char *body = NULL;
    int st = sim_http(port, "POST", path, &body, NULL, 5000);
    if (st < 0) {
        fprintf(stderr, "tickraft-sim ctl: 127.0.0.1:%d: %s\n", port, tr_strerror(st));
        return 1;
    }
    printf("%s\n", body ? body : "");
    free(body);
    return st == 200 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return ctl_main(argc - 1, argv + 1);
    struct sim_config cfg = {0};
    cfg.seed = 1;
    cfg.instruments = 4;
    cfg.rate = 1000;
    cfg.history_s = 300;
    cfg.epoch_ns = -1;
    cfg.speed = 1;
    const char *dialects = "native";
    double bench = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--port")) cfg.port = atoi(v);
        else if (!strcmp(a, "--control-port")) cfg.control_port = atoi(v);
        else if (!strcmp(a, "--seed")) cfg.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--dialect")) dialects = v;
        else if (!strcmp(a, "--instruments")) cfg.instruments = (uint32_t)atoi(v);
        else if (!strcmp(a, "--rate")) cfg.rate = atof(v);
        else if (!strcmp(a, "--history")) cfg.history_s = atoll(v);
        else if (!strcmp(a, "--truth")) cfg.truth = v;
        else if (!strcmp(a, "--epoch")) cfg.epoch_ns = atoll(v);
        else if (!strcmp(a, "--max-subs")) cfg.max_subs = (uint32_t)atoi(v);
        else if (!strcmp(a, "--markets-page")) cfg.markets_page = (uint32_t)atoi(v);
        else if (!strcmp(a, "--max-events")) cfg.max_events = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tick-us")) cfg.tick_us = atoi(v);
        else if (!strcmp(a, "--backpressure")) cfg.backpressure = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--tick-ms")) cfg.tick_us = atoi(v) * 1000; /* older spelling */
        else if (!strcmp(a, "--tls-cert")) cfg.tls_cert = v;
        else if (!strcmp(a, "--tls-key")) cfg.tls_key = v;
        else if (!strcmp(a, "--rest-port")) cfg.rest_port = atoi(v);
        else if (!strcmp(a, "--replay")) cfg.replay = v;
        else if (!strcmp(a, "--speed")) cfg.speed = atof(v);
        else if (!strcmp(a, "--bench")) bench = atof(v);
        else return usage();
    }
    if (cfg.instruments == 0 || cfg.instruments > 100000 || cfg.rate <= 0 || cfg.tick_us < 0 ||
        cfg.tick_us > 1000000)
        return usage();
    if (bench > 0)
        return sim_bench_run(bench, cfg.rate > 1000 ? cfg.rate : 5e6, cfg.instruments, cfg.truth,
                             cfg.tick_us);
    for (const char *p = dialects; *p;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int d = sim_dialect_by_name(p, n);
        if (d < 0) {
            fprintf(stderr, "tickraft-sim: unknown dialect '%.*s'\n", (int)n, p);
            return 2;
        }
        cfg.dialects |= 1u << d;
        p = e ? e + 1 : p + n;
    }
    struct sim_server s;
    struct tr_error err;
    tr_error_clear(&err);
    if (sim_server_open(&s, &cfg, &err) != 0) {
        fprintf(stderr, "tickraft-sim: %s\n", err.msg);
        return 1;
    }
    if (s.cfg.rest_port)
        printf("{\"listening\":%d,\"rest_port\":%d}\n", s.cfg.port, s.cfg.rest_port);
    else
        printf("{\"listening\":%d}\n", s.cfg.port);
    fflush(stdout);
    sim_server_run(&s);
    sim_server_close(&s);
    return 0;
}
