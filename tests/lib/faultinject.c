/*
 * A disk that fails, or a process that dies, at a chosen file operation:
 * an LD_PRELOAD shim for the reliability tests (tests/reliability/).
 *
 * Only operations on paths under JIT_FI_PATH count (a prefix; unset, the
 * shim does nothing): open and openat for writing, write, pwrite, fsync,
 * fdatasync, ftruncate, rename, renameat, unlink, unlinkat.  The nth of them
 * (JIT_FI_NTH, from 1) and the JIT_FI_COUNT - 1 after it (default 1; 0:
 * every one from the nth on) do what JIT_FI_FAIL says:
 *
 *	ENOSPC, EIO, EFBIG, EDQUOT	fail with that errno, nothing done
 *					(an unlink fails with EIO only)
 *	KILL				SIGKILL before the operation
 *	TORN				a write writes half, then SIGKILL
 *
 * With JIT_FI_ARM set, operations count (and fail) only while the file it
 * names exists: a test arms the disk around one verb, so that the nth is
 * that verb's nth, sees it refused, disarms it and sees the same agent
 * recover (set and empty, it is as unset).  JIT_FI_OPS limits the count to some operations ("write,rename"; default
 * all).  JIT_FI_LOG names a file where each counted operation appends
 * "N OP PATH", so that a test learns how many there are.  Operations on
 * other paths (sockets, the agent's own log, /dev/urandom) pass untouched.
 */
/* open and openat are ours here, not fortify's inline wrappers, and both
 * names of each (open, open64) are defined below. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Paths longer than this do not count (the tests' are short). */
#define FI_PATH 1024

enum fi_action { FI_ERRNO, FI_KILL, FI_TORN };

static const char *fi_prefix;
static size_t fi_prefix_len;
static const char *fi_ops;
static unsigned long fi_nth, fi_count = 1;
static enum fi_action fi_action;
static int fi_errno = ENOSPC;
static int fi_log_fd = -1;
static const char *fi_arm;
static atomic_ulong fi_seen;

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);

/* The next definition of a symbol: libc's. */
#define NEXT(fp, name) (*(void **)&(fp) = dlsym(RTLD_NEXT, (name)))

__attribute__((constructor)) static void
fi_init(void)
{
	const char *s;

	NEXT(real_open, "open");
	NEXT(real_openat, "openat");
	NEXT(real_write, "write");
	NEXT(real_pwrite, "pwrite");
	NEXT(real_fsync, "fsync");
	NEXT(real_fdatasync, "fdatasync");
	NEXT(real_ftruncate, "ftruncate");
	NEXT(real_rename, "rename");
	NEXT(real_renameat, "renameat");
	NEXT(real_unlink, "unlink");
	NEXT(real_unlinkat, "unlinkat");
	if ((s = getenv("JIT_FI_PATH")) == NULL || *s == '\0')
		return;
	fi_prefix = s;
	fi_prefix_len = strlen(s);
	fi_ops = getenv("JIT_FI_OPS");
	if ((s = getenv("JIT_FI_ARM")) != NULL && *s != '\0')
		fi_arm = s;
	if ((s = getenv("JIT_FI_NTH")) != NULL)
		fi_nth = strtoul(s, NULL, 10);
	if ((s = getenv("JIT_FI_COUNT")) != NULL)
		fi_count = strtoul(s, NULL, 10);
	if ((s = getenv("JIT_FI_FAIL")) != NULL) {
		if (strcmp(s, "KILL") == 0)
			fi_action = FI_KILL;
		else if (strcmp(s, "TORN") == 0)
			fi_action = FI_TORN;
		else if (strcmp(s, "EIO") == 0)
			fi_errno = EIO;
		else if (strcmp(s, "EFBIG") == 0)
			fi_errno = EFBIG;
		else if (strcmp(s, "EDQUOT") == 0)
			fi_errno = EDQUOT;
	}
	if ((s = getenv("JIT_FI_LOG")) != NULL && real_open != NULL)
		fi_log_fd = real_open(
		    s, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

static int
fi_under(const char *path)
{
	return path != NULL && fi_prefix != NULL &&
	    strncmp(path, fi_prefix, fi_prefix_len) == 0;
}

static int
fi_fd_under(int fd, char *path, size_t len)
{
	char link[64];
	ssize_t n;

	if (fi_prefix == NULL)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, len - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return fi_under(path);
}

static int
fi_op_counted(const char *op)
{
	const char *p;
	size_t n = strlen(op);

	if (fi_ops == NULL || *fi_ops == '\0')
		return 1;
	for (p = fi_ops; (p = strstr(p, op)) != NULL; p += n)
		if ((p == fi_ops || p[-1] == ',') &&
		    (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Counts one operation on path; 1 when it is to fail (errno set), after
 * SIGKILL for KILL.  TORN is left to the caller (*torn). */
static int
fi_hit(const char *op, const char *path, int *torn)
{
	unsigned long n;
	char line[FI_PATH + 64];
	int len;

	if (!fi_op_counted(op))
		return 0;
	if (fi_arm != NULL && access(fi_arm, F_OK) != 0)
		return 0;
	n = atomic_fetch_add(&fi_seen, 1) + 1;
	if (fi_log_fd >= 0 && real_write != NULL) {
		len = snprintf(line, sizeof(line), "%lu %s %s\n", n, op, path);
		if (len > 0 && (size_t)len < sizeof(line))
			(void)!real_write(fi_log_fd, line, (size_t)len);
	}
	if (fi_nth == 0 || n < fi_nth ||
	    (fi_count != 0 && n >= fi_nth + fi_count))
		return 0;
	switch (fi_action) {
	case FI_KILL: raise(SIGKILL); break;
	case FI_TORN:
		if (torn != NULL) {
			*torn = 1;
			return 0;
		}
		raise(SIGKILL);
		break;
	case FI_ERRNO:
		/* A full disk never refuses an unlink; a failing one may. */
		if (strcmp(op, "unlink") == 0 && fi_errno != EIO)
			return 0;
		break;
	}
	errno = fi_errno;
	return 1;
}

static int
fi_writing(int flags)
{
	return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (fi_writing(flags) && fi_under(path) && fi_hit("open", path, NULL))
		return -1;
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (fi_writing(flags) && fi_under(path) && fi_hit("open", path, NULL))
		return -1;
	return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
    __attribute__((alias("openat")));

ssize_t
write(int fd, const void *buf, size_t len)
{
	char path[FI_PATH];
	int torn = 0;

	if (fi_fd_under(fd, path, sizeof(path)) && fi_hit("write", path, &torn))
		return -1;
	if (torn) {
		if (len > 1)
			(void)!real_write(fd, buf, len / 2);
		raise(SIGKILL);
	}
	return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	char path[FI_PATH];
	int torn = 0;

	if (fi_fd_under(fd, path, sizeof(path)) && fi_hit("write", path, &torn))
		return -1;
	if (torn) {
		if (len > 1)
			(void)!real_pwrite(fd, buf, len / 2, off);
		raise(SIGKILL);
	}
	return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
    __attribute__((alias("pwrite")));

int
fsync(int fd)
{
	char path[FI_PATH];

	if (fi_fd_under(fd, path, sizeof(path)) && fi_hit("fsync", path, NULL))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	char path[FI_PATH];

	if (fi_fd_under(fd, path, sizeof(path)) && fi_hit("fsync", path, NULL))
		return -1;
	return real_fdatasync(fd);
}

int
ftruncate(int fd, off_t len)
{
	char path[FI_PATH];

	if (fi_fd_under(fd, path, sizeof(path)) &&
	    fi_hit("ftruncate", path, NULL))
		return -1;
	return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

int
rename(const char *from, const char *to)
{
	if (fi_under(to) && fi_hit("rename", to, NULL))
		return -1;
	return real_rename(from, to);
}

int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
	if (fi_under(to) && fi_hit("rename", to, NULL))
		return -1;
	return real_renameat(fromfd, from, tofd, to);
}

int
unlink(const char *path)
{
	if (fi_under(path) && fi_hit("unlink", path, NULL))
		return -1;
	return real_unlink(path);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	char full[FI_PATH];

	/* A relative path is under its directory's. */
	if (path[0] != '/' && dirfd != AT_FDCWD &&
	    fi_fd_under(dirfd, full, sizeof(full) - 1)) {
		size_t n = strlen(full);

		snprintf(full + n, sizeof(full) - n, "/%s", path);
		if (fi_hit("unlink", full, NULL))
			return -1;
	} else if (fi_under(path) && fi_hit("unlink", path, NULL))
		return -1;
	return real_unlinkat(dirfd, path, flags);
}
