/* Durations as people write them: 90s, 15m, 2h, 1d, 1h30m. */
#ifndef JIT_DURATION_H
#define JIT_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_MAX_S (366LL * 24 * 3600)

/* Parse into seconds (1 .. DURATION_MAX_S); a bare number is seconds. */
int duration_parse(const char *s, int64_t *ret_s);
/* Format seconds as "1h02m03s" / "15m00s" / "42s". */
void duration_format(int64_t s, char *out, size_t outlen);

#endif
