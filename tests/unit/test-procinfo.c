/* agent/procinfo.c and agent/shell.c's checks on real processes: a child
 * descends from this test, a wrong start time (a reused pid) never
 * matches, the chain names the executables up to the session leader. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "assert.h"
#include "conn.h"
#include "err.h"
#include "procinfo.h"
#include "shell.h"

/* A child that sleeps until killed. */
static pid_t
child_up(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void
child_down(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

TEST(stat_of_self_and_child)
{
	struct proc_stat me, ch;
	pid_t pid;

	ASSERT_OK(proc_stat_read(getpid(), &me));
	ASSERT_EQ_INT(me.pid, getpid());
	ASSERT_EQ_INT(me.ppid, getppid());
	ASSERT(me.start > 0);
	ASSERT((pid = child_up()) > 0);
	ASSERT_OK(proc_stat_read(pid, &ch));
	ASSERT_EQ_INT(ch.ppid, getpid());
	ASSERT(ch.start >= me.start);
	child_down(pid);
	ASSERT_ERR(proc_stat_read(pid, &ch), JIT_E_NOENT);
}

TEST(descent_is_checked_with_start_times)
{
	struct proc_stat me, ch;
	pid_t pid;

	ASSERT_OK(proc_stat_read(getpid(), &me));
	ASSERT((pid = child_up()) > 0);
	ASSERT_OK(proc_stat_read(pid, &ch));
	ASSERT(proc_descends_from(pid, ch.start, getpid(), me.start));
	ASSERT(proc_descends_from(pid, ch.start, pid, ch.start));
	/* The same pids with other start times: another process. */
	ASSERT(!proc_descends_from(pid, ch.start, getpid(), me.start + 1));
	ASSERT(!proc_descends_from(pid, ch.start + 1, getpid(), me.start));
	/* The parent does not descend from its child. */
	ASSERT(!proc_descends_from(getpid(), me.start, pid, ch.start));
	child_down(pid);
	/* Gone: nothing descends from it, and it from nothing. */
	ASSERT(!proc_descends_from(pid, ch.start, getpid(), me.start));
}

TEST(a_shell_grant_binds_only_to_the_requesters_child)
{
	struct peer p;
	struct proc_stat ch;
	uint64_t start = 0;
	char why[256];
	pid_t pid;

	memset(&p, 0, sizeof(p));
	p.pid = getpid();
	ASSERT((pid = child_up()) > 0);
	ASSERT_OK(proc_stat_read(pid, &ch));
	ASSERT_OK(shell_bind_check(&p, pid, &start, why, sizeof(why)));
	ASSERT(start == ch.start);
	/* Our parent is not our child. */
	ASSERT_ERR(shell_bind_check(&p, getppid(), &start, why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT(strstr(why, "not a child of the requesting process") != NULL);
	child_down(pid);
	ASSERT_ERR(
	    shell_bind_check(&p, pid, &start, why, sizeof(why)), JIT_E_ARG);
}

TEST(the_chain_names_each_process)
{
	char text[1024], want[64];

	proc_chain_text(getpid(), "/usr/bin/example", text, sizeof(text));
	snprintf(
	    want, sizeof(want), "/usr/bin/example (pid %d)", (int)getpid());
	ASSERT_MSG(strncmp(text, want, strlen(want)) == 0, "%s", text);
	snprintf(want, sizeof(want), " < ");
	/* The parent follows, unless this process leads its session. */
	if (getsid(0) != getpid())
		ASSERT_MSG(strstr(text, want) != NULL, "%s", text);
}

static const struct test_case tests[] = {
	TEST_ENTRY(stat_of_self_and_child),
	TEST_ENTRY(descent_is_checked_with_start_times),
	TEST_ENTRY(a_shell_grant_binds_only_to_the_requesters_child),
	TEST_ENTRY(the_chain_names_each_process),
};

TEST_MAIN(tests)
