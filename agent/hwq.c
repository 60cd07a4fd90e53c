/* Hardware work off the event loop: one job at a time per device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "err.h"
#include "hwq.h"
#include "log.h"

struct device_lane {
	char *device;
	struct hwjob *running;
	struct hwjob *head, *tail; /* waiting */
	struct device_lane *next;
};

struct hwq {
	struct agent *ag;
	struct device_lane *lanes;
	size_t pending;
};

int
hwq_new(struct agent *ag, struct hwq **ret)
{
	struct hwq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return JIT_E_NOMEM;
	q->ag = ag;
	*ret = q;
	return JIT_OK;
}

void
hwq_free(struct hwq *q)
{
	struct device_lane *l, *n;

	if (q == NULL)
		return;
	for (l = q->lanes; l != NULL; l = n) {
		n = l->next;
		free(l->device);
		free(l);
	}
	free(q);
}

size_t
hwq_pending(const struct hwq *q)
{
	return q->pending;
}

static struct device_lane *
lane_of(struct hwq *q, const char *device)
{
	struct device_lane *l;

	for (l = q->lanes; l != NULL; l = l->next)
		if (strcmp(l->device, device) == 0)
			return l;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->device = strdup(device)) == NULL) {
		free(l);
		return NULL;
	}
	l->next = q->lanes;
	q->lanes = l;
	return l;
}

static void
on_work(uv_work_t *w)
{
	struct hwjob *job = w->data;

	if (job->cancel) {
		job->result = JIT_E_CANCELLED;
		return;
	}
	job->run(job);
}

static void lane_next(struct hwq *q, struct device_lane *l);

static void
on_done(uv_work_t *w, int status)
{
	struct hwjob *job = w->data;
	struct hwq *q = job->ag->hwq;
	struct device_lane *l = lane_of(q, job->device);

	if (status == UV_ECANCELED)
		job->result = JIT_E_CANCELLED;
	job->done(job);
	q->pending--;
	free(job->device);
	free(job);
	if (l != NULL) {
		l->running = NULL;
		lane_next(q, l);
	}
}

static void
lane_next(struct hwq *q, struct device_lane *l)
{
	struct hwjob *job;
	int r;

	while (l->running == NULL && (job = l->head) != NULL) {
		l->head = job->next;
		if (l->head == NULL)
			l->tail = NULL;
		job->next = NULL;
		job->work.data = job;
		l->running = job;
		if ((r = uv_queue_work(
			 q->ag->loop, &job->work, on_work, on_done)) != 0) {
			log_error(
			    "cannot queue hardware work: %s", uv_strerror(r));
			l->running = NULL;
			job->result = JIT_E_INTERNAL;
			job->done(job);
			q->pending--;
			free(job->device);
			free(job);
		}
	}
}

int
hwq_submit(struct hwq *q, struct hwjob *job)
{
	struct device_lane *l;

	job->ag = q->ag;
	if (job->device == NULL || (l = lane_of(q, job->device)) == NULL)
		return JIT_E_NOMEM;
	job->next = NULL;
	if (l->tail != NULL)
		l->tail->next = job;
	else
		l->head = job;
	l->tail = job;
	q->pending++;
	lane_next(q, l);
	return JIT_OK;
}

static bool
abort_one(struct hwjob *job, const char *why)
{
	if (job == NULL || !job->awaits_person || job->aborted_by[0] != '\0')
		return false;
	snprintf(job->aborted_by, sizeof(job->aborted_by), "%s", why);
	job->cancel = 1;
	return true;
}

size_t
hwq_abort_waits(struct hwq *q, const char *why)
{
	struct device_lane *l;
	struct hwjob *job;
	size_t n = 0;

	if (q == NULL)
		return 0;
	for (l = q->lanes; l != NULL; l = l->next) {
		n += abort_one(l->running, why);
		for (job = l->head; job != NULL; job = job->next)
			n += abort_one(job, why);
	}
	return n;
}

void
hwq_detach(struct hwjob *job)
{
	job->conn = NULL;
	job->cancel = 1;
}
