/* Audited events handed to every listener, as one record built once. */
#include <time.h>

#include "err.h"
#include "eventbus.h"

struct sink {
	eventbus_fn *fn;
	void *arg;
};

static struct sink sinks[EVENTBUS_SINKS_MAX];
static size_t nsinks;
static uint64_t seq;

int
eventbus_add(eventbus_fn *fn, void *arg)
{
	if (nsinks >= EVENTBUS_SINKS_MAX)
		return JIT_E_LIMIT;
	sinks[nsinks].fn = fn;
	sinks[nsinks].arg = arg;
	nsinks++;
	return JIT_OK;
}

void
eventbus_reset(void)
{
	nsinks = 0;
}

void
eventbus_publish(struct agent *ag, struct json_object *ev)
{
	struct json_object *t;
	struct event_rec rec;
	size_t i;

	if (nsinks == 0 || !json_object_object_get_ex(ev, "event", &t))
		return;
	rec.type = json_object_get_string(t);
	rec.time = (int64_t)time(NULL);
	/* The audit line has its own time; the listeners' copy gets one. */
	if (!json_object_object_get_ex(ev, "time", NULL))
		json_object_object_add(
		    ev, "time", json_object_new_int64(rec.time));
	rec.obj = ev;
	rec.json = json_object_to_json_string_ext(
	    ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	rec.seq = ++seq;
	for (i = 0; i < nsinks; i++)
		sinks[i].fn(ag, &rec, sinks[i].arg);
}
