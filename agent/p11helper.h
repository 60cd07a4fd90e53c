/* OpenSSH's ssh-pkcs11-helper as a child of the agent: one per provider. */
#ifndef JIT_P11HELPER_H
#define JIT_P11HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

struct secret;

/* OpenSSH's helper (meson -Dpkcs11_helper=PATH); SSH_PKCS11_HELPER in
 * the agent's environment names another, as for OpenSSH's ssh-agent. */
#define P11HELPER_ENV "SSH_PKCS11_HELPER"
#define P11HELPER_FRAME_MAX (256 * 1024) /* a reply, as OpenSSH's client */
#define P11HELPER_CALLS_MAX 32 /* queued on one helper */
#define P11HELPER_WHY_MAX 160

/*
 * Called once on the loop: r is JIT_OK with the reply (type byte first,
 * valid during the call only), JIT_E_TIMEOUT if the helper did not answer
 * in time (it is killed), JIT_E_IO if it died or broke the protocol,
 * JIT_E_CANCELLED if the helper was stopped.  Always called (a
 * caller that loses interest keeps its arg until then).
 */
typedef void p11helper_cb(void *arg, int r, const uint8_t *reply, size_t len);
/* The helper is gone (why: a sentence part, "exited with status 1"),
 * called once, after every pending call was failed. */
typedef void p11helper_gone_cb(void *arg, const char *why);

struct p11helper;
struct p11call;

/*
 * Start the helper: it reads requests on its stdin and answers on its
 * stdout, both one end of a socketpair whose other end the agent reads
 * on the loop.  Its environment is the agent's (which holds no secret).
 */
int p11helper_start(uv_loop_t *loop, p11helper_gone_cb *gone, void *arg,
    struct p11helper **ret);
/*
 * Send one request (a whole frame body, type byte first: OpenSSH's
 * helper protocol), which is taken and wiped once written: it may carry
 * a PIN.  Requests go one at a time; the reply to this one must come
 * within timeout_ms and be at most reply_max bytes, or the helper is
 * killed.  JIT_E_BUSY with P11HELPER_CALLS_MAX queued, JIT_E_IO if the
 * helper is gone.
 */
int p11helper_call(struct p11helper *h, struct secret *req, size_t reply_max,
    int64_t timeout_ms, p11helper_cb *cb, void *arg, struct p11call **ret);
/* Kill the helper and free it once its handles close (and it is reaped,
 * unless at_exit); pending calls get JIT_E_CANCELLED, and the gone
 * callback is not called.  NULL is fine. */
void p11helper_stop(struct p11helper *h, bool at_exit);
pid_t p11helper_pid(const struct p11helper *h);
/* Where the helper comes from: SSH_PKCS11_HELPER or the default. */
const char *p11helper_path(void);

#endif
