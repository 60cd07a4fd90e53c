/* Replays saved fuzz inputs through a harness, without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * usage: replay DIR|FILE...
 *
 * Every regular file in each directory (sorted by name, so a failure is
 * reproducible) and every file named is read into a buffer of exactly its
 * size, so that ASan sees any read past the input, and handed to the
 * harness.  A harness reports a bug by crashing or aborting, as under
 * libFuzzer.  A missing or empty corpus is an error: a replay that runs
 * nothing must not pass.
 */

#define INPUT_MAX (16 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
read_input(const char *path, uint8_t **ret, size_t *ret_len)
{
	struct stat st;
	uint8_t *buf;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > INPUT_MAX) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* malloc(0) may return NULL; keep a distinct allocation anyway. */
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			close(fd);
			errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	close(fd);
	*ret = buf;
	*ret_len = off;
	return 0;
}

static int
run_file(const char *path)
{
	uint8_t *buf;
	size_t len;

	if (read_input(path, &buf, &len) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Named first, so a crash's output says which input it was. */
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_dir(const char *dir, size_t *ret_count)
{
	struct dirent *de;
	char **names = NULL, **nn, *path;
	size_t n = 0, cap = 0, i;
	struct stat st;
	DIR *d;
	int r = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nn = realloc(names, cap * sizeof(*names))) ==
			    NULL) {
				r = -1;
				break;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0)
		qsort(names, n, sizeof(*names), by_name);
	for (i = 0; i < n && r == 0; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
			r = -1;
			break;
		}
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0)
				r = -1;
			else
				(*ret_count)++;
		}
		free(path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t total = 0, here;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		here = 0;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &here) != 0)
				return 1;
			if (here == 0) {
				fprintf(stderr, "replay: %s holds no inputs\n",
				    argv[i]);
				return 1;
			}
		} else {
			if (run_file(argv[i]) != 0)
				return 1;
			here = 1;
		}
		total += here;
	}
	printf("replayed %zu inputs\n", total);
	return 0;
}
