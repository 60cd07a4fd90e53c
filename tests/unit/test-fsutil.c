/* Unit tests of lib/fsutil.c: atomic writes, bounded reads, private dirs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "tmpdir.h"
#include "err.h"
#include "fsutil.h"
#include "log.h"

static void
setup(void)
{
	umask(022);
	tmpdir_make("fsutil");
}

static void
path_in(char *out, size_t outlen, const char *leaf)
{
	snprintf(out, outlen, "%s/%s", tmpdir, leaf);
}

/* How many entries the directory holds, and whether one is named like. */
static size_t
dir_entries(const char *dir, const char *like, int *ret_seen)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	*ret_seen = 0;
	if ((d = opendir(dir)) == NULL)
		return (size_t)-1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (like != NULL && strstr(de->d_name, like) != NULL)
			*ret_seen = 1;
	}
	closedir(d);
	return n;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* An atomic write leaves the file with its mode and no temp file. */
TMPDIR_TEST(write_atomic)
{
	char path[128], *buf = NULL;
	size_t len = 0;
	int tmp;

	path_in(path, sizeof(path), "cred.json");
	ASSERT_OK(fs_write_atomic(path, "hello\n", 6, 0600));
	ASSERT_EQ_UINT(mode_of(path), 0600);
	ASSERT_EQ_UINT(dir_entries(tmpdir, ".tmp", &tmp), 1);
	ASSERT(!tmp);
	ASSERT_OK(fs_read_file(path, 100, &buf, &len));
	ASSERT_EQ_UINT(len, 6);
	ASSERT_EQ_STR(buf, "hello\n");
	free(buf);

	/* Replacing: new contents, new mode, still no temp file. */
	ASSERT_OK(fs_write_atomic(path, "bye", 3, 0640));
	ASSERT_EQ_UINT(mode_of(path), 0640);
	ASSERT_OK(fs_read_file(path, 100, &buf, &len));
	ASSERT_EQ_UINT(len, 3);
	ASSERT_EQ_STR(buf, "bye");
	free(buf);
	ASSERT_EQ_UINT(dir_entries(tmpdir, ".tmp", &tmp), 1);
	ASSERT(!tmp);

	/* Empty contents. */
	ASSERT_OK(fs_write_atomic(path, "", 0, 0600));
	ASSERT_OK(fs_read_file(path, 100, &buf, &len));
	ASSERT_EQ_UINT(len, 0);
	ASSERT_EQ_STR(buf, "");
	free(buf);
}

/* A failed atomic write leaves nothing behind and the old file intact. */
TMPDIR_TEST(write_atomic_failure_cleans_up)
{
	char path[128], sub[128], *buf = NULL;
	size_t len;
	int tmp;

	/* Into a directory that does not exist. */
	path_in(path, sizeof(path), "missing/cred.json");
	ASSERT_ERR(fs_write_atomic(path, "x", 1, 0600), JIT_E_IO);
	/* Over a non-empty directory: the rename fails after the write. */
	path_in(sub, sizeof(sub), "sub");
	ASSERT(mkdir(sub, 0700) == 0);
	path_in(path, sizeof(path), "sub/keep");
	ASSERT_OK(fs_write_atomic(path, "keep", 4, 0600));
	log_set_level(LOG_LVL_ERROR);
	ASSERT_ERR(fs_write_atomic(sub, "x", 1, 0600), JIT_E_IO);
	log_set_level(LOG_LVL_INFO);
	ASSERT_EQ_UINT(dir_entries(tmpdir, ".tmp", &tmp), 1);
	ASSERT_MSG(!tmp, "a temp file was left behind");
	ASSERT_OK(fs_read_file(path, 100, &buf, &len));
	ASSERT_EQ_STR(buf, "keep");
	free(buf);
	/* A symlink at the target is replaced, not followed. */
	{
		char link[128], target[128];

		path_in(target, sizeof(target), "target");
		path_in(link, sizeof(link), "link");
		ASSERT_OK(fs_write_atomic(target, "t", 1, 0600));
		ASSERT(symlink(target, link) == 0);
		ASSERT_OK(fs_write_atomic(link, "new", 3, 0600));
		ASSERT_OK(fs_read_file(target, 100, &buf, &len));
		ASSERT_EQ_STR(buf, "t");
		free(buf);
		ASSERT_OK(fs_read_file(link, 100, &buf, &len));
		ASSERT_EQ_STR(buf, "new");
		free(buf);
	}
}

/* Bounded reads: the maximum, missing files, things that are not files. */
TMPDIR_TEST(read_file_limits)
{
	char path[128], link[128], *buf = NULL;
	size_t len = 0;

	path_in(path, sizeof(path), "ten");
	ASSERT_OK(fs_write_atomic(path, "0123456789", 10, 0600));
	ASSERT_OK(fs_read_file(path, 10, &buf, &len));
	ASSERT_EQ_UINT(len, 10);
	ASSERT_EQ_UINT(buf[10], '\0'); /* terminated */
	free(buf);
	buf = NULL;
	ASSERT_ERR(fs_read_file(path, 9, &buf, &len), JIT_E_LIMIT);
	ASSERT_ERR(fs_read_file(path, 0, &buf, &len), JIT_E_LIMIT);
	ASSERT(buf == NULL);
	ASSERT_OK(fs_read_file(path, 100, &buf, NULL)); /* len optional */
	free(buf);
	buf = NULL;

	path_in(path, sizeof(path), "missing");
	ASSERT_ERR(fs_read_file(path, 100, &buf, &len), JIT_E_NOENT);
	/* A directory is not a file. */
	ASSERT_ERR(fs_read_file(tmpdir, 100, &buf, &len), JIT_E_IO);
	/* A symlink is not followed. */
	path_in(path, sizeof(path), "ten");
	path_in(link, sizeof(link), "link");
	ASSERT(symlink(path, link) == 0);
	ASSERT_ERR(fs_read_file(link, 100, &buf, &len), JIT_E_IO);
	ASSERT(buf == NULL);
}

/* mkdir_private makes 0700 directories and repairs a loose one of ours. */
TMPDIR_TEST(mkdir_private)
{
	char path[128], file[128], link[128];

	path_in(path, sizeof(path), "a/b/c");
	ASSERT_OK(fs_mkdir_private(path));
	ASSERT_EQ_UINT(mode_of(path), 0700);
	path_in(path, sizeof(path), "a/b");
	ASSERT_EQ_UINT(mode_of(path), 0700);
	ASSERT_OK(fs_mkdir_private(path)); /* exists already: fine */

	path_in(path, sizeof(path), "loose");
	ASSERT(mkdir(path, 0755) == 0);
	ASSERT(chmod(path, 0755) == 0);
	ASSERT_EQ_UINT(mode_of(path), 0755);
	ASSERT_OK(fs_mkdir_private(path));
	ASSERT_EQ_UINT(mode_of(path), 0700);

	/* A trailing slash names the same directory. */
	path_in(path, sizeof(path), "slash/");
	ASSERT_OK(fs_mkdir_private(path));
	path_in(path, sizeof(path), "slash");
	ASSERT_EQ_UINT(mode_of(path), 0700);

	/* A file or a symlink where the directory should be. */
	path_in(file, sizeof(file), "file");
	ASSERT_OK(fs_write_atomic(file, "x", 1, 0600));
	ASSERT(fs_mkdir_private(file) < 0);
	path_in(path, sizeof(path), "a");
	path_in(link, sizeof(link), "link");
	ASSERT(symlink(path, link) == 0);
	ASSERT(fs_mkdir_private(link) < 0);
	ASSERT_ERR(fs_mkdir_private(""), JIT_E_LIMIT);
}

/* A directory that is not ours is refused (needs root to set it up). */
TMPDIR_TEST(mkdir_private_not_ours)
{
	char path[128];

	if (geteuid() != 0)
		TEST_SKIP("needs root to give a directory away");
	path_in(path, sizeof(path), "theirs");
	ASSERT(mkdir(path, 0755) == 0);
	ASSERT(chown(path, 65534, 65534) == 0);
	ASSERT_ERR(fs_mkdir_private(path), JIT_E_DENIED);
	ASSERT_EQ_UINT(mode_of(path), 0755); /* left alone */
}

/* The data directory: given, else $XDG_..., else $HOME/fallback/leaf. */
TEST(default_dir_precedence)
{
	char *s = NULL;
	const char *home = getenv("HOME");
	char *saved = home != NULL ? strdup(home) : NULL;

	setenv("HOME", "/home/u", 1);
	setenv("JIT_TEST_XDG", "/xdg", 1);
	ASSERT_OK(fs_default_dir(
	    "/given", "JIT_TEST_XDG", ".local/share", "jit-agent", &s));
	ASSERT_EQ_STR(s, "/given");
	free(s);
	ASSERT_OK(fs_default_dir(
	    "", "JIT_TEST_XDG", ".local/share", "jit-agent", &s));
	ASSERT_EQ_STR(s, "/xdg/jit-agent");
	free(s);
	ASSERT_OK(fs_default_dir(
	    NULL, "JIT_TEST_XDG", ".local/share", "jit-agent", &s));
	ASSERT_EQ_STR(s, "/xdg/jit-agent");
	free(s);
	/* A relative XDG value is ignored, as the XDG spec says. */
	setenv("JIT_TEST_XDG", "relative", 1);
	ASSERT_OK(fs_default_dir(
	    NULL, "JIT_TEST_XDG", ".local/share", "jit-agent", &s));
	ASSERT_EQ_STR(s, "/home/u/.local/share/jit-agent");
	free(s);
	setenv("JIT_TEST_XDG", "", 1);
	ASSERT_OK(fs_default_dir(
	    NULL, "JIT_TEST_XDG", ".local/share", "jit-agent", &s));
	ASSERT_EQ_STR(s, "/home/u/.local/share/jit-agent");
	free(s);
	unsetenv("JIT_TEST_XDG");
	ASSERT_OK(fs_default_dir(
	    NULL, "JIT_TEST_XDG", ".local/share", "jit-agent", &s));
	ASSERT_EQ_STR(s, "/home/u/.local/share/jit-agent");
	free(s);
	s = NULL;
	/* Nothing usable. */
	setenv("HOME", "relative", 1);
	ASSERT_ERR(fs_default_dir(
		       NULL, "JIT_TEST_XDG", ".local/share", "jit-agent", &s),
	    JIT_E_CONFIG);
	unsetenv("HOME");
	ASSERT_ERR(fs_default_dir(
		       NULL, "JIT_TEST_XDG", ".local/share", "jit-agent", &s),
	    JIT_E_CONFIG);
	ASSERT(s == NULL);
	if (saved != NULL) {
		setenv("HOME", saved, 1);
		free(saved);
	}
}

/* fs_unlink removes a file and reports a missing one. */
TMPDIR_TEST(unlink_file)
{
	char path[128];
	int tmp;

	path_in(path, sizeof(path), "gone");
	ASSERT_OK(fs_write_atomic(path, "x", 1, 0600));
	ASSERT_OK(fs_unlink(path));
	ASSERT_EQ_UINT(dir_entries(tmpdir, NULL, &tmp), 0);
	ASSERT_ERR(fs_unlink(path), JIT_E_NOENT);
	ASSERT_OK(fs_fsync_dir(tmpdir));
	ASSERT_ERR(fs_fsync_dir(path), JIT_E_IO);
}

static const struct test_case tests[] = {
	TEST_ENTRY(write_atomic),
	TEST_ENTRY(write_atomic_failure_cleans_up),
	TEST_ENTRY(read_file_limits),
	TEST_ENTRY(mkdir_private),
	TEST_ENTRY(mkdir_private_not_ours),
	TEST_ENTRY(default_dir_precedence),
	TEST_ENTRY(unlink_file),
};

TEST_MAIN(tests)
