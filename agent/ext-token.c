/* Verbs on tokens: enroll (off the loop) and unenroll. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "ext.h"
#include "hwq.h"
#include "jsonx.h"
#include "log.h"
#include "secret.h"
#include "store.h"
#include "vault.h"

struct enroll_job {
	struct hwjob hj; /* first: hwq frees the job */
	char *type, *label, *device;
	struct secret *pin;
	bool uv, allow_simulated;
	int touch_timeout_ms;
	struct hw_token *tok;
	struct peer peer;
};

static void
enroll_run(struct hwjob *hj)
{
	struct enroll_job *j = (struct enroll_job *)hj;
	struct hw_enroll_args a;

	memset(&a, 0, sizeof(a));
	a.type = j->type;
	a.label = j->label;
	a.device = j->device;
	a.pin = j->pin;
	a.uv = j->uv;
	a.allow_simulated = j->allow_simulated;
	a.touch_timeout_ms = j->touch_timeout_ms;
	hj->st.retries = -1;
	hj->result = hw_enroll(&a, &j->tok, &hj->st);
}

static void
enroll_done(struct hwjob *hj)
{
	struct enroll_job *j = (struct enroll_job *)hj;
	struct agent *ag = hj->ag;
	struct json_object *res, *ev;
	int r = hj->result;

	if (r == 0 && (r = store_add_token(ag->store, j->tok)) == 0)
		j->tok = NULL; /* the store has it */
	ev = event_new(r == 0 ? "enroll" : "deny");
	event_str(ev, "token", j->label);
	event_str(ev, "type", j->type);
	event_str(ev, "device", j->device);
	if (r != 0)
		event_str(ev, "why", jit_errname(r));
	if (r == 0 && j->allow_simulated)
		(void)jsonx_add_bool(ev, "simulated",
		    store_token_by_label(ag->store, j->label)->simulated);
	event_peer(ev, &j->peer);
	event_emit(ag, ev);
	if (hj->conn == NULL)
		goto out;
	conn_set_job(hj->conn, NULL);
	if (r != 0) {
		if (r == JIT_E_EXISTS)
			reply_ext_err(hj->conn, r, -1,
			    "a token labelled %s is "
			    "already enrolled",
			    j->label);
		else
			ext_reply_hw_err(hj->conn, r, &hj->st);
	} else {
		res = json_object_new_object();
		json_object_object_add(res, "token",
		    ext_token_json(store_token_by_label(ag->store, j->label)));
		if (reply_ext_ok(hj->conn, res, NULL) != 0)
			reply_ext_err(hj->conn, JIT_E_INTERNAL, -1, NULL);
		json_object_put(res);
	}
	conn_done(hj->conn);
out:
	hw_token_free(j->tok);
	free(j->type);
	free(j->label);
	free(j->device);
	secret_free(j->pin);
}

int
ext_enroll(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct enroll_job *j;
	const char *type, *label, *device = NULL;
	bool uv = false, sim = false;
	int r;

	if ((r = ext_str_arg(args, "type", 16, &type)) != 0 ||
	    (r = ext_str_arg(args, "label", HW_LABEL_MAX, &label)) != 0)
		return r;
	if (((r = jsonx_opt_str(args, "device", HW_DEVICE_MAX, &device)) != 0 &&
		r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_bool(args, "uv", &uv)) != 0 && r != JIT_E_NOENT) ||
	    ((r = jsonx_opt_bool(args, "allow_simulated", &sim)) != 0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (hw_backend_find(type) == NULL) {
		reply_ext_err(rq->conn, JIT_E_UNSUPPORTED, -1,
		    "unknown token "
		    "type '%s' (this build has: %s)",
		    type, hw_backend_list());
		return JIT_OK;
	}
	if (store_token_by_label(ag->store, label) != NULL) {
		reply_ext_err(rq->conn, JIT_E_EXISTS, -1,
		    "a token labelled %s "
		    "is already enrolled",
		    label);
		return JIT_OK;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	j->uv = uv;
	j->allow_simulated = sim;
	j->touch_timeout_ms = ag->touch_timeout_ms;
	j->peer = *rq->peer;
	j->pin = *payload;
	*payload = NULL;
	if ((j->type = strdup(type)) == NULL ||
	    (j->label = strdup(label)) == NULL ||
	    (device != NULL && (j->device = strdup(device)) == NULL) ||
	    (j->hj.device = strdup(device != NULL ? device : type)) == NULL) {
		r = JIT_E_NOMEM;
		goto fail;
	}
	j->hj.conn = rq->conn;
	j->hj.run = enroll_run;
	j->hj.done = enroll_done;
	if ((r = hwq_submit(ag->hwq, &j->hj)) != 0)
		goto fail;
	conn_set_job(rq->conn, &j->hj);
	return AGENT_DEFERRED;
fail:
	free(j->hj.device);
	free(j->type);
	free(j->label);
	free(j->device);
	secret_free(j->pin);
	free(j);
	return r;
}

int
ext_unenroll(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *res, *ev;
	struct hw_token *t;
	struct cred *c;
	const char *label;
	size_t rewrapped = 0, orphans = 0, i;
	bool force = false;
	int r;

	(void)payload;
	if ((r = ext_str_arg(args, "label", HW_LABEL_MAX, &label)) != 0)
		return r;
	if ((r = jsonx_opt_bool(args, "force", &force)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	/* What --force deletes must not stay unlocked. */
	if (force && (t = store_token_by_label(ag->store, label)) != NULL) {
		for (i = 0; i < store_ncreds(ag->store); i++) {
			c = store_cred_at(ag->store, i);
			if (c->nwraps == 1 && cred_wrapped_to(c, t->id))
				vault_wipe(ag->vault, c);
		}
	}
	r = store_remove_token(ag->store, label, force, &rewrapped, &orphans);
	if (r == JIT_E_NOENT) {
		reply_ext_err(rq->conn, r, -1,
		    "no token labelled %s is "
		    "enrolled",
		    label);
		return JIT_OK;
	}
	if (r == JIT_E_DENIED) {
		reply_ext_err(rq->conn, r, -1,
		    "%zu credential(s) open only "
		    "with %s: enroll a backup token and add them again, or "
		    "pass --force to delete them",
		    orphans, label);
		return JIT_OK;
	}
	if (r != 0)
		return r;
	if ((ev = event_new("unenroll")) != NULL) {
		event_str(ev, "token", label);
		event_int(ev, "rewrapped", (int64_t)rewrapped);
		event_int(ev, "deleted", (int64_t)orphans);
		event_peer(ev, rq->peer);
	}
	event_emit(ag, ev);
	res = json_object_new_object();
	(void)jsonx_add_str(res, "label", label);
	(void)jsonx_add_int(res, "rewrapped", (int64_t)rewrapped);
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	return r;
}
