/* Unit tests of lib/optcheck.c: exact long options only, no secrets. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assert.h"
#include "err.h"
#include "optcheck.h"

/* jitctl unlock's options. */
static const char unlock_short[] = ":af:t:p:h";
static const struct option unlock_long[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "for", required_argument, NULL, 'f' },
	{ "token", required_argument, NULL, 't' },
	{ "pin-fd", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* jitctl's global options: stop at the verb. */
static const char global_short[] = "+:s:h";
static const struct option global_long[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "data-dir", required_argument, NULL, 'D' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* enroll declares --no-pin, which is no secret. */
static const struct option enroll_long[] = {
	{ "label", required_argument, NULL, 'l' },
	{ "pin-fd", required_argument, NULL, 'p' },
	{ "no-pin", no_argument, NULL, 'N' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static char why[OPTCHECK_WHY_MAX];

/* Run optcheck on a copy of a NULL-terminated argv (getopt's type). */
static int
check(const char *shortopts, const struct option *longopts,
    const char *const *args)
{
	char *v[16];
	int argc, i, r;

	for (argc = 0; args[argc] != NULL && argc < 15; argc++)
		if ((v[argc] = strdup(args[argc])) == NULL)
			abort();
	v[argc] = NULL;
	r = optcheck(argc, v, shortopts, longopts, why, sizeof(why));
	for (i = 0; i < argc; i++)
		free(v[i]);
	return r;
}

TEST(exact_names_pass)
{
	static const char *const a1[] = { "unlock", "--all", "--for", "10m",
		"--pin-fd", "3", "--token=laptop", NULL };
	static const char *const a2[] = { "unlock", "x", "-p", "3", "y", "-af",
		"5m", "--help", NULL };
	static const char *const a3[] = { "enroll", "--no-pin", "--label",
		"--pin", NULL };

	ASSERT_OK(check(unlock_short, unlock_long, a1));
	ASSERT_EQ_STR(why, "");
	ASSERT_OK(check(unlock_short, unlock_long, a2));
	/* A value is a value, whatever it looks like. */
	ASSERT_OK(check(":l:p:h", enroll_long, a3));
}

TEST(abbreviation_refused)
{
	static const char *const a1[] = { "unlock", "x", "--pin-f", "3", NULL };
	static const char *const a2[] = { "unlock", "--al", "x", NULL };
	static const char *const a3[] = { "unlock", "--to=laptop", "x", NULL };
	static const char *const a4[] = { "enroll", "--lab", "x", NULL };
	static const char *const a5[] = { "unlock", "--lab", "x", NULL };

	ASSERT_ERR(check(unlock_short, unlock_long, a1), JIT_E_ARG);
	ASSERT_EQ_STR(why,
	    "unknown option --pin-f (options are never abbreviated: did you mean --pin-fd?)");
	ASSERT_ERR(check(unlock_short, unlock_long, a2), JIT_E_ARG);
	ASSERT_MSG(
	    strstr(why, "--al ") != NULL && strstr(why, "--all?"), "%s", why);
	ASSERT_ERR(check(unlock_short, unlock_long, a3), JIT_E_ARG);
	ASSERT_MSG(strstr(why, "--to ") != NULL && strstr(why, "--token?") &&
		strstr(why, "laptop") == NULL,
	    "%s", why);
	ASSERT_ERR(check(":l:p:h", enroll_long, a4), JIT_E_ARG);
	ASSERT_MSG(strstr(why, "--label?") != NULL, "%s", why);
	/* Nothing to suggest: just unknown. */
	ASSERT_ERR(check(unlock_short, unlock_long, a5), JIT_E_ARG);
	ASSERT_EQ_STR(why, "unknown option --lab");
}

TEST(secret_refused)
{
	static const char *const bad[][4] = {
		{ "unlock", "x", "--pin", "2" },
		{ "unlock", "--pin", "1234", "x" },
		{ "unlock", "x", "--pin=1234", NULL },
		{ "unlock", "--password", "hunter2", NULL },
		{ "unlock", "--passphrase=a b", NULL, NULL },
		{ "unlock", "--secret", "s", NULL },
		{ "unlock", "--key=abc", NULL, NULL },
		{ "unlock", "--API_KEY=abc", NULL, NULL },
		{ "unlock", "--db-password", "p", NULL },
		{ "unlock", "-pin", "1234", NULL },
		{ "unlock", "-password=x", NULL, NULL },
		{ "unlock", "--PIN", "1", NULL },
	};
	const char *args[5];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(args, bad[i], sizeof(bad[i]));
		args[4] = NULL;
		ASSERT_MSG(
		    check(unlock_short, unlock_long, args) == JIT_E_DENIED,
		    "%s %s: %s", bad[i][1], bad[i][2] ? bad[i][2] : "", why);
		ASSERT_MSG(
		    strstr(why, OPTCHECK_SECRETS_FROM) != NULL, "%s", why);
		/* The sentence never repeats the value. */
		ASSERT_MSG(strstr(why, "1234") == NULL &&
			strstr(why, "hunter2") == NULL &&
			strstr(why, "abc") == NULL &&
			strstr(why, "a b") == NULL,
		    "%s", why);
	}
}

TEST(global_stops_at_verb)
{
	static const char *const ok1[] = { "jitctl", "-s", "/x", "unlock",
		"--pin", "2", NULL };
	static const char *const ok2[] = { "jitctl", "--socket", "--pin",
		"status", NULL };
	static const char *const bad1[] = { "jitctl", "--sock", "/x", "status",
		NULL };
	static const char *const bad2[] = { "jitctl", "--pin=1", "status",
		NULL };

	/* The verb's options are the verb's to check. */
	ASSERT_OK(check(global_short, global_long, ok1));
	ASSERT_OK(check(global_short, global_long, ok2));
	ASSERT_ERR(check(global_short, global_long, bad1), JIT_E_ARG);
	ASSERT_MSG(strstr(why, "--socket?") != NULL, "%s", why);
	ASSERT_ERR(check(global_short, global_long, bad2), JIT_E_DENIED);
}

TEST(double_dash_ends_options)
{
	static const char *const a1[] = { "exec", "x", "--", "cmd", "--pin",
		"1", NULL };
	static const char *const a2[] = { "unlock", "x", "-t", "-", "--pin",
		NULL };

	ASSERT_OK(check(":p:h", unlock_long, a1));
	/* "-" is an operand, and "-t"'s value; --pin after it is seen. */
	ASSERT_ERR(check(unlock_short, unlock_long, a2), JIT_E_DENIED);
}

TEST(short_values_skipped)
{
	static const char *const a1[] = { "unlock", "-t", "--pin", "x", NULL };
	static const char *const a2[] = { "unlock", "-at", "--pin", "x", NULL };
	static const char *const a3[] = { "unlock", "-tlab", "--pin", NULL };
	static const char *const a4[] = { "unlock", "-p1234", "x", NULL };

	/* -t takes "--pin" as its label, as getopt_long will. */
	ASSERT_OK(check(unlock_short, unlock_long, a1));
	ASSERT_OK(check(unlock_short, unlock_long, a2));
	/* -tlab carries its value: --pin is an option. */
	ASSERT_ERR(check(unlock_short, unlock_long, a3), JIT_E_DENIED);
	/* -p1234 is a descriptor number; the caller checks it is open. */
	ASSERT_OK(check(unlock_short, unlock_long, a4));
}

TEST(posixly_correct_stops_at_operand)
{
	static const char *const a1[] = { "unlock", "x", "--lab", NULL };

	ASSERT_ERR(check(unlock_short, unlock_long, a1), JIT_E_ARG);
	setenv("POSIXLY_CORRECT", "1", 1);
	ASSERT_OK(check(unlock_short, unlock_long, a1));
	unsetenv("POSIXLY_CORRECT");
}

TEST(long_name_bounded)
{
	char name[400];
	const char *args[] = { "unlock", name, NULL };

	memset(name, 'a', sizeof(name) - 1);
	name[0] = name[1] = '-';
	name[sizeof(name) - 1] = '\0';
	ASSERT_ERR(check(unlock_short, unlock_long, args), JIT_E_ARG);
	ASSERT(strlen(why) < 100);
	name[5] = '\n';
	ASSERT_ERR(check(unlock_short, unlock_long, args), JIT_E_ARG);
	ASSERT(strchr(why, '\n') == NULL);
}

static const struct test_case tests[] = {
	TEST_ENTRY(exact_names_pass),
	TEST_ENTRY(abbreviation_refused),
	TEST_ENTRY(secret_refused),
	TEST_ENTRY(global_stops_at_verb),
	TEST_ENTRY(double_dash_ends_options),
	TEST_ENTRY(short_values_skipped),
	TEST_ENTRY(posixly_correct_stops_at_operand),
	TEST_ENTRY(long_name_bounded),
};

TEST_MAIN(tests)
