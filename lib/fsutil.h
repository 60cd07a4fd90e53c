/* Files of the store: bounded reads, atomic writes, private directories. */
#ifndef JIT_FSUTIL_H
#define JIT_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Write via a temp file in the same directory, fsync, rename, fsync dir. */
int fs_write_atomic(
    const char *path, const void *data, size_t len, mode_t mode);
/* Read a whole file of at most max bytes; the result is NUL-terminated. */
int fs_read_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* The same for an open regular file (callers that check it first). */
int fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len);
#define FS_WHY_MAX 512 /* the sentences below */
#define FS_DIR_NOFOLLOW 0x1 /* a symbolic link is refused */
#define FS_DIR_ROOT_OK 0x2 /* owned by root will do too */
#define FS_DIR_ADVISE_ANOTHER 0x4 /* say "choose another", not "chmod it" */
/*
 * A directory that exists, is ours (or root's with FS_DIR_ROOT_OK) and is
 * writable by no one else.  Returns JIT_OK, JIT_E_NOENT (missing),
 * JIT_E_DENIED (a symbolic link, not a directory, another owner, group or
 * other write) or JIT_E_IO; why gets one sentence naming what ("the data
 * directory") and path, which check failed and what to do.
 */
int fs_dir_check(
    const char *path, const char *what, int flags, char *why, size_t whylen);
/*
 * mkdir -p path, new directories 0700, then fs_dir_check(FS_DIR_NOFOLLOW)
 * on the last component, and group/other read bits removed (with a log
 * line).  Failures as fs_dir_check's, why naming the component at fault.
 */
int fs_private_dir(
    const char *path, const char *what, char *why, size_t whylen);
/* fs_private_dir() for "the directory", why logged as an error. */
int fs_mkdir_private(const char *path);
/*
 * Remove what fs_write_atomic() left behind when interrupted (regular
 * files NAME.tmp.XXXXXXXX) from each directory; missing ones are skipped.
 * One log line says how many, if any; returns the count.
 */
size_t fs_remove_stale_tmp(const char *const *dirs, size_t ndirs);
int fs_fsync_dir(const char *dir);
/* Remove a file and fsync its directory. */
int fs_unlink(const char *path);
/* Resolve the data dir: given, else $XDG_DATA_HOME/jit-agent, else
 * ~/.local/share/jit-agent.  The result is malloc'd. */
int fs_default_dir(const char *given, const char *xdg_var,
    const char *home_fallback, const char *leaf, char **ret);

#endif
