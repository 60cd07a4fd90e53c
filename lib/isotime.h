/* Times for people and JSON: ISO 8601 with the zone, one format everywhere. */
#ifndef JIT_ISOTIME_H
#define JIT_ISOTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISOTIME_LEN 32 /* "2026-05-01T10:00:00+02:00" and its NUL, with room */

/* Unix seconds t as "2026-05-01T08:00:00Z" (utc) or in local time with
 * its offset, "2026-05-01T10:00:00+02:00". */
void isotime_format(int64_t t, bool utc, char *out, size_t outlen);
/* The reverse, for either form (and a date alone, at midnight UTC); *ret
 * is unix seconds.  JIT_E_FORMAT for anything else. */
int isotime_parse(const char *s, int64_t *ret);

#endif
