/* The approve verb: an approval for a waiting request; the quorum runs its issuer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "err.h"
#include "ext.h"
#include "jsonx.h"
#include "proto-names.h"
#include "sshsig.h"

int
ext_approve(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	const struct approval_req *w = NULL;
	struct json_object *res;
	const char *id, *sig;
	char why[1024], who[1024], *profile = NULL, *name = NULL,
				   *reason = NULL;
	int64_t ttl;
	int r;

	(void)payload;
	if ((r = ext_str_arg(args, JP_ARG_APPROVE_ID, APPROVAL_ID_LEN, &id)) !=
		0 ||
	    (r = ext_str_arg(
		 args, JP_ARG_APPROVE_SIGNATURE, SSHSIG_ARMOR_MAX, &sig)) != 0)
		return r == JIT_E_LIMIT ? r : JIT_E_FORMAT;
	if (!approval_id_ok(id)) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "a request id is the %d hex digits after 'id:' in the request's text",
		    APPROVAL_ID_LEN);
		return JIT_OK;
	}
	/* The tokens must take the credential before an approval is spent. */
	if (ext_check_wrappable(ag, rq->conn) != 0)
		return JIT_OK;
	if ((r = approval_add(ag, rq->peer, id, sig, strlen(sig), &w, why,
		 sizeof(why))) != 0) {
		reply_ext_err(rq->conn, r, -1, "%s", why);
		return JIT_OK;
	}
	approval_approvers(w, who, sizeof(who));
	if ((int)w->napprovers < w->needed) {
		if ((res = json_object_new_object()) != NULL &&
		    (jsonx_add_str(res, JP_RES_REQUEST_ID, w->id) != 0 ||
			jsonx_add_int(res, JP_RES_REQUEST_APPROVALS,
			    (int64_t)w->napprovers) != 0 ||
			jsonx_add_int(res, JP_RES_REQUEST_NEEDED, w->needed) !=
			    0 ||
			jsonx_add_str(res, JP_RES_REQUEST_APPROVERS, who) !=
			    0)) {
			json_object_put(res);
			res = NULL;
		}
		reply_ext_result(rq->conn, res);
		return JIT_OK;
	}
	/* The quorum is met: the request is served once, whatever follows. */
	if ((profile = strdup(w->profile)) == NULL ||
	    (name = strdup(w->name)) == NULL ||
	    (reason = strdup(w->reason)) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	ttl = w->ttl_s;
	r = request_start(ag, rq, profile, name, reason, ttl, w);
	approval_forget(ag, id);
out:
	free(profile);
	free(name);
	free(reason);
	return r;
}
