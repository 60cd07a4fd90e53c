/* Asking the person through SSH_ASKPASS without blocking the loop: yes/no or a PIN. */
#ifndef JIT_ASKPASS_H
#define JIT_ASKPASS_H

#include <stdbool.h>

#include <uv.h>

struct peer;
struct secret;

#define ASKPASS_TIMEOUT_MS (60 * 1000) /* then the answer is no */
#define ASKPASS_OUT_MAX 256 /* bytes read from askpass */
#define ASKPASS_MAX 8 /* prompts open at once */
#define ASKPASS_PROMPT_MAX 512

enum askpass_mode {
	ASKPASS_CONFIRM, /* SSH_ASKPASS_PROMPT=confirm: exit 0 = yes */
	ASKPASS_SECRET, /* what the person typed: a PIN */
};

/*
 * Called once on the loop with the answer: ok, and for ASKPASS_SECRET the
 * text typed (without its newline) in guarded memory, which the callee
 * takes.  Not called after askpass_cancel().
 */
typedef void askpass_cb(void *arg, bool ok, struct secret *answer);

struct askpass;

/*
 * Run SSH_ASKPASS (or /usr/bin/ssh-askpass with a display) with prompt,
 * as OpenSSH's ssh-agent does for ssh-add -c keys.  The prompt must be
 * escaped already.  JIT_E_UNSUPPORTED without an askpass program,
 * JIT_E_BUSY with ASKPASS_MAX prompts open.
 */
int askpass_start(uv_loop_t *loop, enum askpass_mode mode, const char *prompt,
    askpass_cb *cb, void *arg, struct askpass **ret);
/* Whether askpass_start() has a program to run (SSH_ASKPASS, or a
 * display for the default), so a refusal can come before it is needed. */
bool askpass_available(void);
/* The client left: kill the askpass, never call back. */
void askpass_cancel(struct askpass *a);

/* Build "Allow PROGRAM (pid N, uid U) to use WHAT?" with every
 * client-supplied byte escaped, into out. */
void askpass_prompt(
    const struct peer *p, const char *what, char *out, size_t outlen);

#endif
