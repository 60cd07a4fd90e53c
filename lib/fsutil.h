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
/* mkdir -p with mode; the last component must be ours and not group or
 * world accessible. */
int fs_mkdir_private(const char *path);
int fs_fsync_dir(const char *dir);
/* Remove a file and fsync its directory. */
int fs_unlink(const char *path);
/* Resolve the data dir: given, else $XDG_DATA_HOME/jit-agent, else
 * ~/.local/share/jit-agent.  The result is malloc'd. */
int fs_default_dir(const char *given, const char *xdg_var,
    const char *home_fallback, const char *leaf, char **ret);

#endif
