/* Request dispatch: ssh-agent message types and the extension verbs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "dispatch.h"
#include "events.h"
#include "policy.h"
#include "reply.h"
#include "ssh-agent.h"
#include "config.h"
#include "err.h"
#include "ext.h"
#include "jsonx.h"
#include "log.h"
#include "proto-names.h"
#include "secret.h"

#define EXT_NAME_MAX 128
#define EXT_ARGS_MAX (AGENT_FRAME_MAX) /* unlock of 10,000 names: 150 KB */
#define EXT_SECRET_MAX (AGENT_FRAME_MAX)
#define EXT_SUFFIX "@" JIT_EXT_DOMAIN

/* Every verb of proto-names.h, served by ext_<handler> (ext.h). */
#define EXT_ENTRY(verb, handler) { verb, ext_##handler },
static const struct {
	const char *verb;
	ext_fn *fn;
} exts[] = { JP_VERBS(EXT_ENTRY) };
#define NEXTS (sizeof(exts) / sizeof(exts[0]))

/* What comes through ssh (a forwarded agent) signs, nothing more; a
 * locked agent answers status alone (policy.c). */
static bool
verb_refused(struct agent *ag, struct request *rq, const char *verb)
{
	struct json_object *ev;
	char host[SSH_FP_LEN];
	bool forwarded = ssh_forwarded(rq, host);
	int r;

	/* A keys-only agent (another holds the store) has no credentials:
	 * jitctl's verbs go to the holder, which the refusal names. */
	if (ag->holder_sock != NULL && strcmp(verb, JP_VERB_HELLO) != 0) {
		reply_ext_err(rq->conn, JIT_E_BUSY, -1,
		    "this agent serves ssh-add keys only, since the agent pid %ld (socket %s) holds the data directory: set JIT_AGENT_SOCK=%s",
		    (long)ag->holder_pid, ag->holder_sock, ag->holder_sock);
		return true;
	}
	if ((r = policy_verb_allowed(verb, forwarded, ag->locked)) == JIT_OK)
		return false;
	if (r == JIT_E_AGENT_LOCKED) {
		reply_ext_err(rq->conn, r, -1, NULL);
		return true;
	}
	if ((ev = event_new("deny")) != NULL) {
		event_str(ev, "verb", verb);
		event_str(ev, "why", "jitctl verb over a forwarded connection");
		event_str(ev, "host_key", host[0] != '\0' ? host : NULL);
		event_peer(ev, rq->peer);
	}
	(void)event_emit(ag, ev);
	reply_ext_err(rq->conn, r, -1,
	    "%s: forwarded connections may not use jitctl verbs", verb);
	return true;
}

static int
ext_query(struct request *rq)
{
	struct wire_writer w;
	char name[EXT_NAME_MAX];
	size_t i;
	int r;

	wire_writer_init(&w, AGENT_FRAME_MAX, false);
	if ((r = wire_put_u8(&w, SSH_AGENT_SUCCESS)) != 0 ||
	    (r = wire_put_cstring(&w, "query")) != 0 ||
	    (r = wire_put_cstring(&w, "session-bind@openssh.com")) != 0)
		goto fail;
	for (i = 0; i < NEXTS; i++) {
		snprintf(name, sizeof(name), "%s%s", exts[i].verb, EXT_SUFFIX);
		if ((r = wire_put_cstring(&w, name)) != 0)
			goto fail;
	}
	conn_send(rq->conn, &w);
	return JIT_OK;
fail:
	wire_writer_reset(&w);
	return r;
}

static int
extension(struct agent *ag, struct request *rq)
{
	struct json_object *args = NULL;
	struct secret *payload = NULL;
	const uint8_t *p;
	size_t n, i, vlen;
	char *name = NULL;
	int r;

	if ((r = wire_get_cstring(&rq->body, EXT_NAME_MAX, &name)) != 0) {
		conn_reply_type(rq->conn, SSH_AGENT_FAILURE);
		return JIT_OK;
	}
	/* OpenSSH's session binds are served even while locked. */
	if (strcmp(name, "session-bind@openssh.com") == 0) {
		free(name);
		return ssh_session_bind(ag, rq);
	}
	if (strcmp(name, "query") == 0) {
		if (ag->locked || (r = wire_end(&rq->body)) != 0 ||
		    (r = ext_query(rq)) != 0)
			conn_reply_type(rq->conn, SSH_AGENT_FAILURE);
		free(name);
		return JIT_OK;
	}
	n = strlen(name);
	vlen = n > strlen(EXT_SUFFIX) ? n - strlen(EXT_SUFFIX) : 0;
	for (i = 0; i < NEXTS && vlen > 0; i++) {
		if (strlen(exts[i].verb) == vlen &&
		    strncmp(name, exts[i].verb, vlen) == 0 &&
		    strcmp(name + vlen, EXT_SUFFIX) == 0)
			break;
	}
	if (vlen == 0 || i == NEXTS) {
		/* Unknown extensions fail the way ssh-agent's do. */
		log_debug("unknown extension requested");
		conn_reply_type(rq->conn, SSH_AGENT_FAILURE);
		free(name);
		return JIT_OK;
	}
	if (verb_refused(ag, rq, exts[i].verb)) {
		free(name);
		return JIT_OK;
	}
	if ((r = wire_get_string(&rq->body, EXT_ARGS_MAX, &p, &n)) != 0 ||
	    (r = jsonx_parse((const char *)p, n, &args)) != 0)
		goto fail;
	if (wire_left(&rq->body) > 0 &&
	    (r = wire_get_secret(&rq->body, EXT_SECRET_MAX, &payload)) != 0)
		goto fail;
	if ((r = wire_end(&rq->body)) != 0)
		goto fail;
	r = exts[i].fn(ag, rq, args, &payload);
	if (r < 0)
		goto fail;
	goto out;
fail:
	reply_ext_err(rq->conn, r, -1, "%s: %s", exts[i].verb,
	    r == JIT_E_FORMAT ? "malformed request" : jit_strerror(r));
	r = JIT_OK;
out:
	secret_free(payload);
	json_object_put(args);
	free(name);
	return r;
}

int
dispatch(struct agent *ag, struct request *rq)
{
	switch (rq->type) {
	case SSH_AGENTC_REQUEST_IDENTITIES:
	case SSH_AGENTC_SIGN_REQUEST:
	case SSH_AGENTC_ADD_IDENTITY:
	case SSH_AGENTC_ADD_ID_CONSTRAINED:
	case SSH_AGENTC_REMOVE_IDENTITY:
	case SSH_AGENTC_REMOVE_ALL_IDENTITIES:
	case SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES:
	case SSH_AGENTC_LOCK:
	case SSH_AGENTC_UNLOCK:
	case SSH_AGENTC_ADD_SMARTCARD_KEY:
	case SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED:
	case SSH_AGENTC_REMOVE_SMARTCARD_KEY:
		/* ssh-agent.c: the standard messages, locked or not. */
		return ssh_request(ag, rq);
	case SSH_AGENTC_EXTENSION: return extension(ag, rq);
	default:
		/* Exactly one reply, whatever arrived. */
		conn_reply_type(rq->conn, SSH_AGENT_FAILURE);
		return JIT_OK;
	}
}
