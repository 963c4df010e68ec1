/* Exact decimal numbers for prices and sizes: value = mant / 10^scale.
 * Provider text goes to a tr_decimal and back without binary floating point
 * and without rounding: "0.00100000" keeps its eight places. What does not
 * fit in an int64 mantissa or 18 places is rejected (TR_ERANGE), never
 * rounded. */
#ifndef TICKRAFT_DECIMAL_H
#define TICKRAFT_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#define TR_DECIMAL_MAX_SCALE 18
/* Longest printed form: sign, 19 digits, point, leading "0." padding, NUL. */
#define TR_DECIMAL_STRLEN 48

struct tr_decimal {
    int64_t mant;
    uint8_t scale; /* 0..TR_DECIMAL_MAX_SCALE */
};

/* Parses `len` bytes of `s`: optional '-', digits, optional '.' and digits.
 * No exponent, no '+', no spaces, at least one digit. Returns 0,
 * TR_EPARSE (not a decimal) or TR_ERANGE (does not fit). */
int tr_decimal_parse(const char *s, size_t len, struct tr_decimal *out);

/* Writes the decimal's text (scale digits after the point) into `buf`,
 * which must hold TR_DECIMAL_STRLEN bytes; returns the length. */
size_t tr_decimal_format(struct tr_decimal d, char *buf);

/* Compares by value (1.50 == 1.5); returns <0, 0, >0. */
int tr_decimal_cmp(struct tr_decimal a, struct tr_decimal b);

/* True when `d` is structurally valid (scale in range). */
int tr_decimal_valid(struct tr_decimal d);

#endif
