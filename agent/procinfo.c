/* What /proc says of a process: its parent, start time, name; its chain. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "procinfo.h"
#include "wire.h"

#define PROC_STAT_MAX 1024 /* a stat line is some 300 bytes */
#define PROC_EXE_MAX 256

static int
read_stat_file(pid_t pid, char *buf, size_t buflen, size_t *ret_len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT || errno == ESRCH ? JIT_E_NOENT :
							   JIT_E_IO;
	n = read(fd, buf, buflen - 1);
	close(fd);
	if (n <= 0)
		return JIT_E_NOENT;
	buf[n] = '\0';
	*ret_len = (size_t)n;
	return JIT_OK;
}

/* A decimal field, then one blank; a negative one (tpgid -1) reads 0. */
static int
field(struct wire_reader *r, uint64_t *ret)
{
	const uint8_t *p;
	size_t n = wire_get_until(r, " \n", &p), i = 0;
	uint64_t v = 0;
	bool neg = n > 1 && p[0] == '-';

	if (n == 0 || n > 20)
		return JIT_E_FORMAT;
	for (i = neg ? 1 : 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - 9) / 10)
			return JIT_E_FORMAT;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*ret = neg ? 0 : v;
	(void)wire_skip_span(r, " ");
	return JIT_OK;
}

int
proc_stat_read(pid_t pid, struct proc_stat *ret)
{
	char buf[PROC_STAT_MAX], *open_p, *close_p;
	struct wire_reader r;
	uint64_t v[20];
	size_t len, n, i;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if ((rc = read_stat_file(pid, buf, sizeof(buf), &len)) != 0)
		return rc;
	/* "PID (COMM) S PPID PGRP SID ... STARTTIME(22) ..." */
	if ((open_p = strchr(buf, '(')) == NULL ||
	    (close_p = strrchr(buf, ')')) == NULL || close_p < open_p ||
	    close_p[1] != ' ' || close_p[2] == '\0' || close_p[3] != ' ')
		return JIT_E_FORMAT;
	n = (size_t)(close_p - open_p - 1);
	if (n >= sizeof(ret->comm))
		n = sizeof(ret->comm) - 1;
	memcpy(ret->comm, open_p + 1, n);
	ret->comm[n] = '\0';
	/* After the state letter: fields 4 (ppid) to 22 (starttime). */
	wire_reader_init(&r, close_p + 4, len - (size_t)(close_p + 4 - buf));
	for (i = 0; i < 19; i++)
		if ((rc = field(&r, &v[i])) != 0)
			return rc;
	if (v[0] > INT_MAX || v[2] > INT_MAX)
		return JIT_E_FORMAT;
	ret->pid = pid;
	ret->ppid = (pid_t)v[0];
	ret->sid = (pid_t)v[2];
	ret->start = v[18];
	return JIT_OK;
}

bool
proc_descends_from(pid_t pid, uint64_t start, pid_t anc_pid, uint64_t anc_start)
{
	struct proc_stat st;
	int depth;

	if (proc_stat_read(pid, &st) != 0 || st.start != start)
		return false;
	for (depth = 0; depth < 4 * PROC_CHAIN_MAX; depth++) {
		if (st.pid == anc_pid)
			return st.start == anc_start;
		/* A parent is older than its child: a reused pid is not. */
		if (st.ppid <= 1 || proc_stat_read(st.ppid, &st) != 0 ||
		    st.start > start)
			return false;
		start = st.start;
	}
	return false;
}

static void
exe_of(pid_t pid, char *out, size_t outlen)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, out, outlen - 1);
	out[n > 0 ? (size_t)n : 0] = '\0';
}

void
proc_chain_text(pid_t pid, const char *exe, char *out, size_t outlen)
{
	struct proc_stat st;
	char name[PROC_EXE_MAX], esc[PROC_EXE_MAX];
	size_t used = 0;
	int depth, n;

	out[0] = '\0';
	for (depth = 0; depth < PROC_CHAIN_MAX && pid > 1; depth++) {
		if (proc_stat_read(pid, &st) != 0)
			break;
		if (depth == 0 && exe != NULL && exe[0] == '/')
			snprintf(name, sizeof(name), "%s", exe);
		else
			exe_of(pid, name, sizeof(name));
		if (name[0] == '\0') /* not ours to read: its own name */
			snprintf(name, sizeof(name), "'%s'", st.comm);
		log_escape(name, strlen(name), esc, sizeof(esc));
		n = snprintf(out + used, outlen - used, "%s%s (pid %d)",
		    depth > 0 ? " < " : "", esc, (int)pid);
		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
		/* Up to the session leader: the terminal's shell or login. */
		if (st.sid == pid)
			break;
		pid = st.ppid;
	}
}
