/* Serving a credential's fields to a client: audited first, then counted. */
#ifndef JIT_SERVE_H
#define JIT_SERVE_H

struct agent;
struct conn;
struct cred;
struct peer;
struct secret;

/* Answer a get with fields (all, or the one named), audit the use first
 * (refused if the audit cannot take it; the event names token, the one
 * whose hardware opened them) and count it.  JIT_OK once it replied. */
int ext_serve(struct agent *ag, struct conn *conn, const struct peer *p,
    struct cred *c, const struct secret *fields, const char *field,
    const char *purpose, const char *command, const char *token);

#endif
