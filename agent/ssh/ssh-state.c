/* The SSH side's state: the agent's and each connection's, its one timer,
 * and the replies both request files send. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "ssh-agent.h"
#include "vault.h"

struct ssh_agent *
ssh_agent_of(struct agent *ag)
{
	struct ssh_agent *sa;

	if (ag->ssh != NULL)
		return ag->ssh;
	if ((sa = calloc(1, sizeof(*sa))) == NULL)
		return NULL;
	sa->ag = ag;
	uv_timer_init(ag->loop, &sa->timer);
	sa->timer.data = sa;
	ag->ssh = sa;
	return sa;
}

struct ssh_conn *
ssh_conn_peek(struct conn *c)
{
	return *conn_proto_state(c);
}

struct ssh_conn *
ssh_conn_of(struct ssh_agent *sa, struct conn *c)
{
	void **p = conn_proto_state(c);
	struct ssh_conn *sc;

	if (*p != NULL)
		return *p;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return NULL;
	sc->conn = c;
	sc->sa = sa;
	*p = sc;
	return sc;
}

void
ssh_fail(struct conn *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("ssh request failed: %s", msg);
	conn_reply_type(c, SSH_AGENT_FAILURE);
}

void
ssh_conn_host_fp(const struct ssh_conn *sc, char out[SSH_FP_LEN])
{
	out[0] = '\0';
	if (sc != NULL && sc->binds.n > 0)
		ssh_key_fingerprint(sc->binds.v[sc->binds.n - 1].hostkey, out);
}

int
ssh_reply_sig(struct conn *c, const struct ssh_key *k, const uint8_t *data,
    size_t len, uint32_t flags)
{
	struct wire_writer w;
	uint8_t *sig = NULL;
	size_t siglen;
	int r;

	if ((r = ssh_key_sign(k, data, len, flags, &sig, &siglen)) != 0)
		return r;
	wire_writer_init(&w, AGENT_FRAME_MAX, false);
	if ((r = wire_put_u8(&w, SSH_AGENT_SIGN_RESPONSE)) != 0 ||
	    (r = wire_put_string(&w, sig, siglen)) != 0) {
		wire_writer_reset(&w);
		free(sig);
		return r;
	}
	free(sig);
	conn_send(c, &w);
	return JIT_OK;
}

/* One timer for key lifetimes and certificate ends, at most a second
 * apart while any is pending (libuv's timers stop during suspend). */
static void on_tick(uv_timer_t *t);

void
ssh_rearm(struct ssh_agent *sa)
{
	int64_t next = SSH_TICK_MAX_MS, now = vault_now_ms(), wall = 0, d;
	bool pending = false;

	if (sa->next_death_ms != 0) {
		pending = true;
		if ((d = sa->next_death_ms - now) < next)
			next = d;
	}
	if (sa->creds != NULL && sa->tick_creds != NULL) {
		sa->tick_creds(sa, &wall);
		if (wall != 0) {
			pending = true;
			if ((d = (wall - (int64_t)time(NULL)) * 1000) < next)
				next = d;
		}
	}
	if (!pending) {
		uv_timer_stop(&sa->timer);
		return;
	}
	uv_timer_start(&sa->timer, on_tick, next < 0 ? 0 : (uint64_t)next, 0);
}

/* Look again at the next turn of the loop (after a credential opened). */
void
ssh_rearm_soon(struct ssh_agent *sa)
{
	uv_timer_start(&sa->timer, on_tick, 0, 0);
}

static void
on_tick(uv_timer_t *t)
{
	struct ssh_agent *sa = t->data;

	if (sa->reap_keys != NULL)
		sa->reap_keys(sa, vault_now_ms());
	ssh_rearm(sa);
}
