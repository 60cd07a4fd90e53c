/* Unit tests of lib/duration.c: what people write, and what is refused. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "assert.h"
#include "duration.h"
#include "err.h"

TEST(accepted)
{
	static const struct {
		const char *s;
		int64_t want;
	} ok[] = {
		{ "90s", 90 },
		{ "15m", 900 },
		{ "2h", 7200 },
		{ "1d", 86400 },
		{ "1h30m", 5400 },
		{ "90", 90 },
		{ "1", 1 },
		{ "1s", 1 },
		{ "1h30m15s", 5415 },
		{ "1d2h", 93600 },
		{ "0h1s", 1 },
		{ "007m", 420 },
		{ "366d", DURATION_MAX_S },
		{ "31622400", DURATION_MAX_S },
		{ "365d23h59m60s", DURATION_MAX_S },
	};
	size_t i;
	int64_t v;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -1;
		ASSERT_MSG(duration_parse(ok[i].s, &v) == JIT_OK,
		    "\"%s\" refused", ok[i].s);
		ASSERT_MSG(v == ok[i].want, "\"%s\" is %lld, want %lld",
		    ok[i].s, (long long)v, (long long)ok[i].want);
	}
}

TEST(refused)
{
	static const char *const bad[] = {
		"",
		"m",
		"-5",
		"5x",
		"h1",
		"1.5h",
		" 5",
		"5 ",
		"5mm",
		"1h-5m",
		"+5",
		"5S",
		"5M",
		"0",
		"0s",
		"0m0s",
		"1w",
		"5\n",
		"1h 30m",
		"\xef\xbc\x95",
		"5m\n",
		"5\t",
	};
	size_t i;
	int64_t v = 1234;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(duration_parse(bad[i], &v) == JIT_E_ARG,
		    "\"%s\" not refused as JIT_E_ARG", bad[i]);
	ASSERT_ERR(duration_parse(NULL, &v), JIT_E_ARG);
	ASSERT_EQ_INT(v, 1234); /* untouched */
}

/* Values past DURATION_MAX_S, and numbers that would overflow, are limits. */
TEST(overflow)
{
	static const char *const big[] = {
		"367d",
		"31622401",
		"366d1s",
		"8785h",
		"527041m",
		"99999999999999999999",
		"9223372036854775807",
		"9223372036854775808s",
		"18446744073709551617d",
		"300d300d",
	};
	char many[2 * 367 + 1];
	size_t i;
	int64_t v = 1234;

	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		ASSERT_MSG(duration_parse(big[i], &v) == JIT_E_LIMIT,
		    "\"%s\" not refused as JIT_E_LIMIT", big[i]);
	/* 366 days a day at a time is the maximum; one more is not. */
	for (i = 0; i < 367; i++)
		memcpy(many + 2 * i, "1d", 2);
	many[2 * 366] = '\0';
	ASSERT_OK(duration_parse(many, &v));
	ASSERT_EQ_INT(v, DURATION_MAX_S);
	v = 1234;
	many[2 * 366] = '1';
	many[2 * 367] = '\0';
	ASSERT_ERR(duration_parse(many, &v), JIT_E_LIMIT);
	ASSERT_EQ_INT(v, 1234);
}

TEST(format)
{
	static const struct {
		int64_t s;
		const char *want;
	} f[] = {
		{ 0, "0s" },
		{ 42, "42s" },
		{ 59, "59s" },
		{ 60, "1m00s" },
		{ 900, "15m00s" },
		{ 3599, "59m59s" },
		{ 3600, "1h00m00s" },
		{ 3723, "1h02m03s" },
		{ 90000, "25h00m00s" },
		{ -5, "0s" },
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		duration_format(f[i].s, out, sizeof(out));
		ASSERT_EQ_STR(out, f[i].want);
	}
	/* A short buffer is filled, terminated, and not overrun. */
	memset(out, 'Z', sizeof(out));
	duration_format(3723, out, 4);
	ASSERT_EQ_STR(out, "1h0");
	ASSERT(out[4] == 'Z');
}

static const struct test_case tests[] = {
	TEST_ENTRY(accepted),
	TEST_ENTRY(refused),
	TEST_ENTRY(overflow),
	TEST_ENTRY(format),
};

TEST_MAIN(tests)
