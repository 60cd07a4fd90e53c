/* Replies to a request: extension results and failures in the agent's form. */
#include <stdarg.h>
#include <stdio.h>

#include "conn.h"
#include "err.h"
#include "events.h"
#include "jsonx.h"
#include "log.h"
#include "proto-names.h"
#include "reply.h"
#include "secret.h"
#include "wire.h"

int
reply_ext_ok(
    struct conn *c, struct json_object *result, const struct secret *payload)
{
	struct wire_writer w;
	const char *s;
	int r;

	/* Secure: a payload (credential values) passes through it. */
	wire_writer_init(&w, AGENT_FRAME_MAX, true);
	s = json_object_to_json_string_ext(
	    result, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((r = wire_put_u8(&w, SSH_AGENT_SUCCESS)) != 0 ||
	    (r = wire_put_cstring(&w, s)) != 0 ||
	    (payload != NULL &&
		(r = wire_put_string(
		     &w, secret_ptr(payload), secret_len(payload))) != 0)) {
		wire_writer_reset(&w);
		return r;
	}
	conn_send(c, &w);
	return JIT_OK;
}

void
reply_ext_result(struct conn *c, struct json_object *result)
{
	if (reply_ext_ok(c, result, NULL) != 0)
		reply_ext_err(c, JIT_E_INTERNAL, -1, NULL);
	json_object_put(result);
}

void
reply_ext_err(struct conn *c, int err, int retries, const char *fmt, ...)
{
	struct json_object *o;
	struct wire_writer w;
	char msg[512];
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	} else
		snprintf(msg, sizeof(msg), "%s", jit_strerror(err));
	log_info("request failed: %s", msg);
	wire_writer_init(&w, AGENT_FRAME_MAX, false);
	if ((o = json_object_new_object()) == NULL ||
	    jsonx_add_int(o, JP_ERR_ERROR, err) != 0 ||
	    jsonx_add_str(o, JP_ERR_CODE, jit_errname(err)) != 0 ||
	    jsonx_add_str(o, JP_ERR_MESSAGE, msg) != 0 ||
	    (retries >= 0 && jsonx_add_int(o, JP_ERR_RETRIES, retries) != 0) ||
	    wire_put_u8(&w, SSH_AGENT_EXTENSION_FAILURE) != 0 ||
	    wire_put_cstring(&w,
		json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) !=
		0) {
		wire_writer_reset(&w);
		conn_reply_type(c, SSH_AGENT_EXTENSION_FAILURE);
	} else
		conn_send(c, &w);
	json_object_put(o);
}

void
reply_audit_refused(struct agent *ag, struct conn *c, int r)
{
	char msg[256];

	event_refusal(ag, r, msg, sizeof(msg));
	reply_ext_err(c, r, -1, "%s", msg);
}
