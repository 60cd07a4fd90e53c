/* Hardware work off the event loop: one job at a time per device. */
#ifndef JIT_HWQ_H
#define JIT_HWQ_H

#include <stdbool.h>
#include <uv.h>

#include "hw.h"

struct agent;
struct conn;
struct hwq;

/*
 * A touch or a PIN check can take seconds, so every backend call runs in
 * libuv's thread pool.  Jobs on one device run one after another (a token
 * serves one transaction at a time); other clients are served meanwhile.
 * When the requesting client goes away, the job is detached: its cancel
 * flag is raised for backends that can abandon a wait, and its result is
 * wiped instead of delivered.
 */
struct hwjob {
	uv_work_t work;
	struct agent *ag;
	struct conn *conn; /* NULL once detached */
	char *device; /* the serialisation key */
	volatile int cancel;
	/* It waits for a person (a touch, a PIN): a lock aborts it. */
	bool awaits_person;
	/* Why a lock aborted it ("" if none): done() refuses then, even if
	 * the token answered meanwhile. */
	char aborted_by[64];
	/* Runs in a worker thread: must not touch agent state. */
	void (*run)(struct hwjob *job);
	/* Runs on the loop afterwards, also when detached (conn NULL). */
	void (*done)(struct hwjob *job);
	void *arg;
	int result;
	struct hw_status st;
	struct hwjob *next; /* waiting on the same device */
};

int hwq_new(struct agent *ag, struct hwq **ret);
void hwq_free(struct hwq *q);
/* Queue a job; takes ownership of job (freed after done()). */
int hwq_submit(struct hwq *q, struct hwjob *job);
/* The client left: no delivery, ask the backend to stop waiting. */
void hwq_detach(struct hwjob *job);
/*
 * A lock: every job that waits for a person, queued or running, is
 * cancelled, with why as its aborted_by.  Returns how many.
 */
size_t hwq_abort_waits(struct hwq *q, const char *why);
/* Jobs queued or running. */
size_t hwq_pending(const struct hwq *q);

#endif
