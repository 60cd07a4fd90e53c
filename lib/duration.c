/* Durations as people write them: 90s, 15m, 2h, 1d, 1h30m. */
#include <stdio.h>

#include "duration.h"
#include "err.h"

int
duration_parse(const char *s, int64_t *ret_s)
{
	int64_t total = 0, n;
	int digits;

	if (s == NULL || *s == '\0')
		return JIT_E_ARG;
	while (*s != '\0') {
		for (n = 0, digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
			n = n * 10 + (*s - '0');
			if (n > DURATION_MAX_S)
				return JIT_E_LIMIT;
		}
		if (digits == 0)
			return JIT_E_ARG;
		switch (*s) {
		case '\0': break;
		case 's': s++; break;
		case 'm':
			n *= 60;
			s++;
			break;
		case 'h':
			n *= 3600;
			s++;
			break;
		case 'd':
			n *= 86400;
			s++;
			break;
		default: return JIT_E_ARG;
		}
		total += n;
		if (total > DURATION_MAX_S)
			return JIT_E_LIMIT;
	}
	if (total < 1)
		return JIT_E_ARG;
	*ret_s = total;
	return JIT_OK;
}

void
duration_format(int64_t s, char *out, size_t outlen)
{
	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(out, outlen, "%lldh%02lldm%02llds",
		    (long long)(s / 3600), (long long)(s / 60 % 60),
		    (long long)(s % 60));
	else if (s >= 60)
		snprintf(out, outlen, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		snprintf(out, outlen, "%llds", (long long)s);
}
