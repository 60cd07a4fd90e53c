/* ISO 8601 times with their zone: formatting and the reverse. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "isotime.h"

void
isotime_format(int64_t t, bool utc, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;
	long off, h, m;
	char base[24];

	if ((utc ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, outlen, "1970-01-01T00:00:00Z");
		return;
	}
	if (utc) {
		snprintf(out, outlen, "%sZ", base);
		return;
	}
	off = tm.tm_gmtoff;
	h = (off < 0 ? -off : off) / 3600;
	m = ((off < 0 ? -off : off) % 3600) / 60;
	snprintf(
	    out, outlen, "%s%c%02ld:%02ld", base, off < 0 ? '-' : '+', h, m);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
isotime_parse(const char *s, int64_t *ret)
{
	int y, mo, d, h = 0, mi = 0, se = 0, oh = 0, om = 0, n = 0;
	char sign = 0;
	size_t len = strlen(s);
	int64_t t;

	if (len == 10) {
		if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
			return JIT_E_FORMAT;
	} else if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
		       &se, &n) != 6 ||
	    n != 19) {
		return JIT_E_FORMAT;
	} else if (strcmp(s + 19, "Z") != 0) {
		if (len != 25 || (s[19] != '+' && s[19] != '-') ||
		    sscanf(s + 20, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
			return JIT_E_FORMAT;
		sign = s[19];
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60 || oh > 23 || om > 59 || y < 1970)
		return JIT_E_FORMAT;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	if (sign == '+')
		t -= oh * 3600 + om * 60;
	else if (sign == '-')
		t += oh * 3600 + om * 60;
	*ret = t;
	return JIT_OK;
}
