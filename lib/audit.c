/* The append-only, hash-chained audit log: one JSON line per event. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "err.h"
#include "fsutil.h"
#include "jsonx.h"
#include "log.h"

struct audit_log {
	int fd;
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
};

static void
hash_line(const char *line, size_t len, char out[AUDIT_HASH_HEX + 1])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const uint8_t *)line, len);
	sodium_bin2hex(out, AUDIT_HASH_HEX + 1, h, sizeof(h));
}

static void
genesis(char out[AUDIT_HASH_HEX + 1])
{
	memset(out, '0', AUDIT_HASH_HEX);
	out[AUDIT_HASH_HEX] = '\0';
}

/* Walk the lines of buf: fn(line, len, lineno, arg). */
static int
each_line(const char *buf, size_t len,
    int (*fn)(const char *, size_t, uint64_t, void *), void *arg)
{
	const char *p = buf, *end = buf + len, *nl;
	uint64_t n = 0;
	int r;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n++;
		if ((r = fn(p, (size_t)(nl - p), n, arg)) != 0)
			return r;
		p = nl + 1;
	}
	return JIT_OK;
}

struct chain {
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
	struct audit_verdict *v;
	uint64_t head_seq; /* 0: no head to meet */
	char head_hash[AUDIT_HASH_HEX + 1];
	bool head_met;
};

static int
chain_line(const char *line, size_t len, uint64_t lineno, void *arg)
{
	struct chain *c = arg;
	struct json_object *o = NULL;
	const char *prev;
	int64_t seq;
	int r = JIT_E_AUTH;

	if (c->v != NULL)
		c->v->lines = lineno;
	if (len > AUDIT_LINE_MAX || jsonx_parse(line, len, &o) != 0 ||
	    jsonx_get_int(o, "seq", 1, INT64_MAX, &seq) != 0 ||
	    jsonx_get_str(o, "prev", AUDIT_HASH_HEX, &prev) != 0) {
		if (c->v != NULL)
			snprintf(c->v->why, sizeof(c->v->why),
			    "line %llu is not a well-formed audit record "
			    "(edited or torn)",
			    (unsigned long long)lineno);
		goto out;
	}
	if ((uint64_t)seq != c->seq + 1) {
		if (c->v != NULL)
			snprintf(c->v->why, sizeof(c->v->why),
			    "line %llu has sequence number %lld where %llu was "
			    "expected: a line was dropped or reordered",
			    (unsigned long long)lineno, (long long)seq,
			    (unsigned long long)c->seq + 1);
		goto out;
	}
	if (strcmp(prev, c->hash) != 0) {
		if (c->v != NULL) {
			if (lineno > 1)
				snprintf(c->v->why, sizeof(c->v->why),
				    "line %llu does not chain to line %llu: "
				    "line %llu was edited",
				    (unsigned long long)lineno,
				    (unsigned long long)lineno - 1,
				    (unsigned long long)lineno - 1);
			else
				snprintf(c->v->why, sizeof(c->v->why),
				    "line 1 does not start the chain: earlier "
				    "lines were dropped or it was edited");
			c->v->lines = lineno > 1 ? lineno - 1 : 1;
		}
		goto out;
	}
	c->seq = (uint64_t)seq;
	hash_line(line, len, c->hash);
	if (c->head_seq != 0 && c->seq == c->head_seq) {
		if (strcmp(c->hash, c->head_hash) != 0) {
			if (c->v != NULL)
				snprintf(c->v->why, sizeof(c->v->why),
				    "line %llu does not match the agent's "
				    "record of it: it was edited",
				    (unsigned long long)lineno);
			r = JIT_E_AUTH;
			goto out;
		}
		c->head_met = true;
	}
	r = JIT_OK;
out:
	if (r != 0 && c->v != NULL && c->v->bad_line == 0)
		c->v->bad_line = c->v->lines;
	json_object_put(o);
	return r;
}

int
audit_open(const char *path, struct audit_log **ret)
{
	struct audit_log *a;
	struct chain c;
	char *buf = NULL;
	size_t len;
	bool torn = false;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return JIT_E_NOMEM;
	a->fd = -1;
	memset(&c, 0, sizeof(c));
	genesis(c.hash);
	r = fs_read_file(path, AUDIT_FILE_MAX, &buf, &len);
	if (r == 0) {
		/* Continue the chain from what is there; a broken chain is
		 * reported, not repaired: verify will name the line. */
		if (each_line(buf, len, chain_line, &c) != 0)
			log_warn("audit log %s does not verify; "
				 "run 'jitctl audit verify'",
			    path);
		torn = len > 0 && buf[len - 1] != '\n';
		if (torn)
			log_warn("audit log %s ends with a torn line", path);
	} else if (r != JIT_E_NOENT)
		goto out;
	a->seq = c.seq;
	memcpy(a->hash, c.hash, sizeof(a->hash));
	a->fd = open(
	    path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		r = JIT_E_IO;
		goto out;
	}
	/* A torn last line (a crash mid-write) stays as evidence; the next
	 * record starts a line of its own. */
	if (torn && write(a->fd, "\n", 1) != 1) {
		r = JIT_E_IO;
		goto out;
	}
	*ret = a;
	a = NULL;
	r = JIT_OK;
out:
	free(buf);
	if (a != NULL && a->fd >= 0)
		close(a->fd);
	free(a);
	return r;
}

void
audit_close(struct audit_log *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

static void
now_iso(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(
	    out, outlen, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
}

int
audit_append(struct audit_log *a, struct json_object *ev)
{
	struct json_object *o = NULL;
	const char *s;
	char when[40], *line = NULL;
	size_t len;
	ssize_t n;
	int r;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	now_iso(when, sizeof(when));
	if ((r = jsonx_add_int(o, "seq", (int64_t)a->seq + 1)) != 0 ||
	    (r = jsonx_add_str(o, "time", when)) != 0 ||
	    (r = jsonx_add_str(o, "prev", a->hash)) != 0)
		goto out;
	json_object_object_foreach(ev, k, v)
	{
		/* The chain's own members are not the event's to set. */
		if (strcmp(k, "seq") == 0 || strcmp(k, "time") == 0 ||
		    strcmp(k, "prev") == 0) {
			r = JIT_E_ARG;
			goto out;
		}
		if (json_object_object_add(o, k, json_object_get(v)) != 0) {
			r = JIT_E_NOMEM;
			goto out;
		}
	}
	s = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if (len > AUDIT_LINE_MAX) {
		r = JIT_E_LIMIT;
		goto out;
	}
	if ((line = malloc(len + 1)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	memcpy(line, s, len);
	line[len] = '\n';
	/* One write: O_APPEND keeps the line whole. */
	n = write(a->fd, line, len + 1);
	if (n != (ssize_t)len + 1) {
		log_error("audit log write failed: %s",
		    n < 0 ? strerror(errno) : "short write");
		r = JIT_E_IO;
		goto out;
	}
	a->seq++;
	hash_line(line, len, a->hash);
	r = JIT_OK;
out:
	free(line);
	json_object_put(o);
	return r;
}

void
audit_head(const struct audit_log *a, uint64_t *ret_seq,
    char ret_hash[AUDIT_HASH_HEX + 1])
{
	*ret_seq = a->seq;
	memcpy(ret_hash, a->hash, AUDIT_HASH_HEX + 1);
}

int
audit_verify(const char *path, uint64_t head_seq, const char *head_hash,
    struct audit_verdict *v)
{
	struct chain c;
	char *buf = NULL;
	size_t len;
	int r;

	memset(v, 0, sizeof(*v));
	memset(&c, 0, sizeof(c));
	genesis(c.hash);
	c.v = v;
	if (head_seq > 0 && head_hash != NULL &&
	    strlen(head_hash) == AUDIT_HASH_HEX) {
		c.head_seq = head_seq;
		memcpy(c.head_hash, head_hash, sizeof(c.head_hash));
	}
	if ((r = fs_read_file(path, AUDIT_FILE_MAX, &buf, &len)) != 0) {
		if (r == JIT_E_NOENT && head_seq == 0)
			return JIT_OK;
		snprintf(v->why, sizeof(v->why), "cannot read %s: %s", path,
		    jit_strerror(r));
		return r == JIT_E_NOENT ? JIT_E_AUTH : r;
	}
	if ((r = each_line(buf, len, chain_line, &c)) != 0)
		goto out;
	if (len > 0 && buf[len - 1] != '\n') {
		snprintf(v->why, sizeof(v->why), "the last line is torn");
		v->bad_line = v->lines;
		r = JIT_E_AUTH;
		goto out;
	}
	/* Lines appended after the agent gave its head are fine. */
	if (head_seq > 0 && c.seq < head_seq) {
		snprintf(v->why, sizeof(v->why),
		    "the log ends at line %llu but "
		    "the agent wrote %llu lines: lines were dropped from the "
		    "end",
		    (unsigned long long)c.seq, (unsigned long long)head_seq);
		v->bad_line = c.seq + 1;
		r = JIT_E_AUTH;
		goto out;
	}
	v->lines = c.seq;
	r = JIT_OK;
out:
	free(buf);
	return r;
}

struct reader {
	int (*fn)(const char *, size_t, void *);
	void *arg;
};

static int
read_line(const char *line, size_t len, uint64_t lineno, void *arg)
{
	struct reader *rd = arg;

	(void)lineno;
	return rd->fn(line, len, rd->arg);
}

int
audit_read(const char *path, int (*fn)(const char *line, size_t len, void *arg),
    void *arg)
{
	struct reader rd = { fn, arg };
	char *buf = NULL;
	size_t len;
	int r;

	if ((r = fs_read_file(path, AUDIT_FILE_MAX, &buf, &len)) != 0)
		return r;
	r = each_line(buf, len, read_line, &rd);
	free(buf);
	return r;
}
