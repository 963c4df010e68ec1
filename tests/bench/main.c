/* tickraft-bench: runs one benchmark subcommand; each prints its figures and
 * a JSON object as its last line. The subcommand table is generated from the
 * bench_<name>.c files (cmake/commands.cmake). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
};
#include "bench_commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tickraft-bench <benchmark> [options]\n\nbenchmarks:\n");
    for (const struct command *c = bench_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->help);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (const struct command *c = bench_commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->main(argc - 1, argv + 1);
    fprintf(stderr, "tickraft-bench: unknown benchmark '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
