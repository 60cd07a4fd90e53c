/* Asking the person: an SSH_ASKPASS-style confirmation, off the loop. */
#ifndef JIT_ASKPASS_H
#define JIT_ASKPASS_H

#include "agent.h"

#define ASKPASS_TIMEOUT_MS (60 * 1000)
#define ASKPASS_DEFAULT "/usr/lib/openssh/ssh-askpass"

/*
 * Run $SSH_ASKPASS (else ASKPASS_DEFAULT) with SSH_ASKPASS_PROMPT=confirm
 * and the prompt as its argument, as ssh-agent does for keys added with
 * ssh-add -c.  Blocking: call it from a hardware job.  JIT_OK if the person
 * said yes, JIT_E_DENIED if no, JIT_E_TIMEOUT, or JIT_E_UNSUPPORTED when
 * there is no askpass program.
 */
int askpass_confirm(const char *prompt, const volatile int *cancel);

/* Build "Allow PROGRAM (pid N) to use WHAT?" with every client-supplied
 * byte escaped, into out. */
void askpass_prompt(
    const struct peer *p, const char *what, char *out, size_t outlen);

/*
 * Queue a confirmation for rq's connection; when answered, done(ag, conn,
 * r, arg) runs on the loop (conn is NULL if the client left) and must reply
 * and call conn_done().  Returns AGENT_DEFERRED or an error.
 */
typedef void askpass_done_fn(
    struct agent *ag, struct conn *conn, int r, void *arg);
int askpass_submit(struct agent *ag, struct request *rq, const char *prompt,
    askpass_done_fn *done, void *arg);

#endif
