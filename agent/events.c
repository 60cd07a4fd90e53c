/* Audit events: one JSON line each in the chained log, and a log line. */
#include <stdio.h>

#include "agent.h"
#include "audit.h"
#include "err.h"
#include "events.h"
#include "eventbus.h"
#include "jsonx.h"
#include "log.h"

/* After a failed seal: try again this much later, not in a loop. */
#define SEAL_RETRY_MS 1000
/* Past the epoch's end, so the clock is surely in the next one. */
#define SEAL_SLACK_MS 20

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
	if (!peer_exe_known(p)) {
		event_str(ev, "exe_unknown", p->exe_why);
		event_str(ev, "comm_unverified", p->comm);
	}
}

int
event_emit(struct agent *ag, struct json_object *ev)
{
	int r;

	if (ev == NULL) {
		log_error("audit: out of memory: an event was lost");
		return JIT_E_NOMEM;
	}
	/* json-c escapes every string, so a client's text cannot forge one. */
	log_info("audit: %s",
	    json_object_to_json_string_ext(
		ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if (ag->audit == NULL)
		r = JIT_E_INTERNAL;
	else if ((r = audit_append(ag->audit, ev)) != 0)
		log_error("audit: the event above is not in the audit log: %s",
		    r == JIT_E_IO ? audit_why(ag->audit) : jit_strerror(r));
	/* Only what the audit log holds goes out to logs, hooks, metrics. */
	if (r == 0)
		eventbus_publish(ag, ev);
	json_object_put(ev);
	return r;
}

int
event_emit_names(struct agent *ag, struct json_object *ev, const char *key)
{
	struct json_object *all, *part, *slice;
	size_t n, i, k, parts;
	int r = JIT_OK;

	if (ev == NULL || !json_object_object_get_ex(ev, key, &all) ||
	    !json_object_is_type(all, json_type_array) ||
	    (n = json_object_array_length(all)) <= EVENT_NAMES_PER_LINE)
		return event_emit(ag, ev);
	parts = (n + EVENT_NAMES_PER_LINE - 1) / EVENT_NAMES_PER_LINE;
	json_object_get(all);
	json_object_object_del(ev, key);
	for (k = 0; k < parts && r == JIT_OK; k++) {
		part = NULL;
		if (json_object_deep_copy(ev, &part, NULL) != 0 ||
		    (slice = json_object_new_array()) == NULL) {
			json_object_put(part);
			r = event_emit(ag, NULL); /* logs the loss */
			break;
		}
		for (i = k * EVENT_NAMES_PER_LINE;
		     i < n && i < (k + 1) * EVENT_NAMES_PER_LINE; i++)
			json_object_array_add(slice,
			    json_object_get(json_object_array_get_idx(all, i)));
		json_object_object_add(part, key, slice);
		event_int(part, "part", (int64_t)k + 1);
		event_int(part, "parts", (int64_t)parts);
		r = event_emit(ag, part);
	}
	json_object_put(all);
	json_object_put(ev);
	return r;
}

void
event_refusal(const struct agent *ag, int r, char *out, size_t outlen)
{
	if (r == JIT_E_NOMEM)
		snprintf(out, outlen,
		    "the audit event cannot be made (out of memory): nothing is served unaudited");
	else if (r == JIT_E_LIMIT)
		snprintf(out, outlen,
		    "the audit line would be over its size limit: nothing is served unaudited");
	else if (r == JIT_E_IO && ag->audit != NULL)
		snprintf(out, outlen,
		    "the audit log cannot be written (%s): nothing is served unaudited",
		    audit_why(ag->audit));
	else
		snprintf(out, outlen,
		    "the audit log cannot be written (%s): nothing is served unaudited",
		    jit_strerror(r));
}

static void
on_seal_timer(uv_timer_t *t)
{
	struct agent *ag = t->data;
	int r;

	if ((r = audit_seal_due(ag->audit)) != 0) {
		if (!ag->seal_failing)
			log_error(
			    "audit: the epoch's seal failed: %s; trying again",
			    r == JIT_E_IO ? audit_why(ag->audit) :
					    jit_strerror(r));
		ag->seal_failing = true;
		uv_timer_start(t, on_seal_timer, SEAL_RETRY_MS, 0);
		return;
	}
	if (ag->seal_failing)
		log_info("audit: sealing works again");
	ag->seal_failing = false;
	events_seal_rearm(ag);
}

void
events_seal_start(struct agent *ag)
{
	uv_timer_init(ag->loop, &ag->seal_timer);
	ag->seal_timer.data = ag;
	ag->seal_timer_up = true;
	events_seal_rearm(ag);
}

void
events_seal_rearm(struct agent *ag)
{
	int64_t ms;

	if (!ag->seal_timer_up || ag->audit == NULL)
		return;
	if ((ms = audit_seal_wait_ms(ag->audit)) < 0) {
		uv_timer_stop(&ag->seal_timer);
		return;
	}
	uv_timer_start(
	    &ag->seal_timer, on_seal_timer, (uint64_t)(ms + SEAL_SLACK_MS), 0);
}

void
events_seal_stop(struct agent *ag)
{
	int r;

	if (ag->audit != NULL && (r = audit_seal_now(ag->audit)) != 0)
		log_error(
		    "audit: the lines since the last seal could not be sealed: %s; the next agent seals them (late)",
		    r == JIT_E_IO ? audit_why(ag->audit) : jit_strerror(r));
	if (!ag->seal_timer_up)
		return;
	ag->seal_timer_up = false;
	uv_timer_stop(&ag->seal_timer);
	uv_close((uv_handle_t *)&ag->seal_timer, NULL);
}
