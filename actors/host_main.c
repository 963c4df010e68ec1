/* tickraft-actor-host: the program supervisors exec for process actors.
 * This build knows the diagnostic kind "diag" (tests and benchmarks); the
 * node runs its own kinds, either through its own host program or by being
 * its own host (tr_system_opts.host_subcommand, tr_actor_host_main). It
 * accepts a leading "--actor-host" the same way the node would. */
#include <string.h>

#include "tickraft/actor_sup.h"

int main(int argc, char **argv)
{
    static const struct tr_actor_def *const kinds[] = {&tr_actor_diag_def, 0};
    if (argc > 1 && strcmp(argv[1], "--actor-host") == 0) {
        argv[1] = argv[0];
        return tr_actor_host_main(argc - 1, argv + 1, kinds);
    }
    return tr_actor_host_main(argc, argv, kinds);
}
