/* The append-only, hash-chained, sealed audit log: one JSON line per event. */
#ifndef JIT_AUDIT_H
#define JIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "fss.h"

#define AUDIT_FILE_NAME "audit.log" /* in the data directory */
#define AUDIT_FSS_NAME "audit.fss" /* its sealing key, beside it */
#define AUDIT_HASH_HEX 64
#define AUDIT_LINE_MAX (16 * 1024)
#define AUDIT_FILE_MAX ((size_t)1 << 30)

struct secret;

/*
 * Each line is a JSON object with "seq" (1, 2, ...), "time" (UTC, ms),
 * "prev" (hex SHA-256 of the previous whole line's bytes, zeros for the
 * first) and the event's members.  Editing, dropping or reordering a line
 * breaks the chain at that point; truncating the tail is caught by
 * comparing with the head the running agent holds.
 *
 * A line is written whole or not at all: a failed or short write is cut
 * back off the file.  A line torn by a crash (not a record) is recorded by
 * the first record the next agent writes, its "start" event:
 * {"torn":{"line","length","sha256"}}; the chain goes on from the last
 * whole line before it.
 *
 * Once sealing is set up (an "fss-setup" line and the key file beside the
 * log), every epoch with new lines ends with a "seal" line whose MAC, under
 * that epoch's key, covers the hash of the line before it and so the whole
 * chain up to it; the key then evolves and the old one is wiped.  Someone
 * who rewrites the file and recomputes the hashes cannot recompute a seal
 * of a past epoch: verification with the verification key finds it.
 */
struct audit_log;

/* Open (create) the log at path, continue its chain, and load its sealing
 * key if there is one (JIT_E_DENIED: the key file is not private;
 * JIT_E_FORMAT: it is damaged). */
int audit_open(const char *path, struct audit_log **ret);
void audit_close(struct audit_log *a);
/* Adds seq, time and prev to ev (which it does not take) and appends the
 * line whole, or nothing (then audit_why() says why). */
int audit_append(struct audit_log *a, struct json_object *ev);
/* Why the last append failed: "no space left on the device", ... */
const char *audit_why(const struct audit_log *a);
void audit_head(const struct audit_log *a, uint64_t *ret_seq,
    char ret_hash[AUDIT_HASH_HEX + 1]);
/* The key file's path (for messages). */
const char *audit_fss_path(const struct audit_log *a);
/* For tests: the wall clock, in ms since the epoch. */
void audit_set_clock(
    struct audit_log *a, int64_t (*now_ms)(void *arg), void *arg);

/* A line torn by a crash, found at open. */
struct audit_torn {
	uint64_t line; /* its line number in the file */
	uint64_t length; /* its bytes, without a newline */
	char sha256[AUDIT_HASH_HEX + 1];
};

/* Sealing: the state, for `audit-head` and the timer. */
struct audit_sealing {
	bool on;
	char key_id[FSS_ID_HEX + 1];
	uint64_t start; /* unix seconds of epoch 0 */
	uint32_t interval; /* seconds */
	uint64_t epoch; /* of the current key */
	uint64_t sealed_seq; /* the last seal line (0: none) */
};
void audit_sealing(const struct audit_log *a, struct audit_sealing *ret);
/* When the key's epoch is over: a seal line if lines came since the last
 * one, then the key evolves to the clock's epoch (never backwards). */
int audit_seal_due(struct audit_log *a);
/* At stop: seal the lines since the last seal now, then evolve. */
int audit_seal_now(struct audit_log *a);
/* Milliseconds until the key's epoch ends; -1 when not sealing. */
int64_t audit_seal_wait_ms(const struct audit_log *a);
/*
 * Start sealing with a new random key: the key file (0600), then an
 * "fss-setup" line with extra's members (the peer).  With sealing on
 * already, JIT_E_EXISTS unless replace (the old key seals what it has
 * first).  *ret_vkey is the verification key, for the admin only.
 */
int audit_setup_keys(struct audit_log *a, uint32_t interval_s, bool replace,
    struct json_object *extra, struct secret **ret_vkey);

struct audit_verdict {
	uint64_t lines; /* lines in the file */
	uint64_t records; /* whole records: the last sequence number */
	uint64_t bad_line; /* first bad line, 0 if none */
	char why[256];
	bool empty; /* the file is empty (JIT_E_AUTH) */
	/* Notes on an intact log. */
	uint64_t torn_final; /* the agent stopped while writing this line */
	uint64_t torn_acked; /* torn lines the next start recorded */
	uint64_t torn_first; /* the first of them */
	bool sealed; /* the log has an fss-setup line */
	uint64_t seals; /* seal lines */
	/* With verification keys only. */
	uint64_t seals_checked;
	uint64_t setup_line; /* the fss-setup of the key in force */
	uint64_t earlier_key_line; /* a setup of a key not given, before */
	uint64_t unsealed_from, unsealed_to; /* not sealed yet (0: none) */
	/* Records sealed late, between lines late_first and late_last. */
	uint64_t late_lines, late_first, late_last;
};

/* Verify the whole file; with head_seq > 0 also that the record of that
 * sequence number has that hash (records appended since are fine).
 * JIT_OK when intact; JIT_E_AUTH with v filled when not (or when the file
 * is empty); JIT_E_NOENT when there is no file. */
int audit_verify(const char *path, uint64_t head_seq, const char *head_hash,
    struct audit_verdict *v);
/* The same, and every seal checked with the verification keys given (at
 * least one): a seal that does not match, a missing setup, or a setup of
 * another key fail. */
int audit_verify_sealed(const char *path, uint64_t head_seq,
    const char *head_hash, struct fss_key *const *keys, size_t nkeys,
    struct audit_verdict *v);
/* Call fn for each line (already verified or not), for `jitctl audit`. */
int audit_read(const char *path,
    int (*fn)(const char *line, size_t len, void *arg), void *arg);

#endif
