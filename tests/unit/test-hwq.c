/* agent/hwq.c: hardware jobs on libuv's thread pool, one at a time per
 * device, detached when their client leaves.  The jobs are real work
 * items on a real loop; what they "do" is recorded under a mutex, and
 * overlap is proved with a rendezvous, never with timing. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "agent.h"
#include "assert.h"
#include "hwq.h"

/* A guard against a hang, not a measure of speed. */
#define DEADLINE_S 30

struct board {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char ran[512]; /* workers: "s0 e0 s1 e1 ..." */
	char done[2][256]; /* the loop, per device: "d0 d1 ..." */
	int inside[2]; /* jobs running now, per device */
	int overlap; /* a job started while another of its device ran */
	int arrived; /* at the rendezvous */
	int started; /* jobs whose run() began */
};

static struct board board = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

struct tjob {
	struct hwjob hj; /* first: hwq frees the job */
	int id;
	int dev; /* 0 or 1: board.inside's index */
	enum { J_SERIAL, J_MEET, J_HOLD } what;
	/* Filled by done(), on the loop, for the test to read. */
	struct outcome *out;
};

struct outcome {
	bool done;
	bool ran;
	bool met;
	bool conn_null;
	int cancel;
	int result;
	char aborted_by[64];
	size_t pending; /* hwq_pending() while done() ran */
};

static struct hwq *queue;
/* hwq.c never looks inside a connection: the pointer only says that a
 * client still waits (detached: NULL). */
static struct conn *const client = (struct conn *)&board;

static void
board_reset(void)
{
	pthread_mutex_lock(&board.mu);
	board.ran[0] = board.done[0][0] = board.done[1][0] = '\0';
	board.inside[0] = board.inside[1] = 0;
	board.overlap = board.arrived = board.started = 0;
	pthread_mutex_unlock(&board.mu);
}

static void
append(char *buf, size_t len, const char *what, int id)
{
	size_t used = strlen(buf);

	snprintf(
	    buf + used, len - used, "%s%s%d", used > 0 ? " " : "", what, id);
}

static void
deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += DEADLINE_S;
}

/* Both jobs of the rendezvous must be running at once to get past it. */
static bool
meet(void)
{
	struct timespec until;
	bool met;

	deadline(&until);
	pthread_mutex_lock(&board.mu);
	board.arrived++;
	pthread_cond_broadcast(&board.cv);
	while (board.arrived < 2 &&
	    pthread_cond_timedwait(&board.cv, &board.mu, &until) != ETIMEDOUT)
		;
	met = board.arrived >= 2;
	pthread_mutex_unlock(&board.mu);
	return met;
}

/* Like a backend waiting for a touch: until the client leaves. */
static int
hold(struct hwjob *hj)
{
	time_t until = time(NULL) + DEADLINE_S;

	while (!hj->cancel && time(NULL) < until)
		usleep(1000);
	return hj->cancel ? JIT_E_CANCELLED : JIT_E_TIMEOUT;
}

static void
job_run(struct hwjob *hj)
{
	struct tjob *j = (struct tjob *)hj;
	bool met = false;

	pthread_mutex_lock(&board.mu);
	if (board.inside[j->dev]++ != 0)
		board.overlap++;
	board.started++;
	append(board.ran, sizeof(board.ran), "s", j->id);
	pthread_cond_broadcast(&board.cv);
	pthread_mutex_unlock(&board.mu);
	hj->result = JIT_OK;
	switch (j->what) {
	case J_SERIAL:
		/* A chance for a second job of the device to start, if the
		 * queue let it: the board would see it. */
		usleep(2000);
		break;
	case J_MEET: met = meet(); break;
	case J_HOLD: hj->result = hold(hj); break;
	}
	pthread_mutex_lock(&board.mu);
	board.inside[j->dev]--;
	append(board.ran, sizeof(board.ran), "e", j->id);
	pthread_mutex_unlock(&board.mu);
	j->out->ran = true;
	j->out->met = met;
}

static void
job_done(struct hwjob *hj)
{
	struct tjob *j = (struct tjob *)hj;

	append(board.done[j->dev], sizeof(board.done[0]), "d", j->id);
	j->out->done = true;
	j->out->conn_null = hj->conn == NULL;
	j->out->cancel = hj->cancel;
	j->out->result = hj->result;
	snprintf(j->out->aborted_by, sizeof(j->out->aborted_by), "%s",
	    hj->aborted_by);
	j->out->pending = hwq_pending(queue);
}

static struct tjob *
job_new(int id, int dev, int what, struct outcome *out)
{
	struct tjob *j = calloc(1, sizeof(*j));

	if (j == NULL ||
	    (j->hj.device = strdup(dev ? "dev-b" : "dev-a")) == NULL) {
		free(j);
		return NULL;
	}
	memset(out, 0, sizeof(*out));
	j->id = id;
	j->dev = dev;
	j->what = what;
	j->out = out;
	j->hj.conn = client;
	j->hj.run = job_run;
	j->hj.done = job_done;
	return j;
}

struct env {
	uv_loop_t loop;
	struct agent ag;
};

static struct env env;

static void
env_up(void)
{
	memset(&env, 0, sizeof(env));
	board_reset();
	ASSERT(uv_loop_init(&env.loop) == 0);
	env.ag.loop = &env.loop;
	ASSERT_OK(hwq_new(&env.ag, &env.ag.hwq));
	queue = env.ag.hwq;
}

static void
env_down(void)
{
	uv_run(&env.loop, UV_RUN_DEFAULT);
	hwq_free(env.ag.hwq);
	queue = NULL;
	ASSERT(uv_loop_close(&env.loop) == 0);
}

static void
on_deadline(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Run the loop until every job is done, or the deadline. */
static bool
drain(void)
{
	uv_timer_t guard;
	bool late = false;

	uv_timer_init(&env.loop, &guard);
	guard.data = &late;
	uv_timer_start(&guard, on_deadline, DEADLINE_S * 1000, 0);
	while (hwq_pending(queue) > 0 && !late)
		uv_run(&env.loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&env.loop, UV_RUN_NOWAIT);
	return hwq_pending(queue) == 0;
}

/* The main thread waits for n jobs to have started in the pool. */
static bool
wait_started(int n)
{
	struct timespec until;
	bool ok;

	deadline(&until);
	pthread_mutex_lock(&board.mu);
	while (board.started < n &&
	    pthread_cond_timedwait(&board.cv, &board.mu, &until) != ETIMEDOUT)
		;
	ok = board.started >= n;
	pthread_mutex_unlock(&board.mu);
	return ok;
}

TEST(one_device_runs_its_jobs_one_at_a_time_in_order)
{
	struct outcome out[6];
	struct tjob *j;
	int i;

	env_up();
	ASSERT_PASSING();
	for (i = 0; i < 6; i++) {
		ASSERT((j = job_new(i, 0, J_SERIAL, &out[i])) != NULL);
		ASSERT_OK(hwq_submit(queue, &j->hj));
	}
	ASSERT_EQ_UINT(hwq_pending(queue), 6);
	ASSERT_MSG(drain(), "%zu jobs pending after %d s", hwq_pending(queue),
	    DEADLINE_S);
	ASSERT_EQ_INT(board.overlap, 0);
	ASSERT_EQ_STR(board.ran, "s0 e0 s1 e1 s2 e2 s3 e3 s4 e4 s5 e5");
	ASSERT_EQ_STR(board.done[0], "d0 d1 d2 d3 d4 d5");
	/* A job counts as pending until its done() has returned. */
	for (i = 0; i < 6; i++) {
		ASSERT(out[i].ran && out[i].done && !out[i].conn_null);
		ASSERT_EQ_INT(out[i].cancel, 0);
		ASSERT_ERR(out[i].result, JIT_OK);
		ASSERT_EQ_UINT(out[i].pending, (size_t)(6 - i));
	}
	env_down();
}

TEST(two_devices_run_at_once)
{
	struct outcome a, b;
	struct tjob *ja, *jb;

	env_up();
	ASSERT_PASSING();
	ASSERT((ja = job_new(0, 0, J_MEET, &a)) != NULL);
	ASSERT((jb = job_new(1, 1, J_MEET, &b)) != NULL);
	ASSERT_OK(hwq_submit(queue, &ja->hj));
	ASSERT_OK(hwq_submit(queue, &jb->hj));
	ASSERT_EQ_UINT(hwq_pending(queue), 2);
	ASSERT_MSG(drain(), "%zu jobs pending after %d s", hwq_pending(queue),
	    DEADLINE_S);
	/* Each got past the rendezvous only because the other was running
	 * at the same time. */
	ASSERT_MSG(a.met && b.met,
	    "the jobs of two devices did not run at once: %s", board.ran);
	ASSERT_EQ_INT(board.overlap, 0);
	env_down();
}

TEST(a_detached_job_is_done_without_its_client)
{
	struct outcome a, b, c, d;
	struct tjob *ja, *jb, *jc, *jd;

	env_up();
	ASSERT_PASSING();
	/* a waits for a touch; b and c wait behind it on the same device;
	 * d is another device's. */
	ASSERT((ja = job_new(0, 0, J_HOLD, &a)) != NULL);
	ASSERT((jb = job_new(1, 0, J_SERIAL, &b)) != NULL);
	ASSERT((jc = job_new(2, 0, J_SERIAL, &c)) != NULL);
	ASSERT((jd = job_new(3, 1, J_SERIAL, &d)) != NULL);
	ASSERT_OK(hwq_submit(queue, &ja->hj));
	ASSERT_OK(hwq_submit(queue, &jb->hj));
	ASSERT_OK(hwq_submit(queue, &jc->hj));
	ASSERT_MSG(wait_started(1), "the first job never started");
	ASSERT_OK(hwq_submit(queue, &jd->hj));
	ASSERT_EQ_UINT(hwq_pending(queue), 4);
	/* a's and b's client leaves: a stops waiting, b never runs, c (of
	 * a client still there) runs as usual. */
	hwq_detach(&ja->hj);
	hwq_detach(&jb->hj);
	ASSERT_MSG(drain(), "%zu jobs pending after %d s", hwq_pending(queue),
	    DEADLINE_S);
	ASSERT(a.done && a.ran && a.conn_null && a.cancel != 0);
	ASSERT_ERR(a.result, JIT_E_CANCELLED);
	ASSERT(b.done && !b.ran && b.conn_null && b.cancel != 0);
	ASSERT_ERR(b.result, JIT_E_CANCELLED);
	ASSERT(c.done && c.ran && !c.conn_null && c.cancel == 0);
	ASSERT_ERR(c.result, JIT_OK);
	ASSERT(d.done && d.ran && !d.conn_null);
	/* The device's order held through the detach. */
	ASSERT_EQ_STR(board.done[0], "d0 d1 d2");
	ASSERT_EQ_STR(board.done[1], "d3");
	ASSERT_EQ_INT(board.overlap, 0);
	env_down();
}

/* A lock aborts what waits for a person, running or queued, and nothing
 * else: a job that waits for no one (a revoke command) runs on. */
TEST(a_lock_aborts_the_jobs_that_wait_for_a_person)
{
	struct outcome a, b, c, d;
	struct tjob *ja, *jb, *jc, *jd;

	env_up();
	ASSERT_PASSING();
	ASSERT((ja = job_new(0, 0, J_HOLD, &a)) != NULL);
	ASSERT((jb = job_new(1, 0, J_SERIAL, &b)) != NULL);
	ASSERT((jc = job_new(2, 0, J_SERIAL, &c)) != NULL);
	ASSERT((jd = job_new(3, 1, J_SERIAL, &d)) != NULL);
	ja->hj.awaits_person = jb->hj.awaits_person = true;
	ASSERT_OK(hwq_submit(queue, &ja->hj));
	ASSERT_OK(hwq_submit(queue, &jb->hj));
	ASSERT_OK(hwq_submit(queue, &jc->hj));
	ASSERT_MSG(wait_started(1), "the first job never started");
	ASSERT_OK(hwq_submit(queue, &jd->hj));
	ASSERT_EQ_UINT(hwq_abort_waits(queue, "screen locked"), 2);
	/* Aborted once: a second lock counts nothing new. */
	ASSERT_EQ_UINT(hwq_abort_waits(queue, "SIGUSR1"), 0);
	ASSERT_MSG(drain(), "%zu jobs pending after %d s", hwq_pending(queue),
	    DEADLINE_S);
	ASSERT(a.done && a.ran && !a.conn_null && a.cancel != 0);
	ASSERT_ERR(a.result, JIT_E_CANCELLED);
	ASSERT_EQ_STR(a.aborted_by, "screen locked");
	ASSERT(b.done && !b.ran && b.cancel != 0);
	ASSERT_ERR(b.result, JIT_E_CANCELLED);
	ASSERT_EQ_STR(b.aborted_by, "screen locked");
	ASSERT(c.done && c.ran && c.cancel == 0);
	ASSERT_ERR(c.result, JIT_OK);
	ASSERT_EQ_STR(c.aborted_by, "");
	ASSERT(d.done && d.ran && d.cancel == 0);
	ASSERT_EQ_STR(board.done[0], "d0 d1 d2");
	env_down();
}

static const struct test_case tests[] = {
	TEST_ENTRY(one_device_runs_its_jobs_one_at_a_time_in_order),
	TEST_ENTRY(two_devices_run_at_once),
	TEST_ENTRY(a_detached_job_is_done_without_its_client),
	TEST_ENTRY(a_lock_aborts_the_jobs_that_wait_for_a_person),
};

TEST_MAIN(tests)
