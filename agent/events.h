/* Audit events: one JSON line each in the chained log, and a log line. */
#ifndef JIT_EVENTS_H
#define JIT_EVENTS_H

#include <stddef.h>

#include <json-c/json.h>

struct agent;
struct conn;
struct peer;

/* A new event {"event": name}; NULL on allocation failure. */
struct json_object *event_new(const char *name);
/* Add the peer: uid, pid and the executable, resolved now. */
void event_peer(struct json_object *ev, const struct peer *p);
void event_str(struct json_object *ev, const char *key, const char *val);
void event_int(struct json_object *ev, const char *key, int64_t val);
/*
 * Append ev to the audit log, log it, and release ev.  JIT_OK, or the
 * error when the line is not in the log (ev NULL: it could not be made).
 * The audit fails closed: whatever serves or opens something emits its
 * event first and refuses on an error (reply_audit_refused words the reply);
 * only what takes something away (lock, expire, deny) goes on regardless.
 */
int event_emit(struct agent *ag, struct json_object *ev);
/*
 * event_emit for an event naming many credentials (unlock, lock, deny):
 * when its array key holds more than EVENT_NAMES_PER_LINE names it goes
 * out as several lines, each with a slice of the names and "part" and
 * "parts", so that no line is over the audit's limit.  The first error
 * stops it: the lines written before say more than happened (an unlock
 * refused after them is wiped unserved), never less.
 */
#define EVENT_NAMES_PER_LINE 128
int event_emit_names(struct agent *ag, struct json_object *ev, const char *key);
/* "the audit log cannot be written (no space left on the device): nothing
 * is served unaudited", for the error event_emit returned. */
void event_refusal(const struct agent *ag, int r, char *out, size_t outlen);

/* The sealing timer: a seal at the end of each epoch (lib/audit.c). */
void events_seal_start(struct agent *ag);
/* The key changed (setup-keys): wait for its epoch's end instead. */
void events_seal_rearm(struct agent *ag);
/* At exit: seal what is not sealed yet and close the timer. */
void events_seal_stop(struct agent *ag);

#endif
