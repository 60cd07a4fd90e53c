/* The append-only, hash-chained, sealed audit log: one JSON line per event. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
#include "fss.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"
#include "wire.h"

#define EVENT_SEAL "seal"
#define EVENT_SETUP "fss-setup"
#define TIME_LEN 24 /* 2024-01-02T03:04:05.678Z */
#define SEAL_WAIT_MAX_MS (60 * 1000) /* re-read the clock at least this often */

struct audit_log {
	int fd;
	char *fss_path;
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
	bool need_newline; /* a torn last line, not yet terminated */
	bool dirty; /* a partial write could not be cut off */
	off_t dirty_size; /* where to cut it */
	int err; /* errno of the last failed write */
	bool torn_pending; /* the next record records the torn line */
	struct audit_torn torn;
	struct fss_key *fss; /* NULL: not sealing */
	uint64_t sealed_seq; /* the last seal line */
	int64_t (*now_ms)(void *);
	void *now_arg;
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

static int64_t
wall_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
now_ms(const struct audit_log *a)
{
	return a->now_ms(a->now_arg);
}

static void
format_time(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", base, (int)(ms % 1000));
}

/* A line's "time" back to unix seconds; -1 if it is not one of ours. */
static int64_t
parse_time(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	struct wire_reader r;
	struct tm tm;
	int v[6] = { 0 }, i, k = 0, n = 0;
	uint8_t c;

	wire_reader_init(&r, s, strlen(s));
	if (wire_left(&r) != TIME_LEN)
		return -1;
	for (i = 0; i < TIME_LEN; i++) {
		(void)wire_get_u8(&r, &c);
		if (shape[i] != 'd') {
			if (c != (uint8_t)shape[i])
				return -1;
			if (n > 0 && k < 6)
				k++;
			n = 0;
			continue;
		}
		if (c < '0' || c > '9')
			return -1;
		if (k < 6)
			v[k] = (n == 0 ? 0 : v[k]) * 10 + (c - '0');
		n++;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	return (int64_t)timegm(&tm);
}

/*
 * Walk the lines of buf: fn(line, len, lineno, arg).  Any bytes but '\n'
 * make a line, however long: fn judges them (a torn tail may be zeros).
 * *ret_ended (may be NULL) says whether the last line had its newline.
 */
static int
each_line(const char *buf, size_t len,
    int (*fn)(const char *, size_t, uint64_t, void *), void *arg,
    bool *ret_ended)
{
	struct wire_reader r;
	const uint8_t *line;
	uint64_t lineno = 0;
	size_t n;
	bool ended = true;
	int rc;

	wire_reader_init(&r, buf, len);
	while (wire_left(&r) > 0) {
		/* The file is at most AUDIT_FILE_MAX: no line is longer. */
		if ((rc = wire_get_line_bytes(
			 &r, AUDIT_FILE_MAX, &line, &n, &ended)) != 0)
			return rc;
		if ((rc = fn((const char *)line, n, ++lineno, arg)) != 0)
			return rc;
	}
	if (ret_ended != NULL)
		*ret_ended = ended;
	return JIT_OK;
}

/* ---- one walk over the lines, for open and for verify ---- */

struct walk {
	bool strict; /* verify: stop at the first fault; open: resync */
	struct audit_verdict *v; /* verify */
	bool faulted;
	/* the chain: the last whole record */
	uint64_t seq;
	uint64_t seq_line; /* its line number */
	char hash[AUDIT_HASH_HEX + 1];
	/* a line that is not a record, for the next start to acknowledge */
	uint64_t torn_line;
	size_t torn_len;
	char torn_sha[AUDIT_HASH_HEX + 1];
	/* the agent's head */
	uint64_t head_seq; /* 0: none */
	char head_hash[AUDIT_HASH_HEX + 1];
	bool head_met;
	/* sealing, by the lines' members */
	uint64_t last_seal_seq;
	char setup_id[FSS_ID_HEX + 1]; /* the last fss-setup's key id */
	/* seals checked with verification keys */
	struct fss_key *const *keys;
	size_t nkeys;
	struct fss_key *cur; /* a copy of the key in force, evolving */
	int64_t last_epoch; /* the last epoch sealed with it, -1: none */
	uint64_t covered; /* records since the last seal, the next covers */
	uint64_t cover_first; /* the first of them */
	uint64_t sealed_through; /* the last line a checked seal covers */
	char foreign_id[FSS_ID_HEX + 1];
};

static int fault(struct walk *w, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first fault is the verdict.  Verify stops there; open goes on. */
static int
fault(struct walk *w, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	if (w->v != NULL && w->v->bad_line == 0) {
		va_start(ap, fmt);
		vsnprintf(w->v->why, sizeof(w->v->why), fmt, ap);
		va_end(ap);
		w->v->bad_line = line;
	}
	w->faulted = true;
	return w->strict ? JIT_E_AUTH : JIT_OK;
}

/* Does record o (the agent's start, normally) record the torn line? */
static bool
acknowledges(struct json_object *o, const struct walk *w)
{
	struct json_object *t;
	const char *sha;
	int64_t line, length;

	return json_object_object_get_ex(o, "torn", &t) &&
	    json_object_is_type(t, json_type_object) &&
	    jsonx_get_int(t, "line", 1, INT64_MAX, &line) == 0 &&
	    jsonx_get_int(t, "length", 0, INT64_MAX, &length) == 0 &&
	    jsonx_get_str(t, "sha256", AUDIT_HASH_HEX, &sha) == 0 &&
	    (uint64_t)line == w->torn_line && (uint64_t)length == w->torn_len &&
	    strcmp(sha, w->torn_sha) == 0;
}

/* Could a crash have left this line, while writing the next record? It
 * is then a prefix of {"seq":N,"time":"... (empty: torn before it). */
static bool
torn_shape(const struct walk *w, const char *line, size_t len)
{
	char start[48];
	int n;

	n = snprintf(start, sizeof(start), "{\"seq\":%llu,\"time\":\"",
	    (unsigned long long)w->seq + 1);
	if (n < 0 || (size_t)n >= sizeof(start))
		return false;
	return memcmp(line, start, len < (size_t)n ? len : (size_t)n) == 0;
}

static const struct fss_key *
key_by_id(const struct walk *w, const char *id)
{
	size_t i;

	for (i = 0; i < w->nkeys; i++)
		if (strcmp(w->keys[i]->id, id) == 0)
			return w->keys[i];
	return NULL;
}

/* An fss-setup line: with keys, the key in force from here on. */
static int
walk_setup(struct walk *w, struct json_object *o, uint64_t lineno)
{
	const struct fss_key *k;
	const char *id;
	int64_t start, interval;
	int r;

	if (w->v != NULL)
		w->v->sealed = true;
	if (jsonx_get_str(o, "key_id", FSS_ID_HEX, &id) != 0 ||
	    strlen(id) != FSS_ID_HEX ||
	    jsonx_get_int(o, "start", 0, INT64_MAX, &start) != 0 ||
	    jsonx_get_int(o, "interval", FSS_INTERVAL_MIN, FSS_INTERVAL_MAX,
		&interval) != 0)
		return fault(w, lineno,
		    "line %llu sets up a sealing key but is malformed: it was edited",
		    (unsigned long long)lineno);
	memcpy(w->setup_id, id, sizeof(w->setup_id));
	if (w->nkeys == 0)
		return JIT_OK;
	if ((k = key_by_id(w, id)) == NULL) {
		if (w->cur != NULL)
			return fault(w, lineno,
			    "line %llu sets up another sealing key (key id %s): someone replaced the key, or 'jitctl audit setup-keys --force' ran; the lines after it cannot be checked with the verification key given",
			    (unsigned long long)lineno, id);
		if (w->v != NULL)
			w->v->earlier_key_line = lineno;
		memcpy(w->foreign_id, id, sizeof(w->foreign_id));
		return JIT_OK;
	}
	if ((uint64_t)start != k->start || (uint64_t)interval != k->interval)
		return fault(w, lineno,
		    "line %llu sets up the verification key's chain with another start or interval: it was edited",
		    (unsigned long long)lineno);
	if (w->cur != NULL && strcmp(w->cur->id, id) == 0)
		return fault(w, lineno,
		    "line %llu sets up the same sealing key a second time: lines were replayed",
		    (unsigned long long)lineno);
	fss_free(w->cur);
	w->cur = NULL;
	if ((r = fss_dup(k, &w->cur)) != 0)
		return r;
	w->last_epoch = -1;
	w->covered = 1; /* this line: the ones before it were not sealed yet */
	w->cover_first = lineno;
	if (w->v != NULL)
		w->v->setup_line = lineno;
	return JIT_OK;
}

/* A seal line: with keys, its MAC must be the one the key gives. */
static int
walk_seal(struct walk *w, struct json_object *o, uint64_t lineno, uint64_t seq,
    const char *prev)
{
	const char *id, *mac, *when;
	char want[FSS_MAC_HEX + 1];
	int64_t epoch, t;
	int r;

	w->last_seal_seq = seq;
	if (w->v != NULL)
		w->v->seals++;
	if (w->nkeys == 0)
		return JIT_OK;
	if (jsonx_get_int(o, "epoch", 0, (int64_t)FSS_EPOCH_MAX, &epoch) != 0 ||
	    jsonx_get_str(o, "key_id", FSS_ID_HEX, &id) != 0 ||
	    jsonx_get_str(o, "mac", FSS_MAC_HEX, &mac) != 0 ||
	    jsonx_get_str(o, "time", TIME_LEN, &when) != 0)
		return fault(w, lineno,
		    "the seal at line %llu is malformed: it was edited",
		    (unsigned long long)lineno);
	if (w->cur == NULL) {
		if (key_by_id(w, id) != NULL)
			return fault(w, lineno,
			    "line %llu is sealed with the verification key given, but the line that set that key up is missing: lines were dropped",
			    (unsigned long long)lineno);
		return JIT_OK; /* an earlier key's: ours cover it later */
	}
	if (strcmp(id, w->cur->id) != 0)
		return fault(w, lineno,
		    "the seal at line %llu names another key (%s) than the one set up at line %llu: it was forged",
		    (unsigned long long)lineno, id,
		    (unsigned long long)w->v->setup_line);
	if (epoch <= w->last_epoch)
		return fault(w, lineno,
		    "the seal at line %llu is for epoch %lld, but epoch %lld was sealed before it: lines were reordered or a seal replayed",
		    (unsigned long long)lineno, (long long)epoch,
		    (long long)w->last_epoch);
	if ((r = fss_evolve(w->cur, (uint64_t)epoch)) != 0 ||
	    (r = fss_mac(w->cur, seq, prev, when, want)) != 0)
		return r == JIT_E_FORMAT ?
		    fault(w, lineno, "the seal at line %llu is malformed",
			(unsigned long long)lineno) :
		    r;
	if (strlen(mac) != FSS_MAC_HEX ||
	    sodium_memcmp(mac, want, FSS_MAC_HEX) != 0)
		return fault(w, lineno,
		    "the seal at line %llu does not match: a line before it was edited, dropped or reordered (and the hash chain recomputed)",
		    (unsigned long long)lineno);
	w->last_epoch = epoch;
	w->sealed_through = lineno;
	if (w->v != NULL) {
		w->v->seals_checked++;
		/* Made more than one epoch after its own ended: the agent
		 * was stopped (a crash) or asleep before it could seal. */
		t = parse_time(when);
		if (t >= 0 && fss_epoch_at(w->cur, t) > (uint64_t)epoch + 1 &&
		    w->covered > 1) {
			if (w->v->late_first == 0)
				w->v->late_first = w->cover_first;
			w->v->late_last = lineno - 1;
			w->v->late_lines += w->covered - 1;
		}
	}
	w->covered = 0;
	return JIT_OK;
}

static int
walk_line(const char *line, size_t len, uint64_t lineno, void *arg)
{
	struct walk *w = arg;
	struct json_object *o = NULL;
	const char *prev, *event;
	int64_t seq;
	int r = JIT_OK;

	if (w->v != NULL)
		w->v->lines = lineno;
	if (len > AUDIT_LINE_MAX || jsonx_parse(line, len, &o) != 0 ||
	    jsonx_get_int(o, "seq", 1, INT64_MAX, &seq) != 0 ||
	    jsonx_get_str(o, "prev", AUDIT_HASH_HEX, &prev) != 0) {
		/* Torn by a crash, or edited: the next start event tells. */
		if (w->torn_line != 0 &&
		    (r = fault(w, w->torn_line,
			 "line %llu is not a well-formed audit record and the agent did not record it as torn: it was edited",
			 (unsigned long long)w->torn_line)) != 0)
			goto out;
		if (!torn_shape(w, line, len) &&
		    (r = fault(w, lineno,
			 "line %llu is not a well-formed audit record: it was edited",
			 (unsigned long long)lineno)) != 0)
			goto out;
		w->torn_line = lineno;
		w->torn_len = len;
		hash_line(line, len, w->torn_sha);
		goto out;
	}
	if (w->torn_line != 0) {
		if (!acknowledges(o, w)) {
			if ((r = fault(w, w->torn_line,
				 "line %llu is not a well-formed audit record and the next record does not record it as torn: it was edited",
				 (unsigned long long)w->torn_line)) != 0)
				goto out;
		} else if (w->v != NULL) {
			if (w->v->torn_acked++ == 0)
				w->v->torn_first = w->torn_line;
		}
		w->torn_line = 0;
	}
	if ((uint64_t)seq != w->seq + 1 &&
	    (r = fault(w, lineno,
		 "line %llu has sequence number %lld where %llu was expected: a line was dropped or reordered",
		 (unsigned long long)lineno, (long long)seq,
		 (unsigned long long)w->seq + 1)) != 0)
		goto out;
	if (strcmp(prev, w->hash) != 0) {
		if (w->seq_line > 0)
			r = fault(w, w->seq_line,
			    "line %llu does not chain to line %llu: line %llu was edited",
			    (unsigned long long)lineno,
			    (unsigned long long)w->seq_line,
			    (unsigned long long)w->seq_line);
		else
			r = fault(w, lineno,
			    "line %llu does not start the chain: earlier lines were dropped or it was edited",
			    (unsigned long long)lineno);
		if (r != 0)
			goto out;
	}
	/* Open goes on from here whatever came before. */
	w->seq = (uint64_t)seq;
	w->seq_line = lineno;
	hash_line(line, len, w->hash);
	if (w->covered++ == 0)
		w->cover_first = lineno;
	if (w->head_seq != 0 && w->seq == w->head_seq) {
		if (strcmp(w->hash, w->head_hash) != 0 &&
		    (r = fault(w, lineno,
			 "line %llu does not match the agent's record of it: it was edited",
			 (unsigned long long)lineno)) != 0)
			goto out;
		w->head_met = true;
	}
	if (jsonx_get_str(o, "event", 32, &event) != 0)
		goto out;
	if (strcmp(event, EVENT_SETUP) == 0)
		r = walk_setup(w, o, lineno);
	else if (strcmp(event, EVENT_SEAL) == 0)
		r = walk_seal(w, o, lineno, (uint64_t)seq, prev);
out:
	json_object_put(o);
	return r;
}

/* ---- the log the agent writes ---- */

/* The key file's path: audit.log -> audit.fss, else PATH.fss. */
static int
fss_path_of(const char *path, char **ret)
{
	size_t n = strlen(path);

	if (n > 4 && strcmp(path + n - 4, ".log") == 0)
		return asprintf(ret, "%.*s.fss", (int)(n - 4), path) < 0 ?
		    JIT_E_NOMEM :
		    JIT_OK;
	return asprintf(ret, "%s.fss", path) < 0 ? JIT_E_NOMEM : JIT_OK;
}

int
audit_open(const char *path, struct audit_log **ret)
{
	struct audit_log *a;
	struct walk w;
	char *buf = NULL;
	size_t len = 0;
	bool ended = true;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return JIT_E_NOMEM;
	a->fd = -1;
	a->now_ms = wall_ms;
	memset(&w, 0, sizeof(w));
	genesis(w.hash);
	if ((r = fss_path_of(path, &a->fss_path)) != 0)
		goto out;
	r = fs_read_file(path, AUDIT_FILE_MAX, &buf, &len);
	if (r == 0) {
		/* Continue the chain from its last record; a broken chain is
		 * reported, not repaired: verify names the line.  This walk
		 * does not stop early (it resyncs), so ended is the file's. */
		(void)each_line(buf, len, walk_line, &w, &ended);
		if (w.faulted)
			log_warn(
			    "audit log %s does not verify; run 'jitctl audit verify'",
			    path);
		if (w.torn_line != 0) {
			log_warn(
			    "audit log %s: line %llu is torn (the agent stopped while writing it)",
			    path, (unsigned long long)w.torn_line);
			a->torn_pending = true;
			a->torn.line = w.torn_line;
			a->torn.length = w.torn_len;
			memcpy(a->torn.sha256, w.torn_sha, sizeof(w.torn_sha));
		}
		a->need_newline = !ended;
	} else if (r != JIT_E_NOENT)
		goto out;
	a->seq = w.seq;
	a->sealed_seq = w.last_seal_seq;
	memcpy(a->hash, w.hash, sizeof(a->hash));
	r = fss_load(a->fss_path, &a->fss);
	if (r == JIT_E_NOENT) {
		if (w.setup_id[0] != '\0')
			log_warn(
			    "audit log %s was sealed (key id %s) but its key file %s is gone: nothing is sealed until 'jitctl audit setup-keys' runs again",
			    path, w.setup_id, a->fss_path);
	} else if (r != 0)
		goto out;
	else if (strcmp(a->fss->id, w.setup_id) != 0)
		log_warn(
		    "the sealing key %s (key id %s) was not set up in %s: its seals will not verify",
		    a->fss_path, a->fss->id, path);
	a->fd = open(
	    path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		r = JIT_E_IO;
		goto out;
	}
	/* A torn last line stays as evidence; the next record starts a line
	 * of its own (if this write fails, that record's write adds it). */
	if (a->need_newline && write(a->fd, "\n", 1) == 1)
		a->need_newline = false;
	*ret = a;
	a = NULL;
	r = JIT_OK;
out:
	free(buf);
	audit_close(a);
	return r;
}

void
audit_close(struct audit_log *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	fss_free(a->fss);
	free(a->fss_path);
	free(a);
}

void
audit_set_clock(struct audit_log *a, int64_t (*fn)(void *arg), void *arg)
{
	a->now_ms = fn != NULL ? fn : wall_ms;
	a->now_arg = arg;
}

const char *
audit_fss_path(const struct audit_log *a)
{
	return a->fss_path;
}

const char *
audit_why(const struct audit_log *a)
{
	switch (a->err) {
	case 0: return "an unknown error";
	case ENOSPC: return "no space left on the device";
	case EDQUOT: return "the disk quota is used up";
	case EFBIG: return "the file size limit is reached";
	case EIO: return "an input/output error";
	case EROFS: return "the file system is read-only";
	case EBADF: return "the log is not open for writing";
	default: return strerror(a->err);
	}
}

/*
 * Write buf whole at the end of the log, or cut back what part of it got
 * there: the file always ends on a whole line.  No fsync: a line costs one
 * write, as a get must stay fast.
 */
static int
write_whole(struct audit_log *a, const char *buf, size_t len)
{
	struct stat st;
	size_t off = 0;
	ssize_t n;

	if (a->dirty) {
		if (ftruncate(a->fd, a->dirty_size) != 0) {
			a->err = errno;
			return JIT_E_IO;
		}
		a->dirty = false;
	}
	if (fstat(a->fd, &st) != 0) {
		a->err = errno;
		return JIT_E_IO;
	}
	while (off < len) {
		n = write(a->fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A write that came up short tried again gives the
			 * reason (ENOSPC, EFBIG with SIGXFSZ ignored). */
			a->err = n < 0 ? errno : EIO;
			break;
		}
		off += (size_t)n;
	}
	if (off == len)
		return JIT_OK;
	if (off > 0 && ftruncate(a->fd, st.st_size) != 0) {
		log_error("audit log: a partial line could not be cut off: %s",
		    strerror(errno));
		a->dirty = true;
		a->dirty_size = st.st_size;
	}
	return JIT_E_IO;
}

/* A line object with the chain's members, for the next record. */
static int
line_new(struct audit_log *a, const char *when, struct json_object **ret)
{
	struct json_object *o;
	int r;

	if ((o = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_int(o, "seq", (int64_t)a->seq + 1)) != 0 ||
	    (r = jsonx_add_str(o, "time", when)) != 0 ||
	    (r = jsonx_add_str(o, "prev", a->hash)) != 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return JIT_OK;
}

/* Copy ev's members into o; the chain's own are not the event's to set,
 * nor are the sealing events. */
static int
copy_members(struct json_object *o, struct json_object *ev, bool with_event)
{
	const char *s;

	json_object_object_foreach(ev, k, v)
	{
		if (strcmp(k, "seq") == 0 || strcmp(k, "time") == 0 ||
		    strcmp(k, "prev") == 0 || strcmp(k, "torn") == 0 ||
		    (!with_event && strcmp(k, "event") == 0))
			return JIT_E_ARG;
		if (strcmp(k, "event") == 0 &&
		    (!json_object_is_type(v, json_type_string) ||
			strcmp((s = json_object_get_string(v)), EVENT_SEAL) ==
			    0 ||
			strcmp(s, EVENT_SETUP) == 0))
			return JIT_E_ARG;
		if (json_object_object_add(o, k, json_object_get(v)) != 0)
			return JIT_E_NOMEM;
	}
	return JIT_OK;
}

/* The torn line found at open, as the next record carries it. */
static int
add_torn(struct audit_log *a, struct json_object *o)
{
	struct json_object *t;
	int r;

	if ((t = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	if ((r = jsonx_add_int(t, "line", (int64_t)a->torn.line)) != 0 ||
	    (r = jsonx_add_int(t, "length", (int64_t)a->torn.length)) != 0 ||
	    (r = jsonx_add_str(t, "sha256", a->torn.sha256)) != 0 ||
	    json_object_object_add(o, "torn", t) != 0) {
		json_object_put(t);
		return r != 0 ? r : JIT_E_NOMEM;
	}
	return JIT_OK;
}

/* Serialize o and append it as the next record. */
static int
write_record(struct audit_log *a, struct json_object *o)
{
	const char *s;
	char *line;
	size_t len, pre = a->need_newline ? 1 : 0;
	int r;

	if (a->torn_pending && (r = add_torn(a, o)) != 0)
		return r;
	s = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if (len > AUDIT_LINE_MAX)
		return JIT_E_LIMIT;
	if ((line = malloc(pre + len + 1)) == NULL)
		return JIT_E_NOMEM;
	line[0] = '\n';
	memcpy(line + pre, s, len);
	line[pre + len] = '\n';
	if ((r = write_whole(a, line, pre + len + 1)) != 0) {
		log_error("audit log write failed: %s", audit_why(a));
		goto out;
	}
	a->need_newline = false;
	a->torn_pending = false;
	a->seq++;
	hash_line(line + pre, len, a->hash);
out:
	free(line);
	return r;
}

int
audit_append(struct audit_log *a, struct json_object *ev)
{
	struct json_object *o = NULL;
	char when[40];
	int r;

	format_time(now_ms(a), when, sizeof(when));
	if ((r = line_new(a, when, &o)) != 0)
		return r;
	if ((r = copy_members(o, ev, true)) == 0)
		r = write_record(a, o);
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

/* ---- sealing ---- */

void
audit_sealing(const struct audit_log *a, struct audit_sealing *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (a->fss == NULL)
		return;
	ret->on = true;
	memcpy(ret->key_id, a->fss->id, sizeof(ret->key_id));
	ret->start = a->fss->start;
	ret->interval = a->fss->interval;
	ret->epoch = a->fss->epoch;
	ret->sealed_seq = a->sealed_seq;
}

/*
 * Seal the lines since the last seal (if any) with the current key, then
 * evolve it to epoch target.  The evolved key reaches the file before the
 * seal line: if the line is then lost, the next seal covers those lines
 * (late); the other order could leave a key on disk that made a seal.
 */
static int
seal_and_evolve(struct audit_log *a, uint64_t target)
{
	struct fss_key *next = NULL;
	struct json_object *o = NULL;
	char when[40], mac[FSS_MAC_HEX + 1];
	bool seal = a->seq > a->sealed_seq;
	uint64_t epoch = a->fss->epoch;
	int r;

	format_time(now_ms(a), when, sizeof(when));
	if (seal && (r = fss_mac(a->fss, a->seq + 1, a->hash, when, mac)) != 0)
		return r;
	if ((r = fss_dup(a->fss, &next)) != 0 ||
	    (r = fss_evolve(next, target)) != 0 ||
	    (r = fss_save(next, a->fss_path)) != 0) {
		if (r == JIT_E_IO)
			a->err = errno;
		log_error("audit: cannot write the sealing key %s: %s",
		    a->fss_path,
		    r == JIT_E_IO ? audit_why(a) : jit_strerror(r));
		fss_free(next);
		return r;
	}
	fss_free(a->fss); /* wipes the key that made the seal */
	a->fss = next;
	if (!seal)
		return JIT_OK;
	if ((r = line_new(a, when, &o)) != 0 ||
	    (r = jsonx_add_str(o, "event", EVENT_SEAL)) != 0 ||
	    (r = jsonx_add_int(o, "epoch", (int64_t)epoch)) != 0 ||
	    (r = jsonx_add_str(o, "key_id", a->fss->id)) != 0 ||
	    (r = jsonx_add_str(o, "mac", mac)) != 0 ||
	    (r = write_record(a, o)) != 0) {
		log_error(
		    "audit: the seal of records %llu to %llu could not be written; the next seal covers them",
		    (unsigned long long)a->sealed_seq + 1,
		    (unsigned long long)a->seq);
		goto out;
	}
	a->sealed_seq = a->seq;
out:
	sodium_memzero(mac, sizeof(mac));
	json_object_put(o);
	return r;
}

static uint64_t
clock_epoch(const struct audit_log *a)
{
	uint64_t e = fss_epoch_at(a->fss, now_ms(a) / 1000);

	return e > FSS_EPOCH_MAX ? FSS_EPOCH_MAX : e;
}

int
audit_seal_due(struct audit_log *a)
{
	uint64_t e;

	if (a->fss == NULL)
		return JIT_OK;
	/* A clock that went back leaves the key where it is. */
	if ((e = clock_epoch(a)) <= a->fss->epoch) {
		if (a->fss->epoch == FSS_EPOCH_MAX && a->seq > a->sealed_seq) {
			log_error(
			    "audit: the sealing key is at its last epoch: run 'jitctl audit setup-keys --force'");
			return JIT_E_LIMIT;
		}
		return JIT_OK;
	}
	return seal_and_evolve(a, e);
}

int
audit_seal_now(struct audit_log *a)
{
	uint64_t e;

	if (a->fss == NULL || a->seq <= a->sealed_seq)
		return JIT_OK;
	if (a->fss->epoch == FSS_EPOCH_MAX) {
		log_error(
		    "audit: the sealing key is at its last epoch: run 'jitctl audit setup-keys --force'");
		return JIT_E_LIMIT;
	}
	e = clock_epoch(a);
	return seal_and_evolve(a, e > a->fss->epoch ? e : a->fss->epoch + 1);
}

int64_t
audit_seal_wait_ms(const struct audit_log *a)
{
	int64_t end, d;

	if (a->fss == NULL)
		return -1;
	end = (int64_t)(a->fss->start +
		  (a->fss->epoch + 1) * (uint64_t)a->fss->interval) *
	    1000;
	d = end - now_ms(a);
	if (d < 0)
		d = 0;
	return d > SEAL_WAIT_MAX_MS ? SEAL_WAIT_MAX_MS : d;
}

int
audit_setup_keys(struct audit_log *a, uint32_t interval_s, bool replace,
    struct json_object *extra, struct secret **ret_vkey)
{
	struct fss_key *k = NULL;
	struct secret *vkey = NULL;
	struct json_object *o = NULL;
	char when[40];
	int64_t now = now_ms(a);
	int r;

	if (a->fss != NULL && !replace)
		return JIT_E_EXISTS;
	/* The old key seals what it has before it goes. */
	if (a->fss != NULL && (r = audit_seal_now(a)) != 0)
		return r;
	if ((r = fss_new((uint64_t)(now / 1000), interval_s, &k)) != 0 ||
	    (r = fss_vkey_format(k, &vkey)) != 0)
		goto out;
	if ((r = fss_save(k, a->fss_path)) != 0) {
		if (r == JIT_E_IO)
			a->err = errno;
		log_error("audit: cannot write the sealing key %s: %s",
		    a->fss_path,
		    r == JIT_E_IO ? audit_why(a) : jit_strerror(r));
		goto out;
	}
	format_time(now, when, sizeof(when));
	if ((r = line_new(a, when, &o)) != 0 ||
	    (r = jsonx_add_str(o, "event", EVENT_SETUP)) != 0 ||
	    (r = jsonx_add_str(o, "key_id", k->id)) != 0 ||
	    (r = jsonx_add_int(o, "start", (int64_t)k->start)) != 0 ||
	    (r = jsonx_add_int(o, "interval", (int64_t)k->interval)) != 0 ||
	    (extra != NULL && (r = copy_members(o, extra, false)) != 0) ||
	    (r = write_record(a, o)) != 0) {
		/* No setup line: the key file goes back to what it was. */
		if (a->fss != NULL ? fss_save(a->fss, a->fss_path) != 0 :
				     unlink(a->fss_path) != 0)
			log_error(
			    "audit: the sealing key %s could not be put back",
			    a->fss_path);
		goto out;
	}
	fss_free(a->fss);
	a->fss = k;
	k = NULL;
	*ret_vkey = vkey;
	vkey = NULL;
	r = JIT_OK;
out:
	json_object_put(o);
	fss_free(k);
	secret_free(vkey);
	return r;
}

/* ---- verification ---- */

static int
verify(const char *path, uint64_t head_seq, const char *head_hash,
    struct fss_key *const *keys, size_t nkeys, struct audit_verdict *v)
{
	struct walk w;
	char *buf = NULL;
	size_t len;
	int r;

	memset(v, 0, sizeof(*v));
	memset(&w, 0, sizeof(w));
	genesis(w.hash);
	w.strict = true;
	w.v = v;
	w.keys = keys;
	w.nkeys = nkeys;
	w.last_epoch = -1;
	if (head_seq > 0) {
		w.head_seq = head_seq;
		if (head_hash != NULL && strlen(head_hash) == AUDIT_HASH_HEX)
			memcpy(w.head_hash, head_hash, sizeof(w.head_hash));
		else
			w.head_seq = 0;
	}
	if ((r = fs_read_file(path, AUDIT_FILE_MAX, &buf, &len)) != 0) {
		snprintf(v->why, sizeof(v->why),
		    r == JIT_E_NOENT ? "no audit log at %s" : "cannot read %s",
		    path);
		return r;
	}
	if (len == 0) {
		v->empty = true;
		snprintf(v->why, sizeof(v->why), "the audit log is empty");
		r = JIT_E_AUTH;
		goto out;
	}
	if ((r = each_line(buf, len, walk_line, &w, NULL)) != 0)
		goto out;
	v->records = w.seq;
	/* A line that is not a record at the very end: the agent stopped
	 * while writing it (a crash, a full disk); nothing follows it. */
	if (w.torn_line != 0)
		v->torn_final = w.torn_line;
	/* The head's record, if the log reaches it, was checked above;
	 * records appended after the agent gave its head are fine. */
	if (head_seq > 0 && w.seq < head_seq) {
		r = fault(&w, w.seq_line + 1,
		    "the log ends at record %llu but the agent wrote %llu: lines were dropped from the end",
		    (unsigned long long)w.seq, (unsigned long long)head_seq);
		goto out;
	}
	if (nkeys > 0 && w.cur == NULL) {
		if (w.foreign_id[0] != '\0')
			r = fault(&w, v->earlier_key_line,
			    "the log was sealed with key id %s (set up at line %llu), not with the verification key given (key id %s)",
			    w.foreign_id,
			    (unsigned long long)v->earlier_key_line,
			    keys[0]->id);
		else
			r = fault(&w, 1,
			    "the log has no fss-setup line for the verification key given (key id %s): it was never sealed with it, or that line was removed",
			    keys[0]->id);
		goto out;
	}
	if (nkeys > 0 && w.sealed_through < w.seq_line) {
		v->unsealed_from = w.sealed_through + 1;
		v->unsealed_to = w.seq_line;
	}
	r = JIT_OK;
out:
	fss_free(w.cur);
	free(buf);
	return r;
}

int
audit_verify(const char *path, uint64_t head_seq, const char *head_hash,
    struct audit_verdict *v)
{
	return verify(path, head_seq, head_hash, NULL, 0, v);
}

int
audit_verify_sealed(const char *path, uint64_t head_seq, const char *head_hash,
    struct fss_key *const *keys, size_t nkeys, struct audit_verdict *v)
{
	if (nkeys == 0) {
		memset(v, 0, sizeof(*v));
		return JIT_E_ARG;
	}
	return verify(path, head_seq, head_hash, keys, nkeys, v);
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
	r = each_line(buf, len, read_line, &rd, NULL);
	free(buf);
	return r;
}
