/* The audit log's verbs: audit-setup starts sealing it. */
#include <stdio.h>

#include "audit.h"
#include "duration.h"
#include "err.h"
#include "events.h"
#include "ext.h"
#include "fss.h"
#include "jsonx.h"
#include "log.h"
#include "proto-names.h"
#include "secret.h"

/*
 * A new sealing key: the agent keeps its evolving state in the key file
 * beside the log, and the verification key goes to the client once, as
 * the reply's secret, never into a log or a file of the agent.
 */
int
ext_audit_setup(struct agent *ag, struct request *rq, struct json_object *args,
    struct secret **payload)
{
	struct json_object *extra = NULL, *res = NULL;
	struct audit_sealing st;
	struct secret *vkey = NULL;
	char iv[32];
	int64_t interval;
	bool force = false;
	int r;

	(void)payload;
	if (ag->audit == NULL)
		return JIT_E_UNSUPPORTED;
	if ((r = ext_duration_arg(args, JP_ARG_AUDIT_SETUP_INTERVAL, &interval,
		 FSS_INTERVAL_DEFAULT)) != 0 ||
	    ((r = jsonx_opt_bool(args, JP_ARG_AUDIT_SETUP_FORCE, &force)) !=
		    0 &&
		r != JIT_E_NOENT))
		return JIT_E_FORMAT;
	if (interval < FSS_INTERVAL_MIN || interval > FSS_INTERVAL_MAX) {
		reply_ext_err(rq->conn, JIT_E_ARG, -1,
		    "the sealing interval is 1 second to 7 days");
		return JIT_OK;
	}
	if ((extra = json_object_new_object()) == NULL)
		return JIT_E_NOMEM;
	event_peer(extra, rq->peer);
	r = audit_setup_keys(
	    ag->audit, (uint32_t)interval, force, extra, &vkey);
	json_object_put(extra);
	audit_sealing(ag->audit, &st);
	if (r == JIT_E_EXISTS) {
		reply_ext_err(rq->conn, r, -1,
		    "the audit log is sealed already (key id %s): pass --force to replace the key, and keep the old verification key to check the lines before",
		    st.key_id);
		return JIT_OK;
	}
	if (r != 0) {
		reply_ext_err(rq->conn, r, -1,
		    "sealing is not set up: the audit log or its key file %s cannot be written (%s)",
		    audit_fss_path(ag->audit),
		    r == JIT_E_IO ? audit_why(ag->audit) : jit_strerror(r));
		return JIT_OK;
	}
	duration_format((int64_t)st.interval, iv, sizeof(iv));
	log_info(
	    "audit: sealing set up: key id %s, a seal every %s", st.key_id, iv);
	events_seal_rearm(ag);
	if ((res = json_object_new_object()) == NULL) {
		r = JIT_E_NOMEM;
		goto out;
	}
	(void)jsonx_add_str(res, JP_RES_AUDIT_SETUP_KEY_ID, st.key_id);
	(void)jsonx_add_int(res, JP_RES_AUDIT_SETUP_START, (int64_t)st.start);
	(void)jsonx_add_int(
	    res, JP_RES_AUDIT_SETUP_INTERVAL, (int64_t)st.interval);
	(void)jsonx_add_str(
	    res, JP_RES_AUDIT_SETUP_KEY_FILE, audit_fss_path(ag->audit));
	r = reply_ext_ok(rq->conn, res, vkey);
out:
	json_object_put(res);
	secret_free(vkey);
	return r;
}
