/* The node's supervision tree spec (node/act_front.c act_tree_spec) takes
 * the collector's restart backoff from [node] dedup_backoff_* (the
 * deduplicator lives in the collector; docs/configuration.md), and keeps
 * the writer's own. No threads, no I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "act.h"
#include "config.h"

static void collector_restart_backoff_is_dedup_backoff(void **state)
{
    (void)state;
    struct tr_config cfg;
    tr_config_init(&cfg);
    assert_int_equal(cfg.dedup_backoff.base_ms, 500); /* default: 0.5 s .. 30 s */
    assert_int_equal(cfg.dedup_backoff.max_ms, 30000);
    cfg.dedup_backoff.base_ms = 300;
    cfg.dedup_backoff.max_ms = 7000;
    struct pipe_cfg pc;
    memset(&pc, 0, sizeof pc);
    struct act_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &cfg;
    ctx.pcfg = &pc;
    struct tr_child_spec kids[4];
    struct tr_sup_spec root;
    act_tree_spec(&ctx, kids, &root);
    assert_int_equal(root.n_children, 1 + 1 + cfg.http_enabled); /* no publisher */
    assert_string_equal(kids[1].id, "collector");
    assert_int_equal(kids[1].backoff_base_ms, 300);
    assert_int_equal(kids[1].backoff_max_ms, 7000);
    assert_string_equal(kids[0].id, "writer");
    assert_int_equal(kids[0].backoff_base_ms, 200);
    tr_config_close(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(collector_restart_backoff_is_dedup_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
