/* The background pass that reads the credential files start-up only named. */
#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "agent.h"
#include "log.h"
#include "metrics.h"
#include "revoke.h"
#include "store.h"
#include "storeread.h"

/* Files read per loop turn: about 2.5 ms of work on a quiet machine, so a
 * request waits for at most one batch. */
#define STOREREAD_BATCH 256

static uv_idle_t idle;
static bool idle_up;
static uint64_t started_ms;

static void
on_idle(uv_idle_t *h)
{
	struct agent *ag = h->data;
	size_t n;

	if (store_read_some(ag->store, STOREREAD_BATCH) > 0)
		return;
	uv_idle_stop(h);
	n = store_ndamaged(ag->store);
	log_info(
	    "read every credential file in %llu ms after the start: %zu good, %zu damaged (jitctl status lists them)",
	    (unsigned long long)(uv_now(ag->loop) - started_ms),
	    store_nknown(ag->store), n);
	/* Expiries and the metrics file now see every credential. */
	revoke_rearm(ag);
	metrics_start(ag);
}

void
storeread_start(struct agent *ag)
{
	if (store_nunread(ag->store) == 0)
		return;
	if (!idle_up) {
		uv_idle_init(ag->loop, &idle);
		idle.data = ag;
		idle_up = true;
	}
	uv_update_time(ag->loop);
	started_ms = uv_now(ag->loop);
	uv_idle_start(&idle, on_idle);
}

void
storeread_stop(struct agent *ag)
{
	(void)ag;
	if (!idle_up)
		return;
	idle_up = false;
	uv_close((uv_handle_t *)&idle, NULL);
}
