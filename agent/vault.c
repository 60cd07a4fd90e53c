/* Unlocked credentials in guarded memory, their windows, and their wiping. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "events.h"
#include "secret.h"
#include "vault.h"

/* A suspended machine does not advance libuv's timers: look again soon. */
#define VAULT_TICK_MAX_MS 1000

struct vault {
	struct agent *ag;
	uv_timer_t timer;
	struct vault_slot *head;
	size_t count;
	int64_t (*boot_ms)(void *arg); /* NULL: vault_now_ms() */
	int64_t (*wall_s)(void *arg); /* NULL: time() */
	void *clock_arg;
	int64_t due_ms; /* boot time the timer fires at, while active */
};

int64_t
vault_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vault_set_clocks(struct vault *v, int64_t (*boot_ms)(void *arg),
    int64_t (*wall_s)(void *arg), void *arg)
{
	v->boot_ms = boot_ms;
	v->wall_s = wall_s;
	v->clock_arg = arg;
}

static int64_t
now_boot(const struct vault *v)
{
	return v->boot_ms != NULL ? v->boot_ms(v->clock_arg) : vault_now_ms();
}

static int64_t
now_wall(const struct vault *v)
{
	return v->wall_s != NULL ? v->wall_s(v->clock_arg) :
				   (int64_t)time(NULL);
}

static void rearm(struct vault *v);

static void
expire(struct vault *v, struct cred *c, const char *why)
{
	struct json_object *ev;

	vault_wipe(v, c);
	if (c->not_after > now_wall(v))
		c->window_ended = now_wall(v); /* status: "window-ended" */
	if ((ev = event_new("expire")) != NULL) {
		event_str(ev, "name", c->name);
		event_str(ev, "why", why);
	}
	event_emit(v->ag, ev);
}

/* Why c is past its window now, or NULL. */
static const char *
past_window(const struct cred *c, int64_t now_ms, int64_t now_wall)
{
	if (now_wall >= c->not_after)
		return "not-after reached";
	if (c->slot != NULL && now_ms >= c->slot->until_ms)
		return "unlock window ended";
	return NULL;
}

static void
on_tick(uv_timer_t *t)
{
	struct vault *v = t->data;
	struct vault_slot *s, *next;
	int64_t now_ms = now_boot(v), wall = now_wall(v);
	const char *why;

	for (s = v->head; s != NULL; s = next) {
		next = s->next;
		if ((why = past_window(s->cred, now_ms, wall)) != NULL)
			expire(v, s->cred, why);
	}
	rearm(v);
}

/* Milliseconds until s's window or its credential's not-after ends. */
static int64_t
slot_due_in(const struct vault_slot *s, int64_t now_ms, int64_t wall)
{
	int64_t a = s->until_ms - now_ms,
		b = (s->cred->not_after - wall) * 1000;

	return a < b ? a : b;
}

static void
arm(struct vault *v, int64_t now_ms, int64_t in_ms)
{
	if (in_ms < 0)
		in_ms = 0;
	v->due_ms = now_ms + in_ms;
	uv_timer_start(&v->timer, on_tick, (uint64_t)in_ms, 0);
}

static void
rearm(struct vault *v)
{
	struct vault_slot *s;
	int64_t now_ms = now_boot(v), wall = now_wall(v);
	int64_t next = VAULT_TICK_MAX_MS, d;

	if (v->head == NULL) {
		uv_timer_stop(&v->timer);
		return;
	}
	for (s = v->head; s != NULL; s = s->next) {
		d = slot_due_in(s, now_ms, wall);
		if (d < next)
			next = d;
	}
	arm(v, now_ms, next);
}

int
vault_new(struct agent *ag, struct vault **ret)
{
	struct vault *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return JIT_E_NOMEM;
	v->ag = ag;
	uv_timer_init(ag->loop, &v->timer);
	v->timer.data = v;
	*ret = v;
	return JIT_OK;
}

static void
on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void
vault_free(struct vault *v)
{
	if (v == NULL)
		return;
	vault_wipe_all(v);
	uv_close((uv_handle_t *)&v->timer, on_timer_closed);
}

int
vault_unlock(struct vault *v, struct cred *c, struct secret *fields,
    int64_t window_s, const char *token_label)
{
	struct vault_slot *s = c->slot;
	int64_t now_ms, d;

	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			secret_free(fields);
			return JIT_E_NOMEM;
		}
		s->cred = c;
		c->slot = s;
		s->next = v->head;
		if (v->head != NULL)
			v->head->prev = s;
		v->head = s;
		v->count++;
	}
	secret_free(s->fields);
	s->fields = fields;
	c->window_ended = 0;
	s->until_ms = now_boot(v) + window_s * 1000;
	s->until_wall = now_wall(v) + window_s;
	if (s->until_wall > c->not_after)
		s->until_wall = c->not_after;
	snprintf(s->token_label, sizeof(s->token_label), "%s", token_label);
	s->last_use_ms = vault_now_ms();
	/* Sooner than the timer: move it (no scan, so that unlocking
	 * thousands costs no more than each alone). */
	now_ms = now_boot(v);
	d = slot_due_in(s, now_ms, now_wall(v));
	if (d > VAULT_TICK_MAX_MS)
		d = VAULT_TICK_MAX_MS;
	if (!uv_is_active((uv_handle_t *)&v->timer) || now_ms + d < v->due_ms)
		arm(v, now_ms, d);
	return JIT_OK;
}

int
vault_check(struct vault *v, struct cred *c)
{
	int64_t wall = now_wall(v);
	const char *why;

	if ((why = past_window(c, now_boot(v), wall)) != NULL) {
		if (c->slot != NULL) {
			expire(v, c, why);
			rearm(v);
		}
		/* Past not-after it stays expired; a closed window is just
		 * locked again. */
		return wall >= c->not_after ? JIT_E_EXPIRED : JIT_E_LOCKED;
	}
	return c->slot != NULL ? JIT_OK : JIT_E_LOCKED;
}

void
vault_note_use(struct cred *c, const struct peer *p)
{
	c->uses++;
	c->last_uid = (int)p->uid;
	c->last_pid = (int)p->pid;
	/* Kept apart from struct cred, which every name on disk has one of:
	 * most are never used. */
	if (c->last_exe == NULL || strcmp(c->last_exe, p->exe) != 0) {
		free(c->last_exe);
		c->last_exe = strdup(p->exe);
	}
	if (c->slot != NULL)
		c->slot->last_use_ms = vault_now_ms();
}

void
vault_wipe(struct vault *v, struct cred *c)
{
	struct vault_slot *s = c->slot;

	c->window_ended = 0; /* a lock, or expire() says when */
	if (s == NULL)
		return;
	secret_free(s->fields);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		v->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	v->count--;
	c->slot = NULL;
	free(s);
}

size_t
vault_wipe_all(struct vault *v)
{
	size_t n = 0;

	while (v->head != NULL) {
		vault_wipe(v, v->head->cred);
		n++;
	}
	uv_timer_stop(&v->timer);
	return n;
}

size_t
vault_count(const struct vault *v)
{
	return v->count;
}

int64_t
vault_last_use_ms(const struct vault *v)
{
	const struct vault_slot *s;
	int64_t last = 0;

	for (s = v->head; s != NULL; s = s->next)
		if (s->last_use_ms > last)
			last = s->last_use_ms;
	return last;
}

struct vault_slot *
vault_first(const struct vault *v)
{
	return v->head;
}
