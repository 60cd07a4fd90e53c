/* Replies to a request: extension results and failures in the agent's form. */
#ifndef JIT_REPLY_H
#define JIT_REPLY_H

#include <json-c/json.h>

struct agent;
struct conn;
struct secret;

/* An extension success: the result JSON and an optional secret. */
int reply_ext_ok(
    struct conn *c, struct json_object *result, const struct secret *payload);
/* reply_ext_ok with no secret, or an internal error if the reply cannot
 * be built; releases result either way. */
void reply_ext_result(struct conn *c, struct json_object *result);
/* An extension failure with a sentence (fmt NULL: jit_strerror(err)). */
void reply_ext_err(struct conn *c, int err, int retries, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The audit could not take a request's event: refuse it with
 * event_refusal()'s sentence (events.h). */
void reply_audit_refused(struct agent *ag, struct conn *c, int r);

#endif
