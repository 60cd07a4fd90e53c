/* The protocol's numbers and the limits a client controls: no loop, no JSON. */
#ifndef JIT_PROTO_H
#define JIT_PROTO_H

/* Limits a client controls: named here, enforced in server.c/dispatch.c. */
#define AGENT_FRAME_MAX (256 * 1024) /* draft-miller: 256 KiB */
#define AGENT_OUT_MAX (1024 * 1024) /* queued replies per conn */
#define AGENT_FD_RESERVE 32 /* fds kept for files, hw */
#define AGENT_IDLE_MS (30 * 60 * 1000)
#define AGENT_PARTIAL_MS (10 * 1000) /* to finish a started frame */
#define AGENT_NAME_MAX 64 /* credential names */
#define AGENT_WINDOW_DEFAULT_S (15 * 60)
#define AGENT_TOUCH_TIMEOUT_MS (30 * 1000)

/* ssh-agent message numbers (draft-miller-ssh-agent). */
#define SSH_AGENTC_REMOVE_ALL_RSA_IDENTITIES 9 /* SSH1; ssh-add -D */
#define SSH_AGENT_FAILURE 5
#define SSH_AGENT_SUCCESS 6
#define SSH_AGENTC_REQUEST_IDENTITIES 11
#define SSH_AGENT_IDENTITIES_ANSWER 12
#define SSH_AGENTC_SIGN_REQUEST 13
#define SSH_AGENT_SIGN_RESPONSE 14
#define SSH_AGENTC_ADD_IDENTITY 17
#define SSH_AGENTC_REMOVE_IDENTITY 18
#define SSH_AGENTC_REMOVE_ALL_IDENTITIES 19
#define SSH_AGENTC_ADD_SMARTCARD_KEY 20
#define SSH_AGENTC_REMOVE_SMARTCARD_KEY 21
#define SSH_AGENTC_LOCK 22
#define SSH_AGENTC_UNLOCK 23
#define SSH_AGENTC_ADD_ID_CONSTRAINED 25
#define SSH_AGENTC_ADD_SMARTCARD_KEY_CONSTRAINED 26
#define SSH_AGENTC_EXTENSION 27
#define SSH_AGENT_EXTENSION_FAILURE 28

#endif
