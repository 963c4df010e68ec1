/* libFuzzer target: arbitrary bytes into the JSON-lines event parser. What
 * parses must print and parse back to an equal event. */
#include <stdint.h>
#include <stdlib.h>

#include "tickraft/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_event_scratch s;
    struct tr_buf buf;
    struct tr_event ev, again;
    tr_event_scratch_init(&s);
    tr_buf_init(&buf);
    if (tr_event_from_json((const char *)data, size, &ev, &s, NULL) == 0) {
        if (tr_event_validate(&ev, NULL) || tr_event_to_json(&ev, &buf))
            abort();
        if (tr_event_from_json((const char *)buf.data, buf.len, &again, &s, NULL))
            abort();
        if (!tr_event_equal(&ev, &again))
            abort();
    }
    tr_buf_free(&buf);
    tr_event_scratch_free(&s);
    return 0;
}
