/* libFuzzer target: arbitrary bytes as a node configuration file
 * (node/config.c). Every input either parses or fails with TR_ECONFIG
 * (never another code, never a crash); what parses must print with
 * tr_config_write and parse back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_config c;
    struct tr_error err;
    tr_config_init(&c);
    int rc = tr_config_parse(&c, "fuzz.conf", (const char *)data, size, &err);
    if (rc != 0 && rc != TR_ECONFIG && rc != TR_ENOMEM)
        abort();
    if (rc == 0) {
        struct tr_buf out;
        tr_buf_init(&out);
        if (tr_config_write(&c, &out) != 0)
            abort();
        struct tr_config again;
        tr_config_init(&again);
        /* key_env/key_file re-read their sources, which may have changed */
        int rc2 = tr_config_parse(&again, "again.conf", (const char *)out.data, out.len, &err);
        if (rc2 != 0 && !strstr(err.msg, "key 'key_"))
            abort();
        if (rc2 == 0 && (again.n_feeds != c.n_feeds || again.node_id != c.node_id))
            abort();
        tr_config_close(&again);
        tr_buf_free(&out);
    }
    tr_config_close(&c);
    return 0;
}
