/* tickraft-actor-host: the program supervisors exec for process actors.
 * This build knows the diagnostic kind "diag" (tests and benchmarks); the
 * node builds its own host with its provider kinds (tr_actor_host_main). */
#include "tickraft/actor_sup.h"

extern const struct tr_actor_def tr_actor_diag_def;

int main(int argc, char **argv)
{
    static const struct tr_actor_def *const kinds[] = {&tr_actor_diag_def, 0};
    return tr_actor_host_main(argc, argv, kinds);
}
