/* libFuzzer target: the native adapter's frame parser plus the sequencer and
 * its REST body parsers, on arbitrary bytes. Must never crash, leak or
 * leave a half-filled event: on error the frame holds no events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/provider.h"

static int sink_cb(void *arg, const struct tr_event *ev)
{
    (void)arg;
    if (ev->kind != TR_KIND_GAP && tr_event_validate(ev, NULL) != 0)
        abort(); /* an accepted event is always valid */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct tr_provider_ops *ops = &tr_provider_native;
    struct tr_provider p;
    struct tr_frame f;
    struct tr_error err;
    struct tr_sequencer *seq;
    if (tr_provider_init(&p, ops, &err))
        return 0;
    if (tr_sequencer_alloc(ops, &seq, &err)) {
        tr_provider_close(&p);
        return 0;
    }
    tr_frame_init(&f);
    /* Several frames per input, split on newlines, so state (Kalshi books,
     * sequencer) is exercised across frames. */
    const char *s = (const char *)data, *end = s + size;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (tr_provider_parse(&p, s, n, 1, &f, &err) == 0)
            tr_sequencer_step(seq, &f, sink_cb, NULL);
        else if (f.n_events != 0)
            abort(); /* never a half-filled event */
        s += n + 1;
    }
    struct tr_rest_result res;
    for (int k = TR_REST_TRADES; k <= TR_REST_STATUS; k++) {
        struct tr_rest_req req = {.kind = (uint8_t)k, .instrument = "X", .limit = 2};
        tr_rest_result_init(&res);
        if (ops->rest_parse(&req, (const char *)data, size, &f, &res, &err) != 0 && f.n_events)
            abort();
        tr_rest_result_free(&res);
    }
    tr_frame_free(&f);
    tr_sequencer_free(seq);
    tr_provider_close(&p);
    return 0;
}
