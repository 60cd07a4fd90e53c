/* Upstream revocation: what each needs, attempts off the loop, retries, expiry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "err.h"
#include "events.h"
#include "fields.h"
#include "hwq.h"
#include "jsonx.h"
#include "log.h"
#include "proc.h"
#include "proto-names.h"
#include "reply.h"
#include "revoke.h"
#include "store.h"
#include "vault.h"

enum rv_state {
	RV_PENDING = 0, /* waits for its (next) attempt */
	RV_RUNNING,
	RV_FAILED, /* will be tried again */
	RV_DONE,
	RV_GAVE_UP, /* REVOKE_ATTEMPTS_MAX failures */
};

static const char *const state_names[] = {
	[RV_PENDING] = "pending",
	[RV_RUNNING] = "running",
	[RV_FAILED] = "failed",
	[RV_DONE] = "done",
	[RV_GAVE_UP] = "gave-up",
};

struct revocation {
	struct revocation *next;
	char *name;
	char *profile;
	char *reason;
	int64_t created; /* 0: it was never stored */
	struct cred_pub *pub;
	size_t npub;
	char why[16]; /* revoke, expire, lock... */
	enum rv_state state;
	unsigned attempts;
	uint64_t next_ms; /* uv_now() of the next try */
	int64_t next_wall; /* the same, for people */
	int64_t done_wall;
	bool delete_after; /* expiry: then the file goes */
	char error[512];
};

struct revoker {
	struct agent *ag;
	uv_timer_t timer;
	struct revocation *head; /* newest first */
};

struct revoke_job {
	struct hwjob hj; /* first: hwq frees the job */
	struct revocation *r;
	struct conf_argv argv;
	struct proc_env env;
	int64_t timeout_ms;
	struct proc_result pr;
};

static void rearm(struct revoker *rv);

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
record_free(struct revocation *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->name);
	free(r->profile);
	free(r->reason);
	for (i = 0; i < r->npub; i++) {
		free(r->pub[i].name);
		free(r->pub[i].value);
	}
	free(r->pub);
	free(r);
}

static struct revocation *
record_find(struct revoker *rv, const char *name, int64_t created)
{
	struct revocation *r;

	for (r = rv->head; r != NULL; r = r->next)
		if (r->created == created && strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

static struct revocation *
record_new(struct revoker *rv, const char *name, const char *profile,
    const char *reason, int64_t created, const struct cred_pub *pub,
    size_t npub, const char *why)
{
	struct revocation *r;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->name = strdup(name)) == NULL ||
	    (r->profile = strdup(profile)) == NULL ||
	    (reason != NULL && (r->reason = strdup(reason)) == NULL) ||
	    (npub > 0 && (r->pub = calloc(npub, sizeof(*r->pub))) == NULL))
		goto fail;
	for (i = 0; i < npub; i++) {
		if ((r->pub[i].name = strdup(pub[i].name)) == NULL ||
		    (r->pub[i].value = strdup(pub[i].value)) == NULL) {
			free(r->pub[i].name);
			goto fail;
		}
		r->npub++;
	}
	r->created = created;
	snprintf(r->why, sizeof(r->why), "%s", why);
	r->next = rv->head;
	rv->head = r;
	return r;
fail:
	log_error("revoke %s: %s", name, jit_strerror(JIT_E_NOMEM));
	record_free(r);
	return NULL;
}

/* Finished ones are shown for a while, then forgotten. */
static void
prune(struct revoker *rv)
{
	struct revocation **pp, *r;
	size_t finished = 0;

	for (pp = &rv->head; (r = *pp) != NULL;) {
		if (r->state == RV_DONE || r->state == RV_GAVE_UP) {
			if (++finished > REVOKE_DONE_KEPT) {
				*pp = r->next;
				record_free(r);
				continue;
			}
		}
		pp = &r->next;
	}
}

static const struct conf_profile *
revoke_profile(struct agent *ag, const char *profile)
{
	const struct conf_profile *p = conf_profile(ag->conf, profile);

	return p != NULL && p->revoke.n > 0 ? p : NULL;
}

/* JIT_FIELD_<NAME>: a field name's '.' and '-' become '_'. */
static int
env_field(struct proc_env *env, const struct cred_pub *f)
{
	char var[16 + FIELD_NAME_MAX];
	size_t i, o;

	o = (size_t)snprintf(var, sizeof(var), "JIT_FIELD_");
	for (i = 0; f->name[i] != '\0' && o + 1 < sizeof(var); i++) {
		char ch = f->name[i];

		var[o++] = (ch == '.' || ch == '-') ? '_' : ch;
	}
	var[o] = '\0';
	return proc_env_set(env, var, f->value);
}

static bool
field_listed(const struct conf_profile *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nrevoke_fields; i++)
		if (strcmp(p->revoke_fields[i], name) == 0)
			return true;
	return false;
}

static void
revoke_run(struct hwjob *hj)
{
	struct revoke_job *j = (struct revoke_job *)hj;
	struct proc_spec spec;

	/* Runs even if the client that asked has gone: it must happen. */
	memset(&spec, 0, sizeof(spec));
	spec.argv = j->argv.v;
	spec.envp = j->env.v;
	spec.timeout_ms = j->timeout_ms;
	spec.out_max = 0;
	hj->result = proc_run(&spec, &j->pr);
}

static void
job_free(struct revoke_job *j)
{
	conf_argv_free(&j->argv);
	proc_env_free(&j->env);
	proc_result_reset(&j->pr);
	free(j->hj.device);
	j->hj.device = NULL;
}

static void
audit_result(
    struct agent *ag, struct revocation *r, int status, const char *what)
{
	struct json_object *ev;

	if ((ev = event_new(r->state == RV_DONE ? "revoke-done" :
						  "revoke-failed")) != NULL) {
		event_str(ev, "name", r->name);
		event_str(ev, "profile", r->profile);
		event_str(ev, "why", r->why);
		event_int(ev, "attempt", (int64_t)r->attempts);
		event_int(ev, "status", status);
		event_str(ev, "error", what);
		if (r->state == RV_GAVE_UP)
			(void)jsonx_add_bool(ev, "final", true);
	}
	event_emit(ag, ev);
}

static void
reply_revoke(struct conn *conn, struct revocation *r)
{
	struct json_object *res;

	if ((res = json_object_new_object()) == NULL) {
		reply_ext_err(conn, JIT_E_NOMEM, -1, NULL);
		return;
	}
	(void)jsonx_add_str(res, JP_RES_REVOKE_NAME, r->name);
	(void)jsonx_add_str(res, JP_RES_REVOKE_PROFILE, r->profile);
	(void)jsonx_add_str(res, JP_RES_REVOKE_UPSTREAM, state_names[r->state]);
	(void)jsonx_add_int(res, JP_RES_REVOKE_ATTEMPTS, (int64_t)r->attempts);
	if (r->error[0] != '\0')
		(void)jsonx_add_str(res, JP_RES_REVOKE_MESSAGE, r->error);
	if (r->state == RV_FAILED)
		(void)jsonx_add_int(res, JP_RES_REVOKE_NEXT_TRY, r->next_wall);
	reply_ext_result(conn, res);
}

static void
revoke_done(struct hwjob *hj)
{
	struct revoke_job *j = (struct revoke_job *)hj;
	struct revocation *r = j->r;
	struct agent *ag = hj->ag;
	struct revoker *rv = ag->revoker;
	struct conn *conn = hj->conn;
	struct cred *c;
	char what[160];
	uint64_t delay;
	int status;

	if (conn != NULL)
		conn_set_job(conn, NULL);
	if (hj->result == JIT_E_CANCELLED && !j->pr.spawned) {
		/* The client left before it started: not an attempt. */
		r->attempts--;
		r->state = RV_PENDING;
		r->next_ms = uv_now(ag->loop);
	} else if (hj->result == JIT_OK) {
		r->state = RV_DONE;
		r->error[0] = '\0';
		r->done_wall = (int64_t)time(NULL);
		audit_result(ag, r, proc_status(&j->pr), NULL);
		if (r->delete_after &&
		    (c = store_cred(ag->store, r->name)) != NULL &&
		    c->created == r->created) {
			vault_wipe(ag->vault, c);
			if (store_delete_cred(ag->store, r->name) != 0)
				log_warn(
				    "revoked %s upstream, but its file could not be deleted",
				    r->name);
		}
	} else {
		status = proc_status(&j->pr);
		proc_describe(
		    &j->pr, j->timeout_ms, true, r->error, sizeof(r->error));
		/* The audit gets the outcome, never the command's stderr: it
		 * is the command's to print, and could hold anything. */
		proc_describe(&j->pr, j->timeout_ms, false, what, sizeof(what));
		r->state = r->attempts >= REVOKE_ATTEMPTS_MAX ? RV_GAVE_UP :
								RV_FAILED;
		delay = (uint64_t)REVOKE_BACKOFF_MS << (r->attempts - 1);
		if (delay > REVOKE_BACKOFF_MAX_MS)
			delay = REVOKE_BACKOFF_MAX_MS;
		r->next_ms = uv_now(ag->loop) + delay;
		r->next_wall = (int64_t)time(NULL) + (int64_t)(delay / 1000);
		audit_result(ag, r, status, what);
		log_warn("the upstream revoke of %s failed (attempt %u): %s",
		    r->name, r->attempts, r->error);
	}
	if (conn != NULL) {
		reply_revoke(conn, r);
		conn_done(conn);
	}
	job_free(j);
	if (rv != NULL) {
		prune(rv);
		rearm(rv);
	}
}

/* Start one attempt; conn (may be NULL) is answered by revoke_done. */
static int
attempt(struct agent *ag, struct revocation *r, struct conn *conn)
{
	const struct conf_profile *p = revoke_profile(ag, r->profile);
	struct revoke_job *j;
	char created[24];
	size_t i;
	int rc;

	if (p == NULL) {
		r->state = RV_GAVE_UP;
		snprintf(r->error, sizeof(r->error),
		    "profile %s has no revoke command in the configuration any more",
		    r->profile);
		audit_result(ag, r, -1, r->error);
		return JIT_E_CONFIG;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return JIT_E_NOMEM;
	j->r = r;
	j->timeout_ms = p->timeout_s * 1000;
	snprintf(created, sizeof(created), "%lld", (long long)r->created);
	if ((rc = conf_argv_dup(&p->revoke, &j->argv)) != 0 ||
	    (rc = proc_env_init(&j->env)) != 0 ||
	    (rc = proc_env_set(&j->env, "JIT_NAME", r->name)) != 0 ||
	    (rc = proc_env_set(&j->env, "JIT_PROFILE", r->profile)) != 0 ||
	    (rc = proc_env_set(&j->env, "JIT_REVOKE_WHY", r->why)) != 0 ||
	    (rc = proc_env_set(&j->env, "JIT_CREATED", created)) != 0 ||
	    (r->reason != NULL &&
		(rc = proc_env_set(&j->env, "JIT_REASON", r->reason)) != 0))
		goto fail;
	/* Only fields the profile lists now, from the copy kept in clear. */
	for (i = 0; i < r->npub; i++)
		if (field_listed(p, r->pub[i].name) &&
		    (rc = env_field(&j->env, &r->pub[i])) != 0)
			goto fail;
	if (asprintf(&j->hj.device, "issuer:%s", r->profile) < 0) {
		j->hj.device = NULL;
		rc = JIT_E_NOMEM;
		goto fail;
	}
	j->hj.run = revoke_run;
	j->hj.done = revoke_done;
	j->hj.conn = conn;
	r->state = RV_RUNNING;
	r->attempts++;
	if ((rc = hwq_submit(ag->hwq, &j->hj)) != 0) {
		r->attempts--;
		r->state = RV_PENDING;
		goto fail;
	}
	if (conn != NULL)
		conn_set_job(conn, &j->hj);
	return JIT_OK;
fail:
	log_error(
	    "cannot start the revoke of %s: %s", r->name, jit_strerror(rc));
	job_free(j);
	free(j);
	return rc;
}

static void
on_tick(uv_timer_t *t)
{
	struct revoker *rv = t->data;
	struct agent *ag = rv->ag;
	struct revocation *r;
	struct cred *c;
	int64_t now = wall_ms();
	size_t i;

	/* Files not read yet wait for the background pass (it rearms). */
	for (i = 0; i < store_nknown(ag->store); i++) {
		c = store_cred_peek(ag->store, i);
		if (c == NULL || c->profile == NULL ||
		    now < c->not_after * 1000 ||
		    record_find(rv, c->name, c->created) != NULL ||
		    revoke_profile(ag, c->profile) == NULL)
			continue;
		if ((r = record_new(rv, c->name, c->profile, c->reason,
			 c->created, c->pub, c->npub, "expire")) == NULL)
			continue;
		r->delete_after = true;
		(void)attempt(ag, r, NULL);
	}
	for (r = rv->head; r != NULL; r = r->next)
		if ((r->state == RV_FAILED || r->state == RV_PENDING) &&
		    uv_now(ag->loop) >= r->next_ms)
			(void)attempt(ag, r, NULL);
	rearm(rv);
}

static void
rearm(struct revoker *rv)
{
	struct agent *ag = rv->ag;
	struct revocation *r;
	struct cred *c;
	int64_t now = wall_ms(), next = REVOKE_TICK_MAX_MS, d;
	uint64_t mono = uv_now(ag->loop);
	size_t i;

	for (i = 0; i < store_nknown(ag->store); i++) {
		c = store_cred_peek(ag->store, i);
		if (c == NULL || c->profile == NULL ||
		    record_find(rv, c->name, c->created) != NULL ||
		    revoke_profile(ag, c->profile) == NULL)
			continue;
		if ((d = c->not_after * 1000 - now + 1) < next)
			next = d;
	}
	for (r = rv->head; r != NULL; r = r->next) {
		if (r->state != RV_FAILED && r->state != RV_PENDING)
			continue;
		d = r->next_ms > mono ? (int64_t)(r->next_ms - mono) : 0;
		if (d < next)
			next = d;
	}
	uv_timer_start(&rv->timer, on_tick, next < 0 ? 0 : (uint64_t)next, 0);
}

void
revoke_rearm(struct agent *ag)
{
	if (ag->revoker != NULL)
		rearm(ag->revoker);
}

int
revoker_new(struct agent *ag, struct revoker **ret)
{
	struct revoker *rv;

	if ((rv = calloc(1, sizeof(*rv))) == NULL)
		return JIT_E_NOMEM;
	rv->ag = ag;
	uv_timer_init(ag->loop, &rv->timer);
	rv->timer.data = rv;
	*ret = rv;
	/* What expired while the agent was not running goes first. */
	uv_timer_start(&rv->timer, on_tick, 0, 0);
	return JIT_OK;
}

static void
on_closed(uv_handle_t *h)
{
	struct revoker *rv = h->data;
	struct revocation *r, *n;

	/* A running attempt's job still points at its record: at exit it
	 * is left to the process's end. */
	for (r = rv->head; r != NULL; r = n) {
		n = r->next;
		if (r->state != RV_RUNNING)
			record_free(r);
	}
	free(rv);
}

void
revoker_free(struct revoker *rv)
{
	if (rv == NULL)
		return;
	uv_close((uv_handle_t *)&rv->timer, on_closed);
}

struct revocation *
revoke_prepare(struct agent *ag, const struct cred *c, const char *why)
{
	struct revoker *rv = ag->revoker;
	struct revocation *r;

	if (rv == NULL || c->profile == NULL)
		return NULL;
	if (revoke_profile(ag, c->profile) == NULL) {
		if (conf_profile(ag->conf, c->profile) == NULL)
			log_warn(
			    "%s: profile %s is not configured: it cannot be revoked upstream",
			    c->name, c->profile);
		return NULL;
	}
	if ((r = record_find(rv, c->name, c->created)) != NULL) {
		if (r->state != RV_RUNNING) {
			r->attempts = 0;
			r->state = RV_PENDING;
			snprintf(r->why, sizeof(r->why), "%s", why);
		}
		return r;
	}
	return record_new(rv, c->name, c->profile, c->reason, c->created,
	    c->pub, c->npub, why);
}

int
revoke_start(struct agent *ag, struct revocation *r, struct request *rq)
{
	int rc;

	if (r->state == RV_RUNNING) {
		reply_revoke(rq->conn, r);
		return JIT_OK;
	}
	if ((rc = attempt(ag, r, rq->conn)) != 0) {
		if (r->state == RV_PENDING)
			snprintf(
			    r->error, sizeof(r->error), "%s", jit_strerror(rc));
		reply_revoke(rq->conn, r);
		rearm(ag->revoker);
		return JIT_OK;
	}
	return AGENT_DEFERRED;
}

bool
revoke_on_lock(
    struct agent *ag, struct cred *c, const char *why, const struct peer *p)
{
	const struct conf_profile *prof;
	struct revocation *r;
	struct json_object *ev;
	char *name;
	bool deleted;

	if (ag->revoker == NULL || c->profile == NULL ||
	    (prof = revoke_profile(ag, c->profile)) == NULL ||
	    !prof->revoke_on_lock)
		return false;
	if ((r = revoke_prepare(ag, c, why)) == NULL ||
	    (name = strdup(c->name)) == NULL)
		return false;
	vault_wipe(ag->vault, c);
	deleted = store_delete_cred(ag->store, name) == 0;
	if (!deleted)
		log_error(
		    "%s: revoked on lock, but its file could not be deleted",
		    name);
	if ((ev = event_new("revoke")) != NULL) {
		event_str(ev, "name", name);
		event_str(ev, "why", why);
		event_peer(ev, p);
	}
	event_emit(ag, ev);
	if (r->state != RV_RUNNING)
		(void)attempt(ag, r, NULL);
	free(name);
	rearm(ag->revoker);
	return deleted;
}

void
revoke_lock_all(struct agent *ag, const char *why, const struct peer *p,
    struct json_object *done)
{
	struct cred *c;
	char *name;
	size_t i;

	if (ag->revoker == NULL)
		return;
	for (i = 0; i < store_ncreds(ag->store);) {
		c = store_cred_at(ag->store, i);
		if ((name = strdup(c->name)) == NULL)
			return;
		/* A revoked credential is gone: the array was compacted. */
		if (revoke_on_lock(ag, c, why, p)) {
			if (done != NULL)
				json_object_array_add(
				    done, json_object_new_string(name));
			free(name);
			continue;
		}
		free(name);
		i++;
	}
}

void
revoke_if_expired(struct agent *ag, const struct cred *c)
{
	struct revocation *r;

	if (ag->revoker == NULL || c->profile == NULL ||
	    time(NULL) < c->not_after ||
	    record_find(ag->revoker, c->name, c->created) != NULL ||
	    revoke_profile(ag, c->profile) == NULL)
		return;
	if ((r = record_new(ag->revoker, c->name, c->profile, c->reason,
		 c->created, c->pub, c->npub, "expire")) != NULL)
		(void)attempt(ag, r, NULL);
}

void
revoke_unstored(struct agent *ag, const char *name, const char *profile,
    const char *reason, const struct cred_pub *pub, size_t npub)
{
	struct revocation *r;

	if (ag->revoker == NULL || revoke_profile(ag, profile) == NULL)
		return;
	if ((r = record_new(ag->revoker, name, profile, reason, 0, pub, npub,
		 "unstored")) != NULL)
		(void)attempt(ag, r, NULL);
	rearm(ag->revoker);
}

static struct json_object *
record_json(const struct revocation *r)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	(void)jsonx_add_str(o, JP_REVOCATION_NAME, r->name);
	(void)jsonx_add_str(o, JP_REVOCATION_PROFILE, r->profile);
	(void)jsonx_add_str(o, JP_REVOCATION_WHY, r->why);
	(void)jsonx_add_str(o, JP_REVOCATION_STATE, state_names[r->state]);
	(void)jsonx_add_int(o, JP_REVOCATION_ATTEMPTS, (int64_t)r->attempts);
	if (r->error[0] != '\0')
		(void)jsonx_add_str(o, JP_REVOCATION_ERROR, r->error);
	if (r->state == RV_FAILED)
		(void)jsonx_add_int(o, JP_REVOCATION_NEXT_TRY, r->next_wall);
	if (r->state == RV_DONE)
		(void)jsonx_add_int(o, JP_REVOCATION_DONE, r->done_wall);
	return o;
}

struct json_object *
revoke_cred_json(struct agent *ag, const struct cred *c)
{
	struct revocation *r;

	if (ag->revoker == NULL ||
	    (r = record_find(ag->revoker, c->name, c->created)) == NULL)
		return NULL;
	return record_json(r);
}

struct json_object *
revoke_list_json(struct agent *ag)
{
	struct json_object *arr;
	struct revocation *r;

	if ((arr = json_object_new_array()) == NULL)
		return NULL;
	if (ag->revoker == NULL)
		return arr;
	for (r = ag->revoker->head; r != NULL; r = r->next)
		json_object_array_add(arr, record_json(r));
	return arr;
}
