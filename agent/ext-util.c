/* What the verbs share: arguments, token JSON, refusals worded one way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "jsonx.h"
#include "policy.h"
#include "proto-names.h"
#include "reply.h"
#include "store.h"

int
ext_str_arg(
    struct json_object *args, const char *key, size_t max, const char **ret)
{
	return jsonx_get_str(args, key, max, ret);
}

int
ext_duration_arg(
    struct json_object *args, const char *key, int64_t *ret, int64_t dflt)
{
	int r;

	r = jsonx_opt_int(args, key, 1, 366LL * 24 * 3600, ret);
	if (r == JIT_E_NOENT) {
		if (dflt <= 0)
			return JIT_E_FORMAT;
		*ret = dflt;
		return JIT_OK;
	}
	return r;
}

bool
ext_reason_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

void
ext_reply_hw_err(struct conn *c, int r, const struct hw_status *st)
{
	if (st != NULL && st->msg[0] != '\0')
		reply_ext_err(c, r, st->retries, "%s", st->msg);
	else
		reply_ext_err(c, r, st != NULL ? st->retries : -1, NULL);
}

static bool
order_has(const size_t *order, size_t n, size_t i)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (order[k] == i)
			return true;
	return false;
}

void
ext_token_order(struct agent *ag, size_t *order)
{
	size_t i, k, n = 0, nt = store_ntokens(ag->store);
	const struct hw_token *t;

	for (k = 0; ag->conf != NULL && k < ag->conf->nprefer; k++)
		for (i = 0; i < nt; i++) {
			t = store_token_at(ag->store, i);
			if (strcmp(t->label, ag->conf->prefer[k]) == 0 &&
			    !order_has(order, n, i))
				order[n++] = i;
		}
	for (i = 0; i < nt; i++)
		if (!order_has(order, n, i))
			order[n++] = i;
}

int
ext_pick_tokens(struct agent *ag, struct cred *const *creds, size_t n,
    bool any_one, const char *label, bool need_pin, struct hw_token ***ret,
    size_t *ret_n)
{
	size_t order[STORE_TOKENS_MAX], nt = store_ntokens(ag->store), i, k,
					nwrapped;
	struct hw_token *t;
	int r;

	*ret_n = 0;
	if ((*ret = calloc(nt > 0 ? nt : 1, sizeof(**ret))) == NULL)
		return JIT_E_NOMEM;
	ext_token_order(ag, order);
	for (i = 0; i < nt; i++) {
		t = store_token_at(ag->store, order[i]);
		if (label != NULL && label[0] != '\0' &&
		    strcmp(t->label, label) != 0)
			continue;
		for (k = nwrapped = 0; k < n; k++)
			if (cred_wrapped_to(creds[k], t->id))
				nwrapped++;
		if (any_one ? nwrapped == 0 : nwrapped < n)
			continue;
		if (need_pin && strcmp(t->type, "fido2") == 0 && !t->uv)
			continue;
		if ((r = hw_token_dup(t, &(*ret)[*ret_n])) != 0)
			return r;
		(*ret_n)++;
	}
	return JIT_OK;
}

void
ext_reply_expired(struct conn *conn, const struct cred *c)
{
	char when[64];
	time_t tt = (time_t)c->not_after;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)c->not_after);
	if (c->profile != NULL)
		reply_ext_err(conn, JIT_E_EXPIRED, -1,
		    "%s expired at %s: 'jitctl request %s' issues a new one in its place",
		    c->name, when, c->profile);
	else
		reply_ext_err(conn, JIT_E_EXPIRED, -1,
		    "%s expired at %s: store a new one with 'jitctl add %s --replace', or remove it with 'jitctl revoke %s'",
		    c->name, when, c->name, c->name);
}

struct json_object *
ext_token_json(const struct hw_token *t)
{
	struct json_object *o, *att;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	(void)jsonx_add_str(o, JP_TOKEN_ID, t->id);
	(void)jsonx_add_str(o, JP_TOKEN_LABEL, t->label);
	(void)jsonx_add_str(o, JP_TOKEN_TYPE, t->type);
	if (t->device != NULL)
		(void)jsonx_add_str(o, JP_TOKEN_DEVICE, t->device);
	(void)jsonx_add_bool(o, JP_TOKEN_SIMULATED, t->simulated);
	/* A TPM always asks for its PIN (enroll refuses one without). */
	(void)jsonx_add_bool(
	    o, JP_TOKEN_UV, t->uv || strcmp(t->type, "tpm2") == 0);
	(void)jsonx_add_bool(o, JP_TOKEN_TOUCH, hw_token_wants_touch(t));
	(void)jsonx_add_int(o, JP_TOKEN_CREATED, t->created);
	(void)jsonx_add_b64(
	    o, JP_TOKEN_RECIPIENT, t->recipient, sizeof(t->recipient));
	/* What the token attested at enrollment (lib/attest.h), if it did. */
	if (t->backend != NULL &&
	    json_object_object_get_ex(t->backend, "attestation", &att) &&
	    json_object_is_type(att, json_type_string))
		(void)jsonx_add_str(
		    o, JP_TOKEN_ATTESTATION, json_object_get_string(att));
	return o;
}

int
ext_check_wrappable(struct agent *ag, struct conn *conn)
{
	const char *why;

	switch (store_set_state(ag->store, &why)) {
	case SET_VERIFIED: return JIT_OK;
	case SET_EMPTY: reply_ext_err(conn, JIT_E_NOTOKEN, -1, NULL); break;
	case SET_UNVERIFIED:
		reply_ext_err(conn, JIT_E_UNVERIFIED, -1, NULL);
		break;
	case SET_FAILED:
		reply_ext_err(conn, JIT_E_AUTH, -1,
		    "nothing is wrapped to the enrolled tokens: %s; unenroll that token (a genuine token approves it) or restore tokens.json",
		    why);
		break;
	case SET_BROKEN:
		reply_ext_err(conn, JIT_E_AUTH, -1,
		    "nothing is wrapped to the enrolled tokens: %s", why);
		break;
	}
	return JIT_E_DENIED;
}

int
ext_check_exe(struct agent *ag, struct conn *conn, const struct peer *p,
    const struct cred *c)
{
	const struct conf_profile *prof;
	struct json_object *ev;
	char eexe[4 * PEER_EXE_MAX + 256], list[512];
	size_t i, used = 0;

	if (c->profile == NULL ||
	    (prof = conf_profile(ag->conf, c->profile)) == NULL ||
	    policy_exe_allowed((const char *const *)prof->allowed_exes,
		prof->nallowed_exes, p))
		return JIT_OK;
	list[0] = '\0';
	for (i = 0; i < prof->nallowed_exes && used < sizeof(list); i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used,
		    "%s%s", i > 0 ? ", " : "", prof->allowed_exes[i]);
	peer_describe(p, eexe, sizeof(eexe));
	reply_ext_err(conn, JIT_E_PEER, -1,
	    "%s may be used only by %s (allowed_executables of profile %s), not by %s",
	    c->name, list, c->profile, eexe);
	if ((ev = event_new("deny")) != NULL) {
		event_str(ev, "name", c->name);
		event_str(ev, "why", "executable not allowed");
		event_str(ev, "profile", c->profile);
		event_peer(ev, p);
	}
	event_emit(ag, ev);
	return JIT_E_PEER;
}
