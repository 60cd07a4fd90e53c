/* idle_lock: everything is wiped when no credential was used for so long. */
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "duration.h"
#include "err.h"
#include "triggers-idle.h"
#include "triggers.h"
#include "vault.h"

/* A suspended machine does not advance libuv's timers: look again soon,
 * and judge by CLOCK_BOOTTIME, which counts the suspension. */
#define IDLE_TICK_MAX_MS 1000

struct idle_trigger {
	uv_timer_t timer; /* first: the close callback frees */
	struct agent *ag;
	int64_t idle_ms;
};

bool
idle_check(struct agent *ag, int64_t now_ms)
{
	struct idle_trigger *it = ag->idle;
	int64_t last;
	char why[64], d[32];

	if (it == NULL || ag->vault == NULL ||
	    (last = vault_last_use_ms(ag->vault)) == 0 ||
	    now_ms - last < it->idle_ms)
		return false;
	duration_format(it->idle_ms / 1000, d, sizeof(d));
	snprintf(why, sizeof(why), "idle for %s", d);
	(void)agent_lock(ag, why, "idle", NULL, NULL, NULL);
	return true;
}

static void
on_tick(uv_timer_t *t)
{
	struct idle_trigger *it = t->data;

	(void)idle_check(it->ag, vault_now_ms());
}

static void
on_closed(uv_handle_t *h)
{
	free(h->data);
}

void
idle_trigger_stop(struct agent *ag)
{
	struct idle_trigger *it = ag->idle;

	if (it == NULL)
		return;
	ag->idle = NULL;
	uv_timer_stop(&it->timer);
	uv_close((uv_handle_t *)&it->timer, on_closed);
}

int
idle_trigger_start(struct agent *ag)
{
	struct idle_trigger *it;
	int64_t s = ag->conf != NULL ? ag->conf->idle_lock_s : 0;
	uint64_t tick;
	char d[32];

	idle_trigger_stop(ag);
	if (s <= 0) {
		triggers_note(ag, "idle", false, "idle_lock is not set");
		return JIT_OK;
	}
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return JIT_E_NOMEM;
	it->ag = ag;
	it->idle_ms = s * 1000;
	uv_timer_init(ag->loop, &it->timer);
	it->timer.data = it;
	tick = it->idle_ms < IDLE_TICK_MAX_MS ? (uint64_t)it->idle_ms :
						IDLE_TICK_MAX_MS;
	uv_timer_start(&it->timer, on_tick, tick, tick);
	ag->idle = it;
	duration_format(s, d, sizeof(d));
	triggers_note(
	    ag, "idle", true, "after %s without a credential used", d);
	return JIT_OK;
}
