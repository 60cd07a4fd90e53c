/* libFuzzer harness: an audit log file, as lib/audit.c verifies it. */
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "err.h"
#include "jsonx.h"
#include "log.h"

#define FUZZ_NAME "fuzz-audit"
#include "fuzz.h"

/*
 * The input is written to a file and verified.  A verdict must be
 * consistent: JIT_OK names no bad line and counts the lines there are;
 * JIT_E_AUTH names a line that exists (or the one after the last) and
 * says why.  A log that verifies and ends with a newline must, once
 * reopened and extended by one event, verify again one line longer, and
 * its head must be what verify accepts.
 */

#define FILE_MAX (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[128];

static int
remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
cleanup(void)
{
	if (dir[0] != '\0')
		nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (sodium_init() < 0)
		abort();
	log_init("fuzz-audit", 1, LOG_LVL_ERROR);
	snprintf(dir, sizeof(dir), "%s/jit-fuzz-audit-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp %s", dir);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	atexit(cleanup);
}

static void
write_file(const uint8_t *data, size_t size)
{
	FILE *f;

	CHECK((f = fopen(path, "w")) != NULL);
	CHECK(size == 0 || fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);
}

static uint64_t
count_lines(const uint8_t *data, size_t size)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < size; i++)
		if (data[i] == '\n')
			n++;
	if (size > 0 && data[size - 1] != '\n')
		n++;
	return n;
}

static int
count_cb(const char *line, size_t len, void *arg)
{
	(void)line;
	(void)len;
	(*(uint64_t *)arg)++;
	return 0;
}

static void
extend(uint64_t lines)
{
	struct audit_verdict v;
	struct audit_log *a = NULL;
	struct json_object *ev;
	char hash[AUDIT_HASH_HEX + 1];
	uint64_t seq;
	int r;

	CHECK(audit_open(path, &a) == 0);
	audit_head(a, &seq, hash);
	CHECK(seq == lines);
	CHECK(audit_verify(path, seq, hash, &v) == 0);
	CHECK((ev = json_object_new_object()) != NULL);
	CHECK(jsonx_add_str(ev, "event", "fuzz") == 0);
	r = audit_append(a, ev);
	json_object_put(ev);
	audit_head(a, &seq, hash);
	audit_close(a);
	CHECK(r == 0);
	CHECK(seq == lines + 1);
	if ((r = audit_verify(path, seq, hash, &v)) != 0)
		fail("extended log does not verify: %s", v.why);
	CHECK(v.lines == lines + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct audit_verdict v;
	uint64_t lines, seen = 0;
	int r;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > FILE_MAX)
		return 0;
	write_file(data, size);
	lines = count_lines(data, size);
	r = audit_verify(path, 0, NULL, &v);
	CHECK(audit_read(path, count_cb, &seen) == 0);
	CHECK(seen == lines);
	if (r == 0) {
		CHECK(v.bad_line == 0);
		CHECK(v.lines == lines);
		CHECK(size == 0 || data[size - 1] == '\n');
		/* The count of lines as head: verify agrees; one more: not. */
		CHECK(audit_verify(path, lines, NULL, &v) == 0 || lines == 0);
		CHECK(audit_verify(path, lines + 1, NULL, &v) == JIT_E_AUTH);
		CHECK(v.bad_line == lines + 1);
		extend(lines);
	} else {
		CHECK(r == JIT_E_AUTH);
		CHECK(v.bad_line >= 1 && v.bad_line <= lines);
		CHECK(v.why[0] != '\0');
		CHECK(memchr(v.why, '\0', sizeof(v.why)) != NULL);
	}
	unlink(path);
	return 0;
}
