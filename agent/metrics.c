/* metrics_file: an OpenMetrics-style text file for node_exporter's textfile collector, rewritten atomically on each change. */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "approval.h"
#include "conf.h"
#include "err.h"
#include "eventbus.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "vault.h"

#define LABEL_MAX 256
/* A burst of events is one rewrite (each is an fsync'd rename). */
#define METRICS_DELAY_MS 100

/* Counted since the agent started (Prometheus takes resets). */
static struct {
	uint64_t unlocks, uses, denials, approvals, refusals, requests,
	    expiries, locks, revokes;
} counts;
static uv_timer_t timer;
static bool timer_up, failing;

struct buf {
	char *p;
	size_t len, cap;
	bool full;
};

static void bprintf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = true;
		return;
	}
	b->len += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped. */
static void
label(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 3 < outlen; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else
			out[o++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	out[o] = '\0';
}

static void
who(const struct agent *ag, char *user, char *host)
{
	struct passwd pw, *res = NULL;
	char *pwbuf, u[LABEL_MAX] = "", h[LABEL_MAX];

	if ((pwbuf = malloc(16384)) != NULL &&
	    getpwuid_r(ag->uid, &pw, pwbuf, 16384, &res) == 0 && res != NULL)
		snprintf(u, sizeof(u), "%s", pw.pw_name);
	else
		snprintf(u, sizeof(u), "uid%u", (unsigned)ag->uid);
	free(pwbuf);
	if (gethostname(h, sizeof(h)) != 0)
		snprintf(h, sizeof(h), "localhost");
	h[sizeof(h) - 1] = '\0';
	label(u, user, LABEL_MAX);
	label(h, host, LABEL_MAX);
}

static void
counter(struct buf *b, const char *name, const char *help, const char *who,
    uint64_t v)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s{%s} %llu\n", name, help,
	    name, name, who, (unsigned long long)v);
}

int
metrics_render(struct agent *ag, char **ret, size_t *ret_len)
{
	struct vault_slot *s;
	struct cred *c;
	struct buf b;
	char user[LABEL_MAX], host[LABEL_MAX], w[2 * LABEL_MAX + 32],
	    name[LABEL_MAX], prof[LABEL_MAX], tok[LABEL_MAX];
	size_t i;

	memset(&b, 0, sizeof(b));
	b.cap = METRICS_FILE_MAX;
	if ((b.p = malloc(b.cap)) == NULL)
		return JIT_E_NOMEM;
	who(ag, user, host);
	snprintf(w, sizeof(w), "user=\"%s\",host=\"%s\"", user, host);
	bprintf(&b,
	    "# HELP jit_credential_unlocked_until_seconds When the unlock window of a credential open now ends (unix seconds): who holds production access now.\n"
	    "# TYPE jit_credential_unlocked_until_seconds gauge\n");
	for (s = ag->vault != NULL ? vault_first(ag->vault) : NULL; s != NULL;
	     s = s->next) {
		label(s->cred->name, name, sizeof(name));
		label(s->cred->profile != NULL ? s->cred->profile : "", prof,
		    sizeof(prof));
		label(s->token_label, tok, sizeof(tok));
		bprintf(&b,
		    "jit_credential_unlocked_until_seconds{%s,credential=\"%s\",profile=\"%s\",token=\"%s\"} %lld\n",
		    w, name, prof, tok, (long long)s->until_wall);
	}
	bprintf(&b,
	    "# HELP jit_credential_not_after_seconds When a stored credential ends (unix seconds).\n"
	    "# TYPE jit_credential_not_after_seconds gauge\n");
	/* Files not read yet: the background pass writes again when done. */
	for (i = 0; ag->store != NULL && i < store_nknown(ag->store); i++) {
		if ((c = store_cred_peek(ag->store, i)) == NULL)
			continue;
		label(c->name, name, sizeof(name));
		label(c->profile != NULL ? c->profile : "", prof, sizeof(prof));
		bprintf(&b,
		    "jit_credential_not_after_seconds{%s,credential=\"%s\",profile=\"%s\"} %lld\n",
		    w, name, prof, (long long)c->not_after);
	}
	bprintf(&b,
	    "# HELP jit_tokens_enrolled Hardware tokens enrolled.\n# TYPE jit_tokens_enrolled gauge\njit_tokens_enrolled{%s} %zu\n",
	    w, ag->store != NULL ? store_ntokens(ag->store) : 0);
	bprintf(&b,
	    "# HELP jit_requests_waiting Requests waiting for approvals.\n# TYPE jit_requests_waiting gauge\njit_requests_waiting{%s} %zu\n",
	    w, ag->data_dir != NULL ? approval_count(ag) : 0);
	counter(&b, "jit_unlocks_total", "Unlocks.", w, counts.unlocks);
	counter(&b, "jit_uses_total", "Credentials served.", w, counts.uses);
	counter(&b, "jit_denials_total", "Requests denied.", w, counts.denials);
	counter(&b, "jit_requests_total", "Credentials issued or refused.", w,
	    counts.requests);
	counter(&b, "jit_approvals_total", "Approvals counted.", w,
	    counts.approvals);
	counter(&b, "jit_approval_refusals_total", "Approvals refused.", w,
	    counts.refusals);
	counter(&b, "jit_expiries_total", "Unlock windows ended.", w,
	    counts.expiries);
	counter(&b, "jit_locks_total", "Locks.", w, counts.locks);
	counter(&b, "jit_revocations_total", "Revocations.", w, counts.revokes);
	bprintf(&b, "# EOF\n");
	if (b.full) {
		free(b.p);
		return JIT_E_LIMIT;
	}
	*ret = b.p;
	*ret_len = b.len;
	return JIT_OK;
}

static void
write_now(struct agent *ag)
{
	char *text = NULL;
	size_t len;
	int r;

	if (ag->conf == NULL || ag->conf->metrics_file == NULL)
		return;
	if ((r = metrics_render(ag, &text, &len)) == 0)
		r = fs_write_atomic(ag->conf->metrics_file, text, len, 0644);
	free(text);
	if (r != 0 && !failing)
		log_error(
		    "metrics: %s cannot be written (%s): the dashboard is stale until it can",
		    ag->conf->metrics_file, jit_strerror(r));
	else if (r == 0 && failing)
		log_info(
		    "metrics: %s is written again", ag->conf->metrics_file);
	failing = r != 0;
}

static void
on_timer(uv_timer_t *t)
{
	write_now(t->data);
}

void
metrics_event(struct agent *ag, const struct event_rec *e, void *arg)
{
	(void)arg;
	if (strcmp(e->type, "unlock") == 0)
		counts.unlocks++;
	else if (strcmp(e->type, "use") == 0)
		counts.uses++;
	else if (strcmp(e->type, "deny") == 0)
		counts.denials++;
	else if (strcmp(e->type, "request") == 0)
		counts.requests++;
	else if (strcmp(e->type, "approved") == 0)
		counts.approvals++;
	else if (strcmp(e->type, "approval-refused") == 0)
		counts.refusals++;
	else if (strcmp(e->type, "expire") == 0)
		counts.expiries++;
	else if (strcmp(e->type, "lock") == 0)
		counts.locks++;
	else if (strcmp(e->type, "revoke") == 0)
		counts.revokes++;
	if (ag->conf == NULL || ag->conf->metrics_file == NULL || !timer_up)
		return;
	/* After the event's handler has finished changing the state (an
	 * event is audited before its wipe, or just after its unlock), and
	 * once for a burst of events. */
	if (!uv_is_active((uv_handle_t *)&timer))
		uv_timer_start(&timer, on_timer, METRICS_DELAY_MS, 0);
}

void
metrics_start(struct agent *ag)
{
	if (!timer_up) {
		uv_timer_init(ag->loop, &timer);
		timer.data = ag;
		timer_up = true;
	}
	write_now(ag);
}

void
metrics_stop(struct agent *ag)
{
	if (!timer_up)
		return;
	/* Everything was wiped: the file says nobody holds access now. */
	write_now(ag);
	timer_up = false;
	uv_timer_stop(&timer);
	uv_close((uv_handle_t *)&timer, NULL);
}
