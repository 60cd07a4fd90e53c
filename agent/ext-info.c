/* Verbs that report: status, tokens, audit-head, hello. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "err.h"
#include "ext.h"
#include "isotime.h"
#include "jsonx.h"
#include "proto-names.h"
#include "revoke.h"
#include "store.h"
#include "triggers.h"
#include "vault.h"

/* Credentials per status reply (each ~400 bytes of JSON). */
#define STATUS_PAGE 256

static const char *const set_state_names[] = {
	[SET_EMPTY] = "empty",
	[SET_UNVERIFIED] = "unverified",
	[SET_VERIFIED] = "verified",
	[SET_FAILED] = "failed",
	[SET_BROKEN] = "unreadable",
};

static struct json_object *
set_json(const struct store *s)
{
	struct json_object *o;
	enum store_set_state st;
	const char *why;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	st = store_set_state(s, &why);
	(void)jsonx_add_str(o, JP_SET_STATE, set_state_names[st]);
	if (why[0] != '\0' && (st == SET_FAILED || st == SET_BROKEN))
		(void)jsonx_add_str(o, JP_SET_WHY, why);
	return o;
}

static struct json_object *
tokens_array(const struct store *s)
{
	struct json_object *arr;
	size_t i;

	if ((arr = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < store_ntokens(s); i++)
		json_object_array_add(
		    arr, ext_token_json(store_token_at(s, i)));
	return arr;
}

int
ext_tokens(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *res;
	int r;

	(void)args;
	(void)payload;
	if ((res = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	json_object_object_add(
	    res, JP_RES_TOKENS_TOKENS, tokens_array(ag->store));
	json_object_object_add(res, JP_RES_TOKENS_SET, set_json(ag->store));
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	return r;
}

static struct json_object *
cred_json(struct agent *ag, struct cred *c, int64_t now_wall, int64_t now_ms)
{
	struct json_object *o, *arr, *p;
	const struct vault_slot *s;
	const char *state;
	char iso[ISOTIME_LEN];
	int64_t left;
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	(void)jsonx_add_str(o, JP_CRED_NAME, c->name);
	(void)jsonx_add_str(o, JP_CRED_KIND, c->kind);
	arr = json_object_new_array();
	for (i = 0; i < c->nfields; i++)
		json_object_array_add(
		    arr, json_object_new_string(c->field_names[i]));
	json_object_object_add(o, JP_CRED_FIELDS, arr);
	(void)jsonx_add_str(o, JP_CRED_STEPUP, stepup_name(c->stepup));
	if (c->unlock_on_use)
		(void)jsonx_add_bool(o, JP_CRED_UNLOCK_ON_USE, true);
	(void)jsonx_add_int(o, JP_CRED_NOT_AFTER, c->not_after);
	if (c->profile != NULL) {
		(void)jsonx_add_str(o, JP_CRED_PROFILE, c->profile);
		json_object_object_add(
		    o, JP_CRED_REVOKE, revoke_cred_json(ag, c));
	}
	isotime_format(c->not_after, true, iso, sizeof(iso));
	(void)jsonx_add_str(o, JP_CRED_EXPIRES, iso);
	s = c->slot;
	if (now_wall >= c->not_after)
		state = "expired";
	else if (s != NULL && now_ms < s->until_ms)
		state = "unlocked";
	else if (c->window_ended > 0)
		state = "window-ended";
	else
		state = "locked";
	(void)jsonx_add_str(o, JP_CRED_STATE, state);
	if (s != NULL && strcmp(state, "unlocked") == 0) {
		left = (s->until_ms - now_ms) / 1000;
		if (c->not_after - now_wall < left)
			left = c->not_after - now_wall;
		(void)jsonx_add_int(o, JP_CRED_UNTIL, s->until_wall);
		(void)jsonx_add_int(o, JP_CRED_TIME_LEFT, left);
		(void)jsonx_add_str(o, JP_CRED_UNLOCKED_BY, s->token_label);
		isotime_format(s->until_wall, true, iso, sizeof(iso));
		(void)jsonx_add_str(o, JP_CRED_WINDOW_END, iso);
	} else {
		json_object_object_add(o, JP_CRED_UNTIL, NULL);
		json_object_object_add(o, JP_CRED_TIME_LEFT, NULL);
		if (strcmp(state, "window-ended") == 0) {
			isotime_format(c->window_ended, true, iso, sizeof(iso));
			(void)jsonx_add_str(o, JP_CRED_WINDOW_END, iso);
		} else
			json_object_object_add(o, JP_CRED_WINDOW_END, NULL);
	}
	(void)jsonx_add_int(o, JP_CRED_USES, (int64_t)c->uses);
	if (c->last_uid >= 0 && (p = json_object_new_object()) != NULL) {
		(void)jsonx_add_int(p, JP_PEER_UID, c->last_uid);
		(void)jsonx_add_int(p, JP_PEER_PID, c->last_pid);
		(void)jsonx_add_str(
		    p, JP_PEER_EXE, c->last_exe != NULL ? c->last_exe : "");
		json_object_object_add(o, JP_CRED_LAST_PEER, p);
	} else
		json_object_object_add(o, JP_CRED_LAST_PEER, NULL);
	arr = json_object_new_array();
	for (i = 0; i < c->nwraps; i++) {
		const struct hw_token *t = store_token_by_id(
		    ag->store, c->wraps[i].token_id);

		if (t != NULL)
			json_object_array_add(
			    arr, json_object_new_string(t->label));
	}
	json_object_object_add(o, JP_CRED_TOKENS, arr);
	return o;
}

/* Credential files skipped as damaged (at most STORE_DAMAGED_KEEP). */
static struct json_object *
damaged_json(const struct store *s)
{
	const struct store_damaged *d;
	struct json_object *arr, *o;
	size_t i;

	if ((arr = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; (d = store_damaged_at(s, i)) != NULL; i++) {
		if ((o = json_object_new_object()) == NULL)
			break;
		(void)jsonx_add_str(o, JP_DAMAGED_FILE, d->file);
		(void)jsonx_add_str(o, JP_DAMAGED_WHY, d->why);
		json_object_array_add(arr, o);
	}
	return arr;
}

int
ext_status(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *res, *a, *arr;
	struct vault_slot *vs, *next;
	struct cred *one = NULL;
	const char *name = NULL;
	int64_t now_wall = (int64_t)time(NULL), now_ms = vault_now_ms();
	int64_t offset = 0;
	struct cred *c;
	size_t i, total = store_nknown(ag->store), end;
	int r;

	(void)payload;
	if ((r = jsonx_opt_int(args, JP_ARG_STATUS_OFFSET, 0, STORE_CREDS_MAX,
		 &offset)) != 0 &&
	    r != JIT_E_NOENT)
		return r;
	/* {"name": N}: that credential alone (jitctl get asks this). */
	if ((r = jsonx_opt_str(
		 args, JP_ARG_STATUS_NAME, CRED_NAME_MAX, &name)) == 0) {
		if ((one = store_cred(ag->store, name)) == NULL) {
			reply_ext_err(rq->conn, JIT_E_NOENT, -1,
			    "no credential named %s: see 'jitctl status'",
			    name);
			return JIT_OK;
		}
	} else if (r != JIT_E_NOENT)
		return r;
	/* Expired windows are wiped before anyone is told they are open. */
	for (vs = vault_first(ag->vault); vs != NULL; vs = next) {
		next = vs->next;
		(void)vault_check(ag->vault, vs->cred);
	}
	if ((res = json_object_new_object()) == NULL ||
	    (a = json_object_new_object()) == NULL) {
		json_object_put(res);
		return JIT_E_NOMEM;
	}
	(void)jsonx_add_str(a, JP_AGENT_VERSION, JIT_VERSION);
	(void)jsonx_add_int(a, JP_AGENT_PID, (int64_t)getpid());
	(void)jsonx_add_str(a, JP_AGENT_SOCKET, ag->sock_path);
	(void)jsonx_add_str(a, JP_AGENT_DATA_DIR, ag->data_dir);
	(void)jsonx_add_bool(a, JP_AGENT_LOCKED, ag->locked);
	(void)jsonx_add_int(
	    a, JP_AGENT_UNLOCKED, (int64_t)vault_count(ag->vault));
	json_object_object_add(a, JP_AGENT_TRIGGERS, triggers_json(ag));
	json_object_object_add(res, JP_RES_STATUS_AGENT, a);
	json_object_object_add(
	    res, JP_RES_STATUS_TOKENS, tokens_array(ag->store));
	/* A page at a time: 10,000 credentials do not fit in one frame. */
	arr = json_object_new_array();
	end = (size_t)offset + STATUS_PAGE < total ?
	    (size_t)offset + STATUS_PAGE :
	    total;
	if (one != NULL) {
		json_object_array_add(
		    arr, cred_json(ag, one, now_wall, now_ms));
		total = end = 1;
	} else {
		/* Read now if not yet; a damaged file leaves the index and
		 * the last entry moves into its place (and onto this page). */
		for (i = (size_t)offset;
		     i < end && (c = store_cred_at(ag->store, i)) != NULL; i++)
			json_object_array_add(
			    arr, cred_json(ag, c, now_wall, now_ms));
		total = store_nknown(ag->store);
		end = i;
	}
	json_object_object_add(res, JP_RES_STATUS_CREDENTIALS, arr);
	/* Upstream revocations (few: they are pruned) come with page one. */
	if (offset == 0)
		json_object_object_add(
		    res, JP_RES_STATUS_REVOCATIONS, revoke_list_json(ag));
	(void)jsonx_add_int(res, JP_RES_STATUS_TOTAL, (int64_t)total);
	/* Every page: files are checked as they are read. */
	json_object_object_add(
	    res, JP_RES_STATUS_DAMAGED, damaged_json(ag->store));
	(void)jsonx_add_int(
	    res, JP_RES_STATUS_NDAMAGED, (int64_t)store_ndamaged(ag->store));
	(void)jsonx_add_int(
	    res, JP_RES_STATUS_UNREAD, (int64_t)store_nunread(ag->store));
	if (end < total)
		(void)jsonx_add_int(res, JP_RES_STATUS_NEXT, (int64_t)end);
	else
		json_object_object_add(res, JP_RES_STATUS_NEXT, NULL);
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	return r;
}

int
ext_audit_head(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *res;
	char hash[AUDIT_HASH_HEX + 1], *path = NULL;
	uint64_t seq;
	int r;

	(void)args;
	(void)payload;
	if (ag->audit == NULL)
		return JIT_E_UNSUPPORTED;
	audit_head(ag->audit, &seq, hash);
	if ((res = json_object_new_object()) == NULL ||
	    asprintf(&path, "%s/" AUDIT_FILE_NAME, ag->data_dir) < 0) {
		json_object_put(res);
		return JIT_E_NOMEM;
	}
	(void)jsonx_add_int(res, JP_RES_AUDIT_HEAD_SEQ, (int64_t)seq);
	(void)jsonx_add_str(res, JP_RES_AUDIT_HEAD_HASH, hash);
	(void)jsonx_add_str(res, JP_RES_AUDIT_HEAD_PATH, path);
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	free(path);
	return r;
}

/*
 * jitctl's first request on a connection.  The peer's executable was
 * resolved at accept, before anything was read, so this reply tells jitctl
 * it may now make itself non-dumpable (which hides /proc/PID/exe).
 */
int
ext_hello(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *res;
	int r;

	(void)ag;
	(void)args;
	(void)payload;
	if ((res = json_object_new_object()) == NULL ||
	    jsonx_add_str(res, JP_RES_HELLO_VERSION, JIT_VERSION) != 0) {
		json_object_put(res);
		return JIT_E_NOMEM;
	}
	r = reply_ext_ok(rq->conn, res, NULL);
	json_object_put(res);
	return r;
}
