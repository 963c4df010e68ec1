/* tickraft-bench sim: the simulator's publish rate. One native-dialect
 * server on this thread generates, encodes (sim_nj_event; a batch per
 * writeable socket, up to 256 KiB) and writes events to one raw loopback
 * WebSocket client on another thread; the figures are events written per
 * second and the server thread's CPU per event (its one-core rate). Last
 * line: a JSON object. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

const char bench_sim_help[] =
    "simulator publish rate: [--seconds S] [--rate R] [--instruments N] [--truth FILE] [--tick-us US]";

int bench_sim_main(int argc, char **argv)
{
    double secs = 3, rate = 5e6;
    uint32_t inst = 8;
    const char *truth = NULL;
    int tick_us = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds")) secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--instruments")) inst = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--truth")) truth = argv[i + 1];
        else if (!strcmp(argv[i], "--tick-us")) tick_us = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: tickraft-bench sim %s\n", bench_sim_help);
            return 2;
        }
    }
    return sim_bench_run(secs, rate, inst ? inst : 1, truth, tick_us);
}
