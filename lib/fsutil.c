/* Files of the store: bounded reads, atomic writes, private directories. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "log.h"

/* The directory part of path, malloc'd. */
static int
dir_of(const char *path, char **ret)
{
	char *tmp, *d;

	if (strlen(path) >= PATH_MAX)
		return JIT_E_LIMIT;
	if ((tmp = strdup(path)) == NULL)
		return JIT_E_NOMEM;
	d = strdup(dirname(tmp));
	free(tmp);
	if (d == NULL)
		return JIT_E_NOMEM;
	*ret = d;
	return JIT_OK;
}

int
fs_fsync_dir(const char *dir)
{
	int fd, r = JIT_OK;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return JIT_E_IO;
	if (fsync(fd) != 0)
		r = JIT_E_IO;
	close(fd);
	return r;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return JIT_E_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return JIT_OK;
}

int
fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = NULL, *dir = NULL;
	uint32_t rnd = randombytes_random();
	int fd = -1, r;

	if ((r = dir_of(path, &dir)) != 0)
		return r;
	if (asprintf(&tmp, "%s.tmp.%08x", path, rnd) < 0) {
		free(dir);
		return JIT_E_NOMEM;
	}
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		log_debug("open %s: %s", tmp, strerror(errno));
		r = JIT_E_IO;
		goto out;
	}
	if ((r = write_all(fd, data, len)) != 0)
		goto out;
	if (fsync(fd) != 0) {
		r = JIT_E_IO;
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = JIT_E_IO;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = JIT_E_IO;
		goto out;
	}
	r = fs_fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (r != 0) {
		log_debug(
		    "atomic write of %s failed: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	free(dir);
	return r;
}

int
fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return JIT_E_IO;
	if ((size_t)st.st_size > max)
		return JIT_E_LIMIT;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return JIT_E_NOMEM;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*ret = buf;
	if (ret_len != NULL)
		*ret_len = off;
	return JIT_OK;
}

int
fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd, r;

	/* O_NONBLOCK: a FIFO put in a file's place would block the open
	 * until a writer came; it is refused below as no regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) <
	    0)
		return errno == ENOENT ? JIT_E_NOENT : JIT_E_IO;
	r = fs_read_fd(fd, max, ret, ret_len);
	close(fd);
	return r;
}

/* A sentence in why; the error code passes through. */
static int why_set(int r, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
why_set(int r, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen == 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return r;
}

/* Owner and mode of a directory that exists (st), as fs_dir_check says. */
static int
dir_st_check(const char *path, const char *what, const struct stat *st,
    int flags, char *why, size_t whylen)
{
	uid_t me = geteuid();

	if (!S_ISDIR(st->st_mode))
		return why_set(JIT_E_DENIED, why, whylen,
		    "%s %s is not a directory", what, path);
	if (st->st_uid != me && !((flags & FS_DIR_ROOT_OK) && st->st_uid == 0))
		return why_set(JIT_E_DENIED, why, whylen,
		    "%s %s belongs to uid %u, not to this user (uid %u): refusing it",
		    what, path, (unsigned)st->st_uid, (unsigned)me);
	/* Whoever could write it could have planted or swapped files. */
	if (st->st_mode & (S_IWOTH | S_IWGRP))
		return why_set(JIT_E_DENIED, why, whylen,
		    "%s %s is writable by %s (mode %04o): refusing it; %s",
		    what, path, st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777),
		    (flags & FS_DIR_ADVISE_ANOTHER) ?
			"choose a directory no one else can write" :
			"someone else may have changed what it holds: check its files, then chmod 0700 it");
	return JIT_OK;
}

int
fs_dir_check(
    const char *path, const char *what, int flags, char *why, size_t whylen)
{
	struct stat st;
	int e;

	if (whylen > 0)
		why[0] = '\0';
	if (((flags & FS_DIR_NOFOLLOW) ? lstat(path, &st) : stat(path, &st)) !=
	    0) {
		e = errno;
		if (e == ENOENT)
			return why_set(JIT_E_NOENT, why, whylen,
			    "%s %s does not exist: create it (mode 0700) or choose another",
			    what, path);
		return why_set(JIT_E_IO, why, whylen,
		    "%s %s cannot be examined: %s", what, path, strerror(e));
	}
	if (S_ISLNK(st.st_mode))
		return why_set(JIT_E_DENIED, why, whylen,
		    "%s %s is a symbolic link: refusing it; name the real directory instead",
		    what, path);
	return dir_st_check(path, what, &st, flags, why, whylen);
}

int
fs_private_dir(const char *path, const char *what, char *why, size_t whylen)
{
	struct stat st;
	char *tmp, *p;
	int r, e;

	if (whylen > 0)
		why[0] = '\0';
	if (strlen(path) >= PATH_MAX || path[0] == '\0')
		return why_set(JIT_E_LIMIT, why, whylen,
		    "%s: the path is empty or too long", what);
	if ((tmp = strdup(path)) == NULL)
		return JIT_E_NOMEM;
	/* "dir/" would make lstat() follow a link named dir. */
	for (p = tmp + strlen(tmp) - 1; p > tmp && *p == '/'; p--)
		*p = '\0';
	/* The parents as mkdir -p makes them (links among them followed). */
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			e = errno;
			r = why_set(JIT_E_IO, why, whylen,
			    "cannot create %s, a parent of %s %s: %s", tmp,
			    what, path, strerror(e));
			goto out;
		}
		if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode)) {
			r = why_set(JIT_E_IO, why, whylen,
			    "%s, a parent of %s %s, is not a directory", tmp,
			    what, path);
			goto out;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		e = errno;
		r = why_set(JIT_E_IO, why, whylen, "cannot create %s %s: %s",
		    what, path, strerror(e));
		goto out;
	}
	if ((r = fs_dir_check(tmp, what, FS_DIR_NOFOLLOW, why, whylen)) != 0)
		goto out;
	/* Readable by others is only a leak of names: tighten it. */
	if (lstat(tmp, &st) == 0 && (st.st_mode & 077) != 0) {
		if (chmod(tmp, 0700) != 0) {
			e = errno;
			r = why_set(JIT_E_IO, why, whylen,
			    "cannot make %s %s private (chmod 0700): %s", what,
			    path, strerror(e));
			goto out;
		}
		log_info("%s %s was mode %04o: now 0700", what, path,
		    (unsigned)(st.st_mode & 07777));
	}
	r = JIT_OK;
out:
	free(tmp);
	return r;
}

int
fs_mkdir_private(const char *path)
{
	char why[FS_WHY_MAX];
	int r;

	if ((r = fs_private_dir(path, "the directory", why, sizeof(why))) != 0)
		log_error("%s", why[0] != '\0' ? why : jit_strerror(r));
	return r;
}

/* NAME.tmp.XXXXXXXX: what fs_write_atomic() writes before its rename. */
static bool
is_stale_tmp(const char *name)
{
	const char *p = strstr(name, ".tmp.");
	size_t i;

	if (p == NULL || p == name)
		return false;
	while (strstr(p + 1, ".tmp.") != NULL)
		p = strstr(p + 1, ".tmp.");
	p += strlen(".tmp.");
	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)p[i]))
			return false;
	return p[8] == '\0';
}

size_t
fs_remove_stale_tmp(const char *const *dirs, size_t ndirs)
{
	struct dirent *de;
	struct stat st;
	size_t i, n = 0;
	DIR *d;

	for (i = 0; i < ndirs; i++) {
		if (dirs[i] == NULL || (d = opendir(dirs[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (!is_stale_tmp(de->d_name) ||
			    fstatat(dirfd(d), de->d_name, &st,
				AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				n++;
			else
				log_warn("cannot remove %s/%s: %s", dirs[i],
				    de->d_name, strerror(errno));
		}
		closedir(d);
	}
	if (n > 0)
		log_info(
		    "removed %zu temporary file%s left by an interrupted write (NAME.tmp.XXXXXXXX) from %s",
		    n, n == 1 ? "" : "s", dirs[0]);
	return n;
}

int
fs_unlink(const char *path)
{
	char *dir;
	int r;

	if ((r = dir_of(path, &dir)) != 0)
		return r;
	if (unlink(path) != 0)
		r = errno == ENOENT ? JIT_E_NOENT : JIT_E_IO;
	else
		r = fs_fsync_dir(dir);
	free(dir);
	return r;
}

int
fs_default_dir(const char *given, const char *xdg_var,
    const char *home_fallback, const char *leaf, char **ret)
{
	const char *base;
	char *s = NULL;

	if (given != NULL && given[0] != '\0') {
		s = strdup(given);
	} else if ((base = getenv(xdg_var)) != NULL && base[0] == '/') {
		if (asprintf(&s, "%s/%s", base, leaf) < 0)
			s = NULL;
	} else if ((base = getenv("HOME")) != NULL && base[0] == '/') {
		if (asprintf(&s, "%s/%s/%s", base, home_fallback, leaf) < 0)
			s = NULL;
	} else
		return JIT_E_CONFIG;
	if (s == NULL)
		return JIT_E_NOMEM;
	*ret = s;
	return JIT_OK;
}
