/* Files of the store: bounded reads, atomic writes, private directories. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
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

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? JIT_E_NOENT : JIT_E_IO;
	r = fs_read_fd(fd, max, ret, ret_len);
	close(fd);
	return r;
}

int
fs_mkdir_private(const char *path)
{
	struct stat st;
	char *tmp, *p;
	int r = JIT_E_IO;

	if (strlen(path) >= PATH_MAX || path[0] == '\0')
		return JIT_E_LIMIT;
	if ((tmp = strdup(path)) == NULL)
		return JIT_E_NOMEM;
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			goto out;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		goto out;
	if (lstat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
		goto out;
	if (st.st_uid != geteuid()) {
		log_error("%s is not owned by this user", path);
		r = JIT_E_DENIED;
		goto out;
	}
	if ((st.st_mode & 077) != 0 && chmod(tmp, 0700) != 0)
		goto out;
	r = JIT_OK;
out:
	free(tmp);
	return r;
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
