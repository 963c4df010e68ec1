/* tickraft-ctl: the operator's command line. Dispatches to one subcommand;
 * the table is generated from the node/ctl_<name>.c files
 * (cmake/commands.cmake). Exit codes: 0 ok, 1 the operation failed,
 * 2 bad usage (docs/ctl.md). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *help;
};
#include "ctl_commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tickraft-ctl <command> [options]\n\ncommands:\n");
    for (const struct command *c = ctl_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->help);
    fprintf(out, "\nRun 'tickraft-ctl <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (const struct command *c = ctl_commands; c->name; c++)
        if (strcmp(c->name, argv[1]) == 0)
            return c->main(argc - 1, argv + 1);
    fprintf(stderr, "tickraft-ctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
