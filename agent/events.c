/* Audit events: one JSON line each in the chained log, and a log line. */
#include <stdio.h>

#include "agent.h"
#include "audit.h"
#include "err.h"
#include "events.h"
#include "jsonx.h"
#include "log.h"

struct json_object *
event_new(const char *name)
{
	struct json_object *ev;

	if ((ev = json_object_new_object()) == NULL)
		return NULL;
	if (jsonx_add_str(ev, "event", name) != 0) {
		json_object_put(ev);
		return NULL;
	}
	return ev;
}

void
event_str(struct json_object *ev, const char *key, const char *val)
{
	if (ev != NULL && val != NULL)
		(void)jsonx_add_str(ev, key, val);
}

void
event_int(struct json_object *ev, const char *key, int64_t val)
{
	if (ev != NULL)
		(void)jsonx_add_int(ev, key, val);
}

void
event_peer(struct json_object *ev, const struct peer *p)
{
	if (ev == NULL || p == NULL)
		return;
	event_int(ev, "uid", (int64_t)p->uid);
	event_int(ev, "pid", (int64_t)p->pid);
	event_str(ev, "exe", p->exe);
}

void
event_emit(struct agent *ag, struct json_object *ev)
{
	int r;

	if (ev == NULL) {
		log_error("audit: out of memory: an event was lost");
		return;
	}
	/* json-c escapes every string, so a client's text cannot forge one. */
	log_info("audit: %s",
	    json_object_to_json_string_ext(
		ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if (ag->audit != NULL && (r = audit_append(ag->audit, ev)) != 0)
		log_error("audit log append failed: %s", jit_strerror(r));
	json_object_put(ev);
}
