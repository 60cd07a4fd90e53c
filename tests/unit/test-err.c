/* Unit tests of lib/err.c: every code has a sentence and its own name. */
#include <limits.h>
#include <string.h>

#include "assert.h"
#include "err.h"

#define E(x) \
	{ \
		x, #x \
	}

/* The enum, spelt out: the table in err.c must agree with it. */
static const struct {
	int code;
	const char *name;
} all[] = {
	E(JIT_OK),
	E(JIT_E_NOMEM),
	E(JIT_E_FORMAT),
	E(JIT_E_LIMIT),
	E(JIT_E_DENIED),
	E(JIT_E_NO_TOUCH),
	E(JIT_E_PIN),
	E(JIT_E_PIN_BLOCKED),
	E(JIT_E_NODEV),
	E(JIT_E_EXPIRED),
	E(JIT_E_LOCKED),
	E(JIT_E_NOENT),
	E(JIT_E_EXISTS),
	E(JIT_E_IO),
	E(JIT_E_CRYPTO),
	E(JIT_E_AUTH),
	E(JIT_E_HW),
	E(JIT_E_ARG),
	E(JIT_E_PEER),
	E(JIT_E_TIMEOUT),
	E(JIT_E_CANCELLED),
	E(JIT_E_UNSUPPORTED),
	E(JIT_E_MLOCK),
	E(JIT_E_AGENT_LOCKED),
	E(JIT_E_NOTOKEN),
	E(JIT_E_WRONG_TOKEN),
	E(JIT_E_BUSY),
	E(JIT_E_CONFIG),
	E(JIT_E_ISSUER),
	E(JIT_E_AGENT),
	E(JIT_E_SIMULATED),
	E(JIT_E_PIN_REQUIRED),
	E(JIT_E_INTERNAL),
	E(JIT_E_UNVERIFIED),
};

/* Every code from JIT_OK to JIT_E_LAST + 1: a sentence, a distinct name. */
TEST(every_code)
{
	int r, q;

	for (r = JIT_OK; r > JIT_E_LAST; r--) {
		const char *s = jit_strerror(r), *n = jit_errname(r);

		ASSERT_MSG(
		    s != NULL && s[0] != '\0', "code %d: no sentence", r);
		ASSERT_MSG(
		    strcmp(s, "unknown error") != 0, "code %d: unknown", r);
		ASSERT_MSG(
		    n != NULL && strncmp(n, "JIT_", 4) == 0 && strlen(n) > 4,
		    "code %d: name \"%s\"", r, n ? n : "");
		ASSERT_MSG(strcmp(n, "JIT_E_UNKNOWN") != 0, "code %d", r);
		for (q = JIT_OK; q > r; q--) {
			ASSERT_MSG(strcmp(jit_errname(q), n) != 0,
			    "codes %d and %d are both %s", q, r, n);
			ASSERT_MSG(strcmp(jit_strerror(q), s) != 0,
			    "codes %d and %d say the same: %s", q, r, s);
		}
	}
}

/* Each name is the enumerator's own spelling. */
TEST(names_match_enum)
{
	size_t i;

	ASSERT_EQ_UINT(sizeof(all) / sizeof(all[0]), (size_t)-JIT_E_LAST);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		ASSERT_EQ_INT(all[i].code, -(int)i);
		ASSERT_EQ_STR(jit_errname(all[i].code), all[i].name);
	}
	ASSERT_EQ_STR(jit_strerror(JIT_OK), "success");
}

/* Anything outside the enum is an unknown error, never a crash. */
TEST(out_of_range)
{
	static const int bad[] = {
		JIT_E_LAST,
		JIT_E_LAST - 1,
		-1000,
		1,
		2,
		1000,
		INT_MIN,
		INT_MIN + 1,
		INT_MAX,
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ_STR(jit_strerror(bad[i]), "unknown error");
		ASSERT_EQ_STR(jit_errname(bad[i]), "JIT_E_UNKNOWN");
	}
}

static const struct test_case tests[] = {
	TEST_ENTRY(every_code),
	TEST_ENTRY(names_match_enum),
	TEST_ENTRY(out_of_range),
};

TEST_MAIN(tests)
