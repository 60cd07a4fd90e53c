/* The events verb: audited events streamed live to subscribers (jitctl events). */
#include <stdlib.h>

#include "err.h"
#include "eventbus.h"
#include "ext.h"
#include "jsonx.h"
#include "log.h"
#include "proto-names.h"

#define SUBSCRIBERS_MAX 16
/* Unread bytes a subscriber may have queued before it is dropped: a slow
 * reader never holds the loop or the agent's memory. */
#define SUBSCRIBER_QUEUE_MAX (64 * 1024)

struct subscriber {
	struct subscriber *next;
	struct conn *conn;
};

static struct subscriber *subs;
static size_t nsubs;
static bool listening;

/* The connection went away (or was dropped): forget it. */
static void
unsubscribe(void *arg)
{
	struct subscriber **pp, *s;

	for (pp = &subs; (s = *pp) != NULL; pp = &s->next) {
		if (s == arg) {
			*pp = s->next;
			nsubs--;
			free(s);
			return;
		}
	}
}

static void
on_event(struct agent *ag, const struct event_rec *e, void *arg)
{
	struct subscriber *s, *next;

	(void)ag;
	(void)arg;
	for (s = subs; s != NULL; s = next) {
		next = s->next;
		if (conn_out_pending(s->conn) > SUBSCRIBER_QUEUE_MAX) {
			log_warn(
			    "events: pid %d does not read its events: it is dropped",
			    (int)conn_peer(s->conn)->pid);
			/* Its cancel (unsubscribe) frees s. */
			conn_drop(s->conn, "events not read");
			continue;
		}
		if (reply_ext_ok(s->conn, e->obj, NULL) != 0)
			conn_drop(s->conn, "an event could not be sent");
	}
}

int
ext_events(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct subscriber *s;
	struct json_object *res;

	(void)ag;
	(void)args;
	(void)payload;
	if (nsubs >= SUBSCRIBERS_MAX) {
		reply_ext_err(rq->conn, JIT_E_BUSY, -1,
		    "%d clients already follow the events: stop one first",
		    SUBSCRIBERS_MAX);
		return JIT_OK;
	}
	if (!listening && eventbus_add(on_event, NULL) != 0)
		return JIT_E_LIMIT;
	listening = true;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return JIT_E_NOMEM;
	if ((res = json_object_new_object()) == NULL ||
	    jsonx_add_bool(res, JP_RES_EVENTS_SUBSCRIBED, true) != 0 ||
	    reply_ext_ok(rq->conn, res, NULL) != 0) {
		json_object_put(res);
		free(s);
		return JIT_E_NOMEM;
	}
	json_object_put(res);
	s->conn = rq->conn;
	s->next = subs;
	subs = s;
	nsubs++;
	/* The request never ends: the connection reads nothing more, and
	 * when it goes away the subscription goes with it. */
	conn_set_cancel(rq->conn, unsubscribe, s);
	return AGENT_DEFERRED;
}
