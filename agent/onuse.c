/* Unlock on use: the token to ask a PIN for, the question, and the unlock a use starts. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "askpass.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "onuse.h"
#include "secret.h"
#include "store.h"
#include "vault.h"

const char *
onuse_pin_token(struct agent *ag, const struct cred *c)
{
	size_t order[STORE_TOKENS_MAX], i;
	struct hw_token *t;

	ext_token_order(ag, order);
	for (i = 0; i < store_ntokens(ag->store); i++) {
		t = store_token_at(ag->store, order[i]);
		if (cred_wrapped_to(c, t->id) &&
		    (strcmp(t->type, "fido2") != 0 || t->uv))
			return t->label;
	}
	return NULL;
}

void
onuse_pin_prompt(const struct peer *p, const char *what, const char *token,
    char *out, size_t outlen)
{
	size_t n;

	askpass_prompt(p, what, out, outlen);
	n = strlen(out);
	snprintf(out + n, outlen - n,
	    " It is locked: enter the PIN of token %s to unlock it.", token);
}

int
onuse_keep(struct agent *ag, const struct peer *p, struct cred *c,
    const struct secret *fields, const char *token, char *why, size_t whylen)
{
	struct json_object *ev, *names;
	struct secret *keep = NULL;
	int r;

	if ((ev = event_new("unlock")) != NULL) {
		names = json_object_new_array();
		json_object_array_add(names, json_object_new_string(c->name));
		json_object_object_add(ev, "names", names);
		event_str(ev, "token", token);
		event_int(ev, "window", ag->window_default_s);
		event_str(ev, "trigger", "use");
		event_peer(ev, p);
	}
	if ((r = event_emit(ag, ev)) != 0) {
		event_refusal(ag, r, why, whylen);
		return r;
	}
	if (ag->unlocked != NULL)
		ag->unlocked(ag, c, fields);
	/* As unlock: step-up always/pin opens the window, keeps nothing. */
	if (c->stepup == STEPUP_SESSION &&
	    (r = secret_from(secret_ptr(fields), secret_len(fields), &keep)) !=
		0) {
		snprintf(why, whylen, "%s could not be unlocked: %s", c->name,
		    jit_strerror(r));
		return r;
	}
	if ((r = vault_unlock(
		 ag->vault, c, keep, ag->window_default_s, token)) != 0) {
		snprintf(why, whylen, "%s could not be unlocked: %s", c->name,
		    jit_strerror(r));
		return r;
	}
	return JIT_OK;
}
