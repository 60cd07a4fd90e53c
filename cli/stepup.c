/* Requests that need a token: which tokens can answer, and what to ask first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fields.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"
#include "secret.h"

/* Attempts with a PIN typed at the terminal before giving up. */
#define STEPUP_TRIES 3
#define LABELS_TEXT_MAX 256

enum {
	NEEDS_TOUCH = 1 << 0,
	NEEDS_PIN = 1 << 1,
};

struct plan {
	char touch[LABELS_TEXT_MAX]; /* labels to touch, "A or B" */
	char pin[LABELS_TEXT_MAX]; /* labels whose PIN would do */
	bool touch_only; /* some token needs no PIN */
	int first_needs; /* what the agent's first try needs */
	bool pin_all_tpm2;
	bool pin_all_fido2;
};

/* Does it ask for a touch: the agent says (a PIV slot's policy may be
 * never); without its word, every token but a TPM (which has no button). */
static bool
wants_touch(struct json_object *t, const char *type)
{
	struct json_object *v;

	if (json_object_object_get_ex(t, JP_TOKEN_TOUCH, &v) &&
	    json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return strcmp(type, "tpm2") != 0;
}

static int
token_needs(struct json_object *t, bool need_pin)
{
	const char *type = cli_jstr(t, JP_TOKEN_TYPE);
	int pin;

	if (type == NULL)
		return 0;
	if (strcmp(type, "fido2") == 0)
		pin = need_pin || cli_jbool(t, JP_TOKEN_UV) ? NEEDS_PIN : 0;
	else if (strcmp(type, "tpm2") == 0 || strcmp(type, "piv") == 0)
		pin = NEEDS_PIN;
	else
		return 0; /* unknown: the agent will say */
	return pin | (wants_touch(t, type) ? NEEDS_TOUCH : 0);
}

static bool
relevant(struct json_object *t, struct json_object *labels, const char *only)
{
	const char *label = cli_jstr(t, JP_TOKEN_LABEL), *s;
	size_t i, n;

	if (label == NULL)
		return false;
	if (only != NULL)
		return strcmp(label, only) == 0;
	if (labels == NULL || (n = json_object_array_length(labels)) == 0)
		return true;
	for (i = 0; i < n; i++) {
		s = json_object_get_string(
		    json_object_array_get_idx(labels, i));
		if (s != NULL && strcmp(s, label) == 0)
			return true;
	}
	return false;
}

static void
add_label(char *buf, const char *label)
{
	size_t used = strlen(buf);
	char safe[128];

	cli_sanitize(label, safe, sizeof(safe));
	snprintf(buf + used, LABELS_TEXT_MAX - used, "%s%s",
	    used > 0 ? " or " : "", safe);
}

static void
make_plan(struct json_object *tokens, struct json_object *labels,
    const struct stepup_opts *o, struct plan *p)
{
	struct json_object *t;
	const char *type;
	size_t i, n;
	int needs;

	memset(p, 0, sizeof(*p));
	p->pin_all_tpm2 = p->pin_all_fido2 = true;
	n = tokens == NULL ? 0 : json_object_array_length(tokens);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tokens, i);
		if (!relevant(t, labels, o->token))
			continue;
		needs = token_needs(t, o->need_pin);
		type = cli_jstr(t, JP_TOKEN_TYPE);
		/* The agent tries tokens in this order. */
		if (p->first_needs == 0)
			p->first_needs = needs;
		if (needs & NEEDS_TOUCH)
			add_label(p->touch, cli_jstr(t, JP_TOKEN_LABEL));
		if (needs & NEEDS_PIN) {
			add_label(p->pin, cli_jstr(t, JP_TOKEN_LABEL));
			if (strcmp(type, "tpm2") != 0)
				p->pin_all_tpm2 = false;
			if (strcmp(type, "fido2") != 0)
				p->pin_all_fido2 = false;
		} else if (needs & NEEDS_TOUCH)
			p->touch_only = true;
	}
}

/*
 * The token that will answer, as the agent chooses it.  Of those that can
 * (wrapped to, a PIN where step-up pin needs one), in the agent's order
 * ([agent] prefer, then enrollment): the first preferred one plugged in;
 * else, with no PIN from a descriptor, the first plugged in that wants
 * only a touch (the agent passes over PIN tokens when sent no PIN); else
 * the first plugged in; else the first (its absence will be the error).
 */
static const char *
choose_token(struct json_object *probed, struct json_object *labels,
    const struct stepup_opts *o)
{
	struct json_object *t;
	const char *label, *type, *first = NULL, *present = NULL;
	const char *touch = NULL;
	size_t i, n;

	n = probed == NULL ? 0 : json_object_array_length(probed);
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(probed, i);
		if (!relevant(t, labels, NULL) ||
		    (label = cli_jstr(t, JP_TOKEN_LABEL)) == NULL)
			continue;
		type = cli_jstr(t, JP_TOKEN_TYPE);
		if (o->need_pin && type != NULL && strcmp(type, "fido2") == 0 &&
		    !cli_jbool(t, JP_TOKEN_UV))
			continue;
		if (first == NULL)
			first = label;
		if (!cli_jbool(t, JP_PROBE_PRESENT))
			continue;
		if (cli_jbool(t, JP_PROBE_PREFERRED))
			return label;
		if (present == NULL)
			present = label;
		if (touch == NULL && token_needs(t, o->need_pin) == NEEDS_TOUCH)
			touch = label;
	}
	if (o->pin_fd < 0 && touch != NULL)
		return touch;
	return present != NULL ? present : first;
}

/* "TPM token laptop", "security key yk", "token a or b". */
static void
pin_prompt(const struct plan *p, char *out, size_t outlen)
{
	const char *what = "token ";

	if (p->pin_all_tpm2)
		what = "TPM token ";
	else if (p->pin_all_fido2)
		what = "security key ";
	if (p->pin[0] == '\0')
		snprintf(out, outlen, "PIN: ");
	else
		snprintf(out, outlen, "PIN for %s%s: ", what, p->pin);
}

static const char *
pin_read_error(int r, int pin_fd)
{
	switch (r) {
	case JIT_E_PIN_REQUIRED:
		return "no terminal to ask for the PIN on: pass it with --pin-fd N";
	case JIT_E_LIMIT: return "the PIN is too long";
	case JIT_E_CANCELLED: return "cancelled";
	default:
		if (pin_fd >= 0)
			return "cannot read the PIN from --pin-fd";
		return jit_strerror(r);
	}
}

/* The PIN, or NULL for none (an empty answer means "no PIN"). */
static int
ask_pin(const struct stepup_opts *o, const struct plan *p, struct secret **ret,
    struct client_reply *rep)
{
	struct secret *pin = NULL;
	char prompt[LABELS_TEXT_MAX + 64];
	int r;

	*ret = NULL;
	pin_prompt(p, prompt, sizeof(prompt));
	cli_close_line();
	if ((r = prompt_pin(o->pin_fd, prompt, &pin)) != 0) {
		client_reply_reset(rep);
		rep->message = strdup(pin_read_error(r, o->pin_fd));
		return r;
	}
	if (secret_len(pin) == 0)
		secret_free(pin);
	else
		*ret = pin;
	return JIT_OK;
}

/* The payload: the PIN as it is, or enroll's fields. */
static int
send_request(const char *verb, struct json_object *args,
    const struct secret *pin, const struct stepup_opts *o,
    struct client_reply *rep)
{
	struct fields_builder b;
	struct secret *f = NULL;
	int r;

	if (!o->pin_fields || (pin == NULL && o->new_pin == NULL))
		return cli_request(verb, args, pin, rep);
	if ((r = fields_begin(&b)) != 0)
		return r;
	if ((pin != NULL &&
		(r = fields_add(&b, JP_PAYLOAD_ENROLL_AUTH_PIN,
		     sizeof(JP_PAYLOAD_ENROLL_AUTH_PIN) - 1, secret_ptr(pin),
		     secret_len(pin))) != 0) ||
	    (o->new_pin != NULL &&
		(r = fields_add(&b, JP_PAYLOAD_ENROLL_PIN,
		     sizeof(JP_PAYLOAD_ENROLL_PIN) - 1, secret_ptr(o->new_pin),
		     secret_len(o->new_pin))) != 0) ||
	    (r = fields_finish(&b, &f)) != 0) {
		fields_abort(&b);
		return r;
	}
	r = cli_request(verb, args, f, rep);
	secret_free(f);
	return r;
}

int
stepup_request(const char *verb, struct json_object *args,
    struct json_object *tokens, struct json_object *labels,
    const struct stepup_opts *o, struct client_reply *rep)
{
	struct client_reply probe = { .retries = -1 };
	struct stepup_opts po = *o;
	struct secret *pin = NULL;
	struct plan p;
	bool want_pin, asked = false;
	int attempt, r;

	/* Ask the agent which tokens are plugged in, and ask the person for
	 * exactly the one that will answer; --token names it already. */
	if (o->token == NULL &&
	    cli_request(JP_VERB_PROBE, NULL, NULL, &probe) == 0 &&
	    (po.token = choose_token(
		 cli_jarray(probe.result, JP_RES_PROBE_TOKENS), labels, o)) !=
		NULL)
		make_plan(cli_jarray(probe.result, JP_RES_PROBE_TOKENS), labels,
		    &po, &p);
	else
		make_plan(tokens, labels, o, &p);
	/*
	 * With a touch-only token at hand, a touch is all it takes: sent no
	 * PIN, the agent passes over tokens that want one (and absent ones).
	 */
	want_pin = o->pin_fd >= 0 || (p.pin[0] != '\0' && !p.touch_only);
	for (attempt = 1;; attempt++) {
		if (want_pin && pin == NULL &&
		    (o->pin_fd < 0 || attempt == 1)) {
			if ((r = ask_pin(o, &p, &pin, rep)) != 0)
				goto out;
			asked = o->pin_fd < 0;
		}
		/* Only when the token that will answer needs it. */
		if (p.touch[0] != '\0' &&
		    ((p.first_needs & NEEDS_TOUCH) ||
			(!want_pin && p.touch_only)))
			cli_notice_open("Touch your security key (%s)%s%s...",
			    p.touch, o->purpose != NULL ? " " : "",
			    o->purpose != NULL ? o->purpose : "");
		r = send_request(verb, args, pin, o, rep);
		if (r == JIT_OK || attempt >= STEPUP_TRIES)
			break;
		if (r == JIT_E_PIN && asked && rep->retries != 0) {
			(void)cli_fail(r, rep);
			secret_free(pin);
			pin = NULL;
			continue;
		}
		/* The agent picked a token that wants a PIN after all. */
		if (r == JIT_E_PIN_REQUIRED && pin == NULL && o->pin_fd < 0) {
			(void)cli_fail(r, rep);
			want_pin = true;
			continue;
		}
		break;
	}
out:
	secret_free(pin);
	client_reply_reset(&probe);
	return r;
}

int
stepup_tokens(struct client_reply *rep)
{
	return cli_request(JP_VERB_TOKENS, NULL, NULL, rep);
}

int
stepup_verify_tokens(const struct stepup_opts *o)
{
	struct client_reply toks = { .retries = -1 }, rep = { .retries = -1 };
	struct json_object *args = NULL;
	struct stepup_opts vo = *o;
	int r, ex;

	vo.purpose = "to verify the enrolled tokens";
	vo.pin_fields = false;
	if ((r = stepup_tokens(&toks)) != 0) {
		ex = cli_fail(r, &toks);
		goto out;
	}
	if ((args = json_object_new_object()) == NULL ||
	    (o->token != NULL &&
		jsonx_add_str(args, JP_ARG_VERIFY_TOKEN, o->token) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	if ((r = stepup_request(JP_VERB_VERIFY, args,
		 cli_jarray(toks.result, JP_RES_TOKENS_TOKENS), NULL, &vo,
		 &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	cli_note("the %lld enrolled token(s) verify with %s",
	    (long long)cli_jint(rep.result, JP_RES_VERIFY_TOKENS, 0),
	    cli_jstr(rep.result, JP_RES_VERIFY_TOKEN));
	ex = JITCTL_EXIT_OK;
out:
	json_object_put(args);
	client_reply_reset(&toks);
	client_reply_reset(&rep);
	return ex;
}
