/* For unit tests of agent/ modules: a struct agent on its own libuv loop
 * with a real audit log in the test's directory, the events it logged,
 * and running the loop until something happened. */
#ifndef JIT_TEST_AGENT_H
#define JIT_TEST_AGENT_H

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <uv.h>

#include "agent.h"
#include "assert.h"
#include "audit.h"
#include "jsonx.h"
#include "tmpdir.h"

/* How long run_until waits: a guard against a hang, never a measure of
 * speed (nothing here should take more than a few seconds). */
#define TEST_DEADLINE_MS (30 * 1000)

struct test_agent {
	uv_loop_t loop;
	struct agent ag;
	char audit_path[128];
};

/* The agent's loop and audit log (in tmpdir); the rest is the test's. */
static inline void
test_agent_up(struct test_agent *t)
{
	memset(t, 0, sizeof(*t));
	ASSERT(uv_loop_init(&t->loop) == 0);
	t->ag.loop = &t->loop;
	t->ag.uid = geteuid();
	snprintf(t->audit_path, sizeof(t->audit_path), "%s/audit.log", tmpdir);
	ASSERT_OK(audit_open(t->audit_path, &t->ag.audit));
}

/* After the test freed what it added: every handle must be closed. */
static inline void
test_agent_down(struct test_agent *t)
{
	uv_run(&t->loop, UV_RUN_DEFAULT);
	ASSERT_MSG(uv_loop_close(&t->loop) == 0, "libuv handles left open");
	audit_close(t->ag.audit);
	t->ag.audit = NULL;
}

static inline void
on_deadline(uv_timer_t *h)
{
	*(bool *)h->data = true;
}

/* Run the loop until done(arg); false if the deadline came first. */
static inline bool
run_until(uv_loop_t *loop, bool (*done)(void *arg), void *arg)
{
	uv_timer_t guard;
	bool late = false;

	uv_timer_init(loop, &guard);
	guard.data = &late;
	uv_timer_start(&guard, on_deadline, TEST_DEADLINE_MS, 0);
	while (!done(arg) && !late)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return !late;
}

static inline int
collect_line(const char *line, size_t len, void *arg)
{
	struct json_object *o = NULL;
	int r;

	if ((r = jsonx_parse(line, len, &o)) != 0)
		return r;
	json_object_array_add(arg, o);
	return JIT_OK;
}

/* Every line of the audit log, in order, as a JSON array; NULL if the
 * file cannot be read or a line is not a JSON object. */
static inline struct json_object *
audit_events(const char *path)
{
	struct json_object *arr = json_object_new_array();

	if (arr != NULL && audit_read(path, collect_line, arr) != 0) {
		json_object_put(arr);
		return NULL;
	}
	return arr;
}

/* The nth (from 0) event of that name, or NULL. */
static inline struct json_object *
audit_event(struct json_object *evs, const char *name, size_t nth)
{
	struct json_object *e, *v;
	size_t i;

	for (i = 0; i < json_object_array_length(evs); i++) {
		e = json_object_array_get_idx(evs, i);
		if (json_object_object_get_ex(e, "event", &v) &&
		    strcmp(json_object_get_string(v), name) == 0 && nth-- == 0)
			return e;
	}
	return NULL;
}

static inline size_t
audit_count(struct json_object *evs, const char *name)
{
	size_t n = 0;

	while (audit_event(evs, name, n) != NULL)
		n++;
	return n;
}

/* A string member of an event, or "" if it has none. */
static inline const char *
ev_str(struct json_object *ev, const char *key)
{
	struct json_object *v;

	if (ev == NULL || !json_object_object_get_ex(ev, key, &v))
		return "";
	return json_object_get_string(v);
}

#endif
