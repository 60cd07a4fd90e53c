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
	/* A FIFO in a file's place is refused, not waited on for a writer
	 * (the test hangs if it is). */
	path_in(path, sizeof(path), "fifo");
	ASSERT(mkfifo(path, 0600) == 0);
	ASSERT_ERR(fs_read_file(path, 100, &buf, &len), JIT_E_IO);
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

/* Every refusal names the directory and the check that failed. */
TMPDIR_TEST(private_dir_refusals)
{
	char path[128], real[128], file[192], why[FS_WHY_MAX];

	path_in(real, sizeof(real), "real");
	ASSERT(mkdir(real, 0700) == 0);
	path_in(path, sizeof(path), "link");
	ASSERT(symlink(real, path) == 0);
	ASSERT_ERR(fs_private_dir(path, "the data directory", why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT_MSG(strstr(why, "the data directory ") == strstr(why, "the") &&
		strstr(why, path) != NULL &&
		strstr(why, "is a symbolic link") != NULL,
	    "%s", why);
	/* "link/" is the same link, not the directory it points to. */
	snprintf(file, sizeof(file), "%s/", path);
	ASSERT_ERR(fs_private_dir(file, "the data directory", why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT_MSG(strstr(why, "symbolic link") != NULL, "%s", why);

	/* Writable by others or the group: refused and left as it was. */
	path_in(path, sizeof(path), "open");
	ASSERT(mkdir(path, 0700) == 0 && chmod(path, 0777) == 0);
	ASSERT_ERR(fs_private_dir(path, "the data directory", why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT_MSG(strstr(why, "is writable by others (mode 0777)") != NULL,
	    "%s", why);
	ASSERT_EQ_UINT(mode_of(path), 0777);
	ASSERT(chmod(path, 01777) == 0);
	ASSERT_ERR(fs_private_dir(path, "the data directory", why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT(chmod(path, 0770) == 0);
	ASSERT_ERR(fs_private_dir(path, "the data directory", why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT_MSG(strstr(why, "is writable by its group (mode 0770)") != NULL,
	    "%s", why);
	/* Readable only: made private. */
	ASSERT(chmod(path, 0755) == 0);
	ASSERT_OK(fs_private_dir(path, "the data directory", why, sizeof(why)));
	ASSERT_EQ_UINT(mode_of(path), 0700);

	/* A file in the way, as the directory or as a parent. */
	path_in(file, sizeof(file), "file");
	ASSERT_OK(fs_write_atomic(file, "x", 1, 0600));
	ASSERT_ERR(fs_private_dir(file, "the data directory", why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT_MSG(strstr(why, "is not a directory") != NULL, "%s", why);
	path_in(path, sizeof(path), "file/sub/data");
	ASSERT(
	    fs_private_dir(path, "the data directory", why, sizeof(why)) < 0);
	ASSERT_MSG(strstr(why, file) != NULL &&
		strstr(why, "a parent of the data directory") != NULL,
	    "%s", why);

	/* fs_dir_check: a missing directory is named, never made. */
	path_in(path, sizeof(path), "missing/dir");
	ASSERT_ERR(fs_dir_check(path, "the socket directory", FS_DIR_ROOT_OK,
		       why, sizeof(why)),
	    JIT_E_NOENT);
	ASSERT_MSG(strstr(why, "the socket directory") != NULL &&
		strstr(why, "does not exist") != NULL,
	    "%s", why);
	ASSERT(mode_of(path) == (mode_t)-1);
	/* It follows a link unless told not to. */
	path_in(path, sizeof(path), "link");
	ASSERT_OK(
	    fs_dir_check(path, "the socket directory", 0, why, sizeof(why)));
	ASSERT_ERR(fs_dir_check(path, "the socket directory", FS_DIR_NOFOLLOW,
		       why, sizeof(why)),
	    JIT_E_DENIED);
	/* Root's, not writable by others: with FS_DIR_ROOT_OK only. */
	if (geteuid() != 0) {
		ASSERT_OK(fs_dir_check("/usr", "the socket directory",
		    FS_DIR_ROOT_OK, why, sizeof(why)));
		ASSERT_ERR(fs_dir_check("/usr", "the socket directory", 0, why,
			       sizeof(why)),
		    JIT_E_DENIED);
		ASSERT_MSG(strstr(why, "belongs to uid 0") != NULL, "%s", why);
	}
	ASSERT_ERR(fs_dir_check("/tmp", "the socket directory", FS_DIR_ROOT_OK,
		       why, sizeof(why)),
	    JIT_E_DENIED);
	ASSERT_MSG(strstr(why, "writable by others") != NULL, "%s", why);
}

/* What an interrupted fs_write_atomic() leaves is removed, nothing else. */
TMPDIR_TEST(remove_stale_tmp)
{
	static const char *const stale[] = { "a.json.tmp.0123abcd",
		"creds/b.json.tmp.ffffffff", "tokens/t.json.tmp.00000000" };
	static const char *const kept[] = { "a.json", "x.tmp.123",
		"y.json.tmp.0123abcg", "z.json.tmp.0123abcd0", ".tmp.01234567",
		"creds/c.json" };
	char path[192], sub[3][128];
	const char *dirs[4];
	size_t i;
	int seen;

	path_in(sub[0], sizeof(sub[0]), "");
	path_in(sub[1], sizeof(sub[1]), "creds");
	path_in(sub[2], sizeof(sub[2]), "tokens");
	ASSERT(mkdir(sub[1], 0700) == 0 && mkdir(sub[2], 0700) == 0);
	for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		path_in(path, sizeof(path), stale[i]);
		ASSERT_OK(fs_write_atomic(path, "x", 1, 0600));
	}
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		path_in(path, sizeof(path), kept[i]);
		ASSERT_OK(fs_write_atomic(path, "x", 1, 0600));
	}
	/* A directory by that name is not a file a write left. */
	path_in(path, sizeof(path), "d.json.tmp.01234567");
	ASSERT(mkdir(path, 0700) == 0);
	dirs[0] = sub[0];
	dirs[1] = sub[1];
	dirs[2] = sub[2];
	dirs[3] = NULL; /* a missing directory is skipped */
	ASSERT_EQ_UINT(fs_remove_stale_tmp(dirs, 4), 3);
	for (i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		path_in(path, sizeof(path), stale[i]);
		ASSERT_MSG(
		    mode_of(path) == (mode_t)-1, "%s is still there", stale[i]);
	}
	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		path_in(path, sizeof(path), kept[i]);
		ASSERT_MSG(
		    mode_of(path) != (mode_t)-1, "%s was removed", kept[i]);
	}
	path_in(path, sizeof(path), "d.json.tmp.01234567");
	ASSERT(mode_of(path) != (mode_t)-1);
	ASSERT_EQ_UINT(fs_remove_stale_tmp(dirs, 3), 0);
	ASSERT_EQ_UINT(dir_entries(sub[2], NULL, &seen), 0);
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
	TEST_ENTRY(private_dir_refusals),
	TEST_ENTRY(remove_stale_tmp),
	TEST_ENTRY(default_dir_precedence),
	TEST_ENTRY(unlink_file),
};

TEST_MAIN(tests)
