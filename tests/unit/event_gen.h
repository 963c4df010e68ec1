/* Random but valid events for property-style tests (seeded, deterministic). */
#ifndef TR_TEST_EVENT_GEN_H
#define TR_TEST_EVENT_GEN_H

#include <stdint.h>

#include "tickraft/event.h"

/* xorshift64* state; never zero. */
uint64_t gen_next(uint64_t *rng);
/* Fills `ev` with a random event of a random kind. Levels are taken from
 * `lv` (capacity cap), raw bytes from `raw` (capacity raw_cap). */
void gen_event(uint64_t *rng, struct tr_event *ev, struct tr_level *lv, uint32_t cap,
               uint8_t *raw, uint32_t raw_cap);

#endif
