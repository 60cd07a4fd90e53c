/* The one error space of jit-agent: negative codes and their sentences. */
#ifndef JIT_ERR_H
#define JIT_ERR_H

enum jit_err {
	JIT_OK = 0,
	JIT_E_NOMEM = -1, /* out of memory */
	JIT_E_FORMAT = -2, /* malformed input */
	JIT_E_LIMIT = -3, /* a size or count limit exceeded */
	JIT_E_DENIED = -4, /* refused by policy or by the user */
	JIT_E_NO_TOUCH = -5, /* touch timed out */
	JIT_E_PIN = -6, /* wrong PIN */
	JIT_E_PIN_BLOCKED = -7, /* PIN blocked / lockout */
	JIT_E_NODEV = -8, /* token absent */
	JIT_E_EXPIRED = -9, /* credential past its window */
	JIT_E_LOCKED = -10, /* credential not unlocked */
	JIT_E_NOENT = -11, /* no such credential / token / file */
	JIT_E_EXISTS = -12, /* already exists */
	JIT_E_IO = -13, /* I/O error (errno logged) */
	JIT_E_CRYPTO = -14, /* cryptographic failure */
	JIT_E_AUTH = -15, /* authentication failed (AEAD, signature) */
	JIT_E_HW = -16, /* token reported an error */
	JIT_E_ARG = -17, /* invalid argument */
	JIT_E_PEER = -18, /* peer not allowed */
	JIT_E_TIMEOUT = -19, /* an operation timed out */
	JIT_E_CANCELLED = -20, /* cancelled (client left, lock) */
	JIT_E_UNSUPPORTED = -21, /* not supported / not built */
	JIT_E_MLOCK = -22, /* memory cannot be locked */
	JIT_E_AGENT_LOCKED = -23, /* agent locked with a passphrase */
	JIT_E_NOTOKEN = -24, /* no enrolled token */
	JIT_E_WRONG_TOKEN = -25, /* token present is not the enrolled one */
	JIT_E_BUSY = -26, /* resource busy */
	JIT_E_CONFIG = -27, /* configuration error */
	JIT_E_ISSUER = -28, /* issuer command failed */
	JIT_E_AGENT = -29, /* cannot reach the agent */
	JIT_E_SIMULATED = -30, /* simulated token not allowed */
	JIT_E_PIN_REQUIRED = -31, /* a PIN is needed */
	JIT_E_INTERNAL = -32, /* a bug */
	JIT_E_UNVERIFIED = -33, /* token set not verified with a token */
	JIT_E_LAST = -34
};

/* A sentence for the user; never NULL. */
const char *jit_strerror(int r);
/* A stable short name ("JIT_E_PIN") for logs and JSON. */
const char *jit_errname(int r);

#endif
