/* tickraft-ctl status: show the node's state: log positions, subscribers, pipeline (admin RPC "status", docs/ctl.md). */
#include <stdio.h>
#include <string.h>

#include "pub_ctl.h"

const char ctl_status_help[] = "show the node's state: log positions, subscribers, pipeline";

int ctl_status_main(int argc, char **argv)
{
    struct ctl_common o;
    int rc = ctl_common_parse(&o, "status", &argc, argv);
    if (rc)
        return rc;
    if (o.help) {
        printf("usage: tickraft-ctl status [options]\n\n%s\n\n", ctl_status_help);
        ctl_common_help(stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "tickraft-ctl status: unexpected argument '%s'\n", argv[1]);
        return CTL_EXIT_USAGE;
    }
    return ctl_admin_print(&o, "status", NULL, 0, NULL);
}
