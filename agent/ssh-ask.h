/* Asking the person through SSH_ASKPASS without blocking the loop: yes/no or a PIN. */
#ifndef JIT_SSH_ASK_H
#define JIT_SSH_ASK_H

#include <stdbool.h>

#include <uv.h>

struct secret;

#define SSH_ASK_TIMEOUT_MS (60 * 1000) /* then the answer is no */
#define SSH_ASK_OUT_MAX 256 /* bytes read from askpass */
#define SSH_ASK_MAX 8 /* prompts open at once */
#define SSH_ASK_PROMPT_MAX 512

enum ssh_ask_mode {
	SSH_ASK_CONFIRM, /* SSH_ASKPASS_PROMPT=confirm: exit 0 = yes */
	SSH_ASK_SECRET, /* what the person typed: a PIN */
};

/*
 * Called once on the loop with the answer: ok, and for SSH_ASK_SECRET the
 * text typed (without its newline) in guarded memory, which the callee
 * takes.  Not called after ssh_ask_cancel().
 */
typedef void ssh_ask_cb(void *arg, bool ok, struct secret *answer);

struct ssh_ask;

/*
 * Run SSH_ASKPASS (or /usr/bin/ssh-askpass with a display) with prompt,
 * as OpenSSH's ssh-agent does for ssh-add -c keys.  The prompt must be
 * escaped already.  JIT_E_UNSUPPORTED without an askpass program,
 * JIT_E_BUSY with SSH_ASK_MAX prompts open.
 */
int ssh_ask_start(uv_loop_t *loop, enum ssh_ask_mode mode, const char *prompt,
    ssh_ask_cb *cb, void *arg, struct ssh_ask **ret);
/* The client left: kill the askpass, never call back. */
void ssh_ask_cancel(struct ssh_ask *a);

#endif
