/* Unit tests of cli/prompt.c: no secret is read while jitctl is dumpable. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "assert.h"
#include "err.h"
#include "prompt.h"
#include "secret.h"

/* A pipe holding s, its write end closed. */
static int
pipe_with(const char *s)
{
	int p[2];

	if (pipe(p) != 0)
		return -1;
	if (write(p[1], s, strlen(s)) != (ssize_t)strlen(s)) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	return p[0];
}

TEST(refused_while_dumpable)
{
	struct secret *s = NULL;
	char left[16];
	int fd;

	ASSERT(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
	ASSERT((fd = pipe_with("1234\n")) >= 0);
	ASSERT_ERR(prompt_line_fd(fd, PROMPT_PIN_MAX, &s), JIT_E_INTERNAL);
	ASSERT_ERR(prompt_pin(fd, "PIN: ", &s), JIT_E_INTERNAL);
	ASSERT_ERR(prompt_read_all(fd, 64, &s), JIT_E_INTERNAL);
	ASSERT_ERR(prompt_tty("PIN: ", PROMPT_PIN_MAX, &s), JIT_E_INTERNAL);
	ASSERT(s == NULL);
	/* Not a byte was taken from the descriptor. */
	ASSERT_EQ_INT(read(fd, left, sizeof(left)), 5);
	ASSERT_EQ_MEM(left, "1234\n", 5);
	close(fd);
}

TEST(read_once_sealed)
{
	struct secret *s = NULL;
	int fd;

	ASSERT(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
	ASSERT((fd = pipe_with("1234\nrest")) >= 0);
	ASSERT_OK(prompt_line_fd(fd, PROMPT_PIN_MAX, &s));
	ASSERT_EQ_UINT(secret_len(s), 4);
	ASSERT_EQ_MEM(secret_ptr(s), "1234", 4);
	secret_free(s);
	s = NULL;
	ASSERT_OK(prompt_read_all(fd, 64, &s));
	ASSERT_EQ_UINT(secret_len(s), 4);
	ASSERT_EQ_MEM(secret_ptr(s), "rest", 4);
	secret_free(s);
	close(fd);
}

static const struct test_case tests[] = {
	TEST_ENTRY(refused_while_dumpable),
	TEST_ENTRY(read_once_sealed),
};

TEST_MAIN(tests)
