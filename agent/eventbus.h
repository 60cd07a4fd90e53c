/* Audited events handed to those who listen: logs, hooks, metrics, jitctl events. */
#ifndef JIT_EVENTBUS_H
#define JIT_EVENTBUS_H

#include <stdint.h>

#include <json-c/json.h>

struct agent;

#define EVENTBUS_SINKS_MAX 8

/*
 * The one record every listener gets, made once per event from the audit
 * line itself (events.c publishes only what is in the audit log): its
 * type ("unlock", "request-created" ...), the object as audited, and the
 * object's JSON text.  Audit events hold no secret, by design (each
 * caller of event_new); listeners may rely on it and add none.
 */
struct event_rec {
	const char *type;
	struct json_object *obj;
	const char *json; /* one line, no newline */
	int64_t time; /* unix seconds */
	uint64_t seq; /* since the agent started */
};

typedef void eventbus_fn(
    struct agent *ag, const struct event_rec *e, void *arg);

/* Listen to every event from now on (main.c, at start-up). */
int eventbus_add(eventbus_fn *fn, void *arg);
/* Forget every listener (at exit, and for tests). */
void eventbus_reset(void);
/* An event is in the audit log: tell every listener, in order. */
void eventbus_publish(struct agent *ag, struct json_object *ev);

#endif
