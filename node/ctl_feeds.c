/* tickraft-ctl feeds: list, pause and resume the node's feeds (admin RPC
 * "feeds", answered by the node's pipeline; docs/ctl.md). */
#include <stdio.h>
#include <string.h>

#include "pub_ctl.h"

const char ctl_feeds_help[] = "list the node's feeds, or pause / resume one";

int ctl_feeds_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "feeds", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl feeds [list | pause FEED | resume FEED] [options]\n\n%s\n\n",
               ctl_feeds_help);
        ctl_common_help(stdout);
        return 0;
    }
    const char *args[2] = {"list", NULL};
    size_t n = 1;
    if (argc == 3 && (strcmp(argv[1], "pause") == 0 || strcmp(argv[1], "resume") == 0)) {
        args[0] = argv[1];
        args[1] = argv[2];
        n = 2;
    } else if (argc > 2 || (argc == 2 && strcmp(argv[1], "list") != 0)) {
        fprintf(stderr, "tickraft-ctl feeds: expected 'list', 'pause FEED' or 'resume FEED'\n");
        return CTL_EXIT_USAGE;
    }
    return ctl_admin_print(&o, "feeds", args, n, NULL);
}
