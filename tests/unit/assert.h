/* A small ASSERT header and test runner: exit 0 pass, 1 fail, 77 skip. */
#ifndef JIT_TEST_ASSERT_H
#define JIT_TEST_ASSERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

/*
 * A test is a function declared with TEST(name).  A failed ASSERT prints
 * file:line and what it saw, then returns from the test, so one test stops
 * at its first failure and the next test still runs.  Helpers that assert
 * must be void and be followed by ASSERT_PASSING() in their caller.
 *
 *	TEST(wire_short)
 *	{
 *		ASSERT_ERR(wire_get_u8(&r, &v), JIT_E_FORMAT);
 *	}
 *	static const struct test_case tests[] = { TEST_ENTRY(wire_short) };
 *	TEST_MAIN(tests)
 */

#define TEST_EXIT_PASS 0
#define TEST_EXIT_FAIL 1
#define TEST_EXIT_SKIP 77

struct test_case {
	const char *name;
	void (*fn)(void);
};

struct test_state {
	bool failed; /* the current test failed */
	bool skipped; /* the current test asked to be skipped */
};

static struct test_state test_state;

/* The macros keep their tabular layout. */
/* clang-format off */
#define TEST(name)	static void name(void)
#define TEST_ENTRY(name)	{ #name, name }

static inline void
test_fail_hdr(const char *file, int line)
{
	fprintf(stderr, "%s:%d: ", file, line);
	test_state.failed = true;
}

/* The error code as "JIT_E_NAME (-n: sentence)". */
static inline void
test_print_err(const char *label, long long r)
{
	if (r >= INT32_MIN && r <= INT32_MAX)
		fprintf(stderr, "  %s = %lld (%s: %s)\n", label, r,
		    jit_errname((int)r), jit_strerror((int)r));
	else
		fprintf(stderr, "  %s = %lld\n", label, r);
}

#define ASSERT(cond) do {						\
	if (!(cond)) {							\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT(%s) failed\n", #cond);		\
		return;							\
	}								\
} while (0)

/* Like ASSERT, with a printf-style explanation. */
#define ASSERT_MSG(cond, ...) do {					\
	if (!(cond)) {							\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT(%s) failed: ", #cond);		\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		return;							\
	}								\
} while (0)

#define ASSERT_EQ_INT(a, b) do {					\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_) {							\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT_EQ_INT(%s, %s) failed: %lld != "	\
		    "%lld\n", #a, #b, a_, b_);				\
		return;							\
	}								\
} while (0)

#define ASSERT_EQ_UINT(a, b) do {					\
	unsigned long long a_ = (unsigned long long)(a);		\
	unsigned long long b_ = (unsigned long long)(b);		\
	if (a_ != b_) {							\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT_EQ_UINT(%s, %s) failed: %llu != "	\
		    "%llu (0x%llx != 0x%llx)\n", #a, #b, a_, b_, a_, b_);	\
		return;							\
	}								\
} while (0)

#define ASSERT_EQ_STR(a, b) do {					\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {		\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT_EQ_STR(%s, %s) failed: \"%s\" != "	\
		    "\"%s\"\n", #a, #b, a_ ? a_ : "(null)",		\
		    b_ ? b_ : "(null)");				\
		return;							\
	}								\
} while (0)

#define ASSERT_EQ_MEM(a, b, n) do {					\
	size_t n_ = (n);						\
	if (n_ > 0 && memcmp((a), (b), n_) != 0) {			\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT_EQ_MEM(%s, %s, %zu) failed\n",	\
		    #a, #b, n_);					\
		return;							\
	}								\
} while (0)

/* r must be JIT_OK; otherwise say which error it was. */
#define ASSERT_OK(r) do {						\
	long long r_ = (long long)(r);					\
	if (r_ != 0) {							\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT_OK(%s) failed\n", #r);		\
		test_print_err("got", r_);				\
		return;							\
	}								\
} while (0)

/* r must be exactly the error code want. */
#define ASSERT_ERR(r, want) do {					\
	long long r_ = (long long)(r), w_ = (long long)(want);		\
	if (r_ != w_) {							\
		test_fail_hdr(__FILE__, __LINE__);			\
		fprintf(stderr, "ASSERT_ERR(%s, %s) failed\n", #r, #want);	\
		test_print_err("got", r_);				\
		test_print_err("want", w_);				\
		return;							\
	}								\
} while (0)

/* After calling a helper that asserts: stop if it failed. */
#define ASSERT_PASSING() do {						\
	if (test_state.failed)						\
		return;							\
} while (0)

/* Skip the current test (a missing facility, not a failure). */
#define TEST_SKIP(...) do {						\
	fprintf(stderr, "skip: ");					\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	test_state.skipped = true;					\
	return;								\
} while (0)

/* clang-format on */

/*
 * Run every test, or only those named on the command line.  Exit 0 when
 * none failed and at least one ran, 77 when every one that ran skipped,
 * 1 when any failed.
 */
static inline int
test_main(const struct test_case *t, size_t n, int argc, char **argv)
{
	size_t i, ran = 0, failed = 0, skipped = 0;
	int k, want;

	if (sodium_init() < 0) {
		fprintf(stderr, "sodium_init failed\n");
		return TEST_EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		want = argc <= 1;
		for (k = 1; k < argc; k++)
			if (strcmp(argv[k], t[i].name) == 0)
				want = 1;
		if (!want)
			continue;
		memset(&test_state, 0, sizeof(test_state));
		t[i].fn();
		ran++;
		if (test_state.failed) {
			failed++;
			printf("FAIL %s\n", t[i].name);
		} else if (test_state.skipped) {
			skipped++;
			printf("SKIP %s\n", t[i].name);
		} else
			printf("ok   %s\n", t[i].name);
		fflush(stdout);
	}
	printf("%zu tests: %zu passed, %zu failed, %zu skipped\n", ran,
	    ran - failed - skipped, failed, skipped);
	if (ran == 0) {
		fprintf(stderr, "no test matched\n");
		return TEST_EXIT_FAIL;
	}
	if (failed > 0)
		return TEST_EXIT_FAIL;
	return skipped == ran ? TEST_EXIT_SKIP : TEST_EXIT_PASS;
}

/* clang-format off */
#define TEST_MAIN(tests)						\
	int								\
	main(int argc, char **argv)					\
	{								\
		return test_main(tests, sizeof(tests) / sizeof(tests[0]),	\
		    argc, argv);					\
	}
/* clang-format on */

#endif
