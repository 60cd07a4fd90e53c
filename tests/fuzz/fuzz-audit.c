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
#include "fss.h"
#include "jsonx.h"
#include "log.h"

#define FUZZ_NAME "fuzz-audit"
#include "fuzz.h"

/*
 * The input is written to a file and verified.  A verdict must be
 * consistent: JIT_OK names no bad line and counts the lines there are;
 * JIT_E_AUTH names a line that exists and says why, or says the log is
 * empty.  A log that verifies must, once reopened and extended by one
 * event, verify again one record longer (a torn last line is then
 * recorded by that event), and its head must be what verify accepts.
 * Verification with a fixed verification key (the corpus has logs sealed
 * with it) must never pass a log that the chain alone fails.
 */

#define FILE_MAX (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[128];
static struct fss_key *vkey;

/* The key the sealed corpus files were made with. */
static const char vkey_text[] =
    "fss1-000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f/6553f100-3c";

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
	if (fss_vkey_parse(
		(const uint8_t *)vkey_text, strlen(vkey_text), &vkey) != 0)
		fail("the fixed verification key does not parse");
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
extend(uint64_t records, uint64_t torn_final)
{
	struct audit_verdict v;
	struct audit_log *a = NULL;
	struct json_object *ev;
	char hash[AUDIT_HASH_HEX + 1];
	uint64_t seq, acked;
	int r;

	CHECK(audit_verify(path, 0, NULL, &v) == 0);
	acked = v.torn_acked;
	CHECK(audit_open(path, &a) == 0);
	audit_head(a, &seq, hash);
	CHECK(seq == records);
	CHECK(audit_verify(path, seq, hash, &v) == 0);
	CHECK((ev = json_object_new_object()) != NULL);
	CHECK(jsonx_add_str(ev, "event", "fuzz") == 0);
	r = audit_append(a, ev);
	json_object_put(ev);
	audit_head(a, &seq, hash);
	audit_close(a);
	CHECK(r == 0);
	CHECK(seq == records + 1);
	if ((r = audit_verify(path, seq, hash, &v)) != 0)
		fail("extended log does not verify: %s", v.why);
	CHECK(v.records == records + 1);
	CHECK(v.torn_final == 0);
	CHECK(v.torn_acked == acked + (torn_final != 0 ? 1 : 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct audit_verdict v, vs;
	uint64_t lines, seen = 0;
	int r, rs;

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
	rs = audit_verify_sealed(path, 0, NULL, &vkey, 1, &vs);
	CHECK(rs == 0 || rs == JIT_E_AUTH);
	CHECK(memchr(vs.why, '\0', sizeof(vs.why)) != NULL);
	if (rs == 0) {
		CHECK(r == 0);
		CHECK(vs.seals_checked <= vs.seals);
		CHECK(vs.setup_line >= 1 && vs.setup_line <= lines);
	} else
		CHECK(vs.why[0] != '\0');
	if (r == 0) {
		uint64_t records = v.records, torn = v.torn_final;

		CHECK(v.bad_line == 0);
		CHECK(v.lines == lines);
		CHECK(!v.empty && size > 0);
		CHECK(torn == 0 || torn == lines);
		CHECK(records <= lines);
		/* The last record as head: verify agrees; one more: not. */
		CHECK(
		    audit_verify(path, records, NULL, &v) == 0 || records == 0);
		CHECK(audit_verify(path, records + 1, NULL, &v) == JIT_E_AUTH);
		extend(records, torn);
	} else {
		CHECK(r == JIT_E_AUTH);
		if (v.empty)
			CHECK(size == 0 && v.bad_line == 0);
		else
			CHECK(v.bad_line >= 1 && v.bad_line <= lines);
		CHECK(v.why[0] != '\0');
		CHECK(memchr(v.why, '\0', sizeof(v.why)) != NULL);
	}
	unlink(path);
	return 0;
}
