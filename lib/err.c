/* Sentences for the error codes of err.h. */
#include "err.h"

static const struct {
	const char *name;
	const char *text;
} errs[] = {
	[0] = { "JIT_OK", "success" },
	[1] = { "JIT_E_NOMEM", "out of memory" },
	[2] = { "JIT_E_FORMAT", "malformed input" },
	[3] = { "JIT_E_LIMIT", "a size or count limit was exceeded" },
	[4] = { "JIT_E_DENIED", "the request was denied" },
	[5] = { "JIT_E_NO_TOUCH",
	    "no touch in time: touch your security key when asked and try again" },
	[6] = { "JIT_E_PIN", "wrong PIN" },
	[7] = { "JIT_E_PIN_BLOCKED",
	    "the token's PIN is blocked (too many wrong PINs): reset or unblock it" },
	[8] = { "JIT_E_NODEV",
	    "the token is not present: plug it in or check --device" },
	[9] = { "JIT_E_EXPIRED",
	    "the credential has expired: request it again, or add it again with --replace" },
	[10] = { "JIT_E_LOCKED",
	    "the credential is locked: run 'jitctl unlock NAME' first" },
	[11] = { "JIT_E_NOENT", "no such credential or token" },
	[12] = { "JIT_E_EXISTS", "it already exists" },
	[13] = { "JIT_E_IO", "an input/output error occurred" },
	[14] = { "JIT_E_CRYPTO", "a cryptographic operation failed" },
	[15] = { "JIT_E_AUTH",
	    "authentication failed: the data was altered or the key is wrong" },
	[16] = { "JIT_E_HW", "the token reported an error" },
	[17] = { "JIT_E_ARG", "invalid argument" },
	[18] = { "JIT_E_PEER", "this client is not allowed" },
	[19] = { "JIT_E_TIMEOUT", "the operation timed out" },
	[20] = { "JIT_E_CANCELLED", "the operation was cancelled" },
	[21] = { "JIT_E_UNSUPPORTED", "not supported by this build or token" },
	[22] = { "JIT_E_MLOCK",
	    "memory cannot be locked: raise RLIMIT_MEMLOCK (ulimit -l)" },
	[23] = { "JIT_E_AGENT_LOCKED",
	    "the agent is locked: unlock it with 'ssh-add -X'" },
	[24] = { "JIT_E_NOTOKEN",
	    "no token is enrolled: run 'jitctl enroll' first" },
	[25] = { "JIT_E_WRONG_TOKEN",
	    "the token present is not an enrolled one: plug in an enrolled token" },
	[26] = { "JIT_E_BUSY", "busy: try again" },
	[27] = { "JIT_E_CONFIG", "configuration error" },
	[28] = { "JIT_E_ISSUER", "the issuer command failed" },
	[29] = { "JIT_E_AGENT",
	    "cannot reach jit-agent: start it with 'eval \"$(jit-agent)\"' or set JIT_AGENT_SOCK" },
	[30] = { "JIT_E_SIMULATED",
	    "a simulated token needs --allow-simulated (never use one for real secrets)" },
	[31] = { "JIT_E_PIN_REQUIRED",
	    "a PIN is required: pass --pin-fd or answer the prompt" },
	[32] = { "JIT_E_INTERNAL", "internal error" },
	[33] = { "JIT_E_UNVERIFIED",
	    "the enrolled tokens have not been verified with one of them since the agent started: run 'jitctl tokens --verify' (one touch or PIN)" },
};

_Static_assert(sizeof(errs) / sizeof(errs[0]) == -JIT_E_LAST,
    "every error code has a sentence");

const char *
jit_strerror(int r)
{
	if (r > 0 || r <= JIT_E_LAST)
		return "unknown error";
	return errs[-r].text;
}

const char *
jit_errname(int r)
{
	if (r > 0 || r <= JIT_E_LAST)
		return "JIT_E_UNKNOWN";
	return errs[-r].name;
}
