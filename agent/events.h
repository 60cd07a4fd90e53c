/* Audit events: one JSON line each in the chained log, and a log line. */
#ifndef JIT_EVENTS_H
#define JIT_EVENTS_H

#include <json-c/json.h>

struct agent;
struct peer;

/* A new event {"event": name}; NULL on allocation failure. */
struct json_object *event_new(const char *name);
/* Add the peer: uid, pid and the executable, resolved now. */
void event_peer(struct json_object *ev, const struct peer *p);
void event_str(struct json_object *ev, const char *key, const char *val);
void event_int(struct json_object *ev, const char *key, int64_t val);
/* Append to the audit log, log it, and release ev. */
void event_emit(struct agent *ag, struct json_object *ev);

#endif
