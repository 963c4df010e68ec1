/* libFuzzer target: arbitrary bytes into the event msgpack decoder (as a
 * batch, the way peers and actors deliver them). Whatever decodes must
 * validate, re-encode and decode to an equal event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tickraft/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_event_scratch s;
    struct tr_buf buf;
    tr_event_scratch_init(&s);
    tr_buf_init(&buf);
    size_t off = 0, used;
    uint32_t n = 0;
    if (tr_event_batch_header(data, size, &n, &off, NULL) == 0) {
        for (uint32_t i = 0; i < n && off < size; i++) {
            struct tr_event ev, again;
            if (tr_event_decode(data + off, size - off, &used, &ev, &s, NULL))
                break;
            if (used == 0 || used > size - off)
                abort();
            off += used;
            if (tr_event_validate(&ev, NULL))
                abort();
            buf.len = 0;
            if (tr_event_encode(&ev, &buf))
                abort();
            if (tr_event_decode(buf.data, buf.len, &used, &again, &s, NULL) || used != buf.len)
                abort();
            if (!tr_event_equal(&ev, &again))
                abort();
        }
    }
    tr_buf_free(&buf);
    tr_event_scratch_free(&s);
    return 0;
}
