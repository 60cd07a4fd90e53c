/* Scripted user presence: approve, deny, time out, delay, or ask a person. */

#include "err.h"
#include "sim.h"

/* The mode for this touch, and a log line if the control file is bad. */
static void
touch_current(struct sim_dev *d, struct sim_touch *t)
{
	if (sim_touch_current(&d->touch, t) != 0)
		sim_debug(d, "touch: the control file holds no valid mode");
}

/* Keep the host informed (KEEPALIVE every 100 ms) while waiting up to ms;
 * end early on CANCEL or when watch_fd is readable. */
static enum sim_wait_result
wait_touch(struct sim_dev *d, uint64_t ms, int watch_fd)
{
	uint64_t deadline = sim_now_ms() + ms, now, slice;
	enum sim_wait_result r;

	for (;;) {
		if ((now = sim_now_ms()) >= deadline)
			return SIM_WAIT_ELAPSED;
		ctaphid_keepalive(d, CTAPHID_STATUS_UPNEEDED);
		slice = deadline - now;
		if (slice > CTAPHID_KEEPALIVE_MS)
			slice = CTAPHID_KEEPALIVE_MS;
		if ((r = ctaphid_wait(d, (int)slice, watch_fd)) !=
		    SIM_WAIT_ELAPSED)
			return r;
	}
}

static enum sim_wait_result
ask_wait(void *ctx, uint64_t ms, int fd)
{
	return wait_touch(ctx, ms, fd);
}

static uint8_t
ask(struct sim_dev *d)
{
	switch (sim_touch_ask(ask_wait, d)) {
	case SIM_ASK_TOUCHED: return CTAP2_OK;
	case SIM_ASK_DENIED: return CTAP2_ERR_OPERATION_DENIED;
	case SIM_ASK_CANCELLED: return CTAP2_ERR_KEEPALIVE_CANCEL;
	case SIM_ASK_TIMEOUT: break;
	}
	return CTAP2_ERR_USER_ACTION_TIMEOUT;
}

uint8_t
sim_user_presence(struct sim_dev *d)
{
	struct sim_touch t;
	enum sim_wait_result r;

	touch_current(d, &t);
	switch (t.mode) {
	case SIM_TOUCH_APPROVE:
		sim_debug(d, "touch: approved");
		return CTAP2_OK;
	case SIM_TOUCH_DENY:
		sim_debug(d, "touch: denied");
		return CTAP2_ERR_OPERATION_DENIED;
	case SIM_TOUCH_TIMEOUT:
		sim_debug(
		    d, "touch: waiting %d ms to time out", d->touch_timeout_ms);
		r = wait_touch(d, (uint64_t)d->touch_timeout_ms, -1);
		return r == SIM_WAIT_CANCEL ? CTAP2_ERR_KEEPALIVE_CANCEL :
					      CTAP2_ERR_USER_ACTION_TIMEOUT;
	case SIM_TOUCH_DELAY:
		sim_debug(d, "touch: in %d ms", t.delay_ms);
		r = wait_touch(d, (uint64_t)t.delay_ms, -1);
		return r == SIM_WAIT_CANCEL ? CTAP2_ERR_KEEPALIVE_CANCEL :
					      CTAP2_OK;
	case SIM_TOUCH_ASK: return ask(d);
	}
	return CTAP2_ERR_OPERATION_DENIED;
}
