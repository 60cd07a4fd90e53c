/* [hooks]: commands that get each audited event as JSON on stdin. */
#ifndef JIT_HOOKS_H
#define JIT_HOOKS_H

struct agent;
struct event_rec;

#define HOOKS_PENDING_MAX 64 /* events queued for hooks; more are dropped */

/* The event bus's listener: queue the event for the configured hooks. */
void hooks_event(struct agent *ag, const struct event_rec *e, void *arg);

#endif
