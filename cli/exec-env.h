/* The child's environment for jitctl exec: each kind as its tools want it. */
#ifndef JITCTL_EXEC_ENV_H
#define JITCTL_EXEC_ENV_H

#include <stddef.h>

#include <json-c/json.h>

struct secret;

#define EXEC_CREDS_MAX 16

struct exec_cred {
	const char *name;
	struct json_object *cred; /* its status entry; NULL if unknown */
	struct secret *fields;
};

struct exec_env;

/*
 * The environment for creds: jitctl's own plus, per credential, by kind:
 * aws: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
 * AWS_CREDENTIAL_EXPIRATION; kube: KUBECONFIG, a temporary file (0600, no
 * secret in it: its user runs `jitctl kube-credential NAME`); ssh-cert:
 * SSH_AUTH_SOCK, a private socket serving only those certificates;
 * secret: JIT_SECRET; any other: one variable per field.  Two credentials
 * setting one variable are refused.  A refusal has been reported (*ret is
 * NULL and JIT_E_ARG comes back); other errors have not.
 */
int exec_env_new(
    const struct exec_cred *creds, size_t n, struct exec_env **ret);
/* The NULL-terminated environment, in guarded memory. */
char **exec_env_vec(struct exec_env *e);
/* The strings are in the child now: wipe them, keep the temporary files
 * and the socket for the child's life. */
void exec_env_wipe(struct exec_env *e);
/* Remove the kubeconfig, stop the private ssh agent; NULL ok. */
void exec_env_free(struct exec_env *e);

#endif
