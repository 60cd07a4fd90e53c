/* The append-only, hash-chained audit log: one JSON line per event. */
#ifndef JIT_AUDIT_H
#define JIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define AUDIT_FILE_NAME "audit.log" /* in the data directory */
#define AUDIT_HASH_HEX 64
#define AUDIT_LINE_MAX (16 * 1024)
#define AUDIT_FILE_MAX ((size_t)1 << 30)

/*
 * Each line is a JSON object with "seq" (1, 2, ...), "time" (UTC, ms),
 * "prev" (hex SHA-256 of the previous line's bytes, zeros for the first)
 * and the event's members.  Editing, dropping or reordering a line breaks
 * the chain at that point; truncating the tail is caught by comparing with
 * the head the running agent holds.
 */
struct audit_log;

int audit_open(const char *path, struct audit_log **ret);
void audit_close(struct audit_log *a);
/* Adds seq, time and prev to ev (which it does not take) and appends. */
int audit_append(struct audit_log *a, struct json_object *ev);
void audit_head(const struct audit_log *a, uint64_t *ret_seq,
    char ret_hash[AUDIT_HASH_HEX + 1]);

struct audit_verdict {
	uint64_t lines; /* lines read */
	uint64_t bad_line; /* first bad line, 0 if none */
	char why[256];
};
/* Verify the whole file; with head_seq > 0 also that the line of that
 * sequence number has that hash (lines appended since are fine).
 * JIT_OK when intact, JIT_E_AUTH with v filled when not. */
int audit_verify(const char *path, uint64_t head_seq, const char *head_hash,
    struct audit_verdict *v);
/* Call fn for each line (already verified or not), for `jitctl audit`. */
int audit_read(const char *path,
    int (*fn)(const char *line, size_t len, void *arg), void *arg);

#endif
