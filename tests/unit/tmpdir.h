/* Tests that each get a private temporary directory, removed afterwards. */
#ifndef JIT_TEST_TMPDIR_H
#define JIT_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "assert.h"

static char tmpdir[64];

static void
tmpdir_make(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/jit-test-%s-XXXXXX", name);
	ASSERT(mkdtemp(tmpdir) != NULL);
}

static int
tmpdir_remove_one(
    const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

/* Remove the directory and whatever the test left in it. */
static void
teardown(void)
{
	if (tmpdir[0] != '\0' &&
	    nftw(tmpdir, tmpdir_remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	tmpdir[0] = '\0';
}

/* A test with a private directory (the file's setup() makes it), removed
 * whether it passes or not. */
#define TMPDIR_TEST(name) \
	static void name##_body(void); \
	TEST(name) \
	{ \
		setup(); \
		if (!test_state.failed) \
			name##_body(); \
		teardown(); \
	} \
	static void name##_body(void)

#endif
