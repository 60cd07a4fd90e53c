/* The agent's configuration file: [agent] settings and [profile NAME] issuers. */
#ifndef JIT_CONF_H
#define JIT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/*
 * Named "conf" because the build's generated config.h (JIT_VERSION) owns
 * the other name.  Everything here is bounded: a file over CONF_FILE_MAX,
 * a line over CONF_LINE_MAX, too many profiles, words or fields is a
 * configuration error naming the file and the line.
 */
#define CONF_FILE_MAX (64 * 1024)
#define CONF_LINE_MAX 196 /* inih's 200-byte line, less \r\n\0 */
#define CONF_PROFILES_MAX 64
#define CONF_ARGV_MAX 32 /* words of one command */
#define CONF_VALUE_MAX 1024 /* one value, continuations joined */
#define CONF_EXES_MAX 16 /* allowed_executables */
#define CONF_REVOKE_FIELDS_MAX 8
#define CONF_PREFER_MAX 16 /* prefer: token labels (STORE_TOKENS_MAX) */
#define CONF_PUBLIC_VALUE_MAX 256 /* a revoke field's value */
#define CONF_TIMEOUT_DEFAULT_S 30
#define CONF_TIMEOUT_MAX_S 600
#define CONF_TTL_DEFAULT_S 3600
#define PROFILE_NAME_MAX POLICY_NAME_MAX
#define CONF_APPROVALS_MAX 16 /* approvals = N */

/* A command as words: never run through a shell. */
struct conf_argv {
	char **v; /* NULL-terminated; NULL if unset */
	size_t n;
};

enum conf_output {
	CONF_OUTPUT_JSON = 0, /* a JSON object, mapped to fields */
	CONF_OUTPUT_RAW, /* stdout is the one value */
};

/* field.NAME = PATH: the credential's field NAME is the output's PATH. */
struct conf_map {
	char *field;
	char *path; /* dotted, as sjson flattens */
};

struct conf_profile {
	char *name;
	char *kind;
	struct conf_argv issuer;
	struct conf_argv revoke;
	enum conf_output output;
	struct conf_map *map;
	size_t nmap;
	int64_t default_ttl_s;
	int64_t max_ttl_s;
	int64_t timeout_s;
	enum stepup stepup;
	bool unlock_on_use; /* what it issues is marked so (jitctl add -U) */
	bool revoke_on_lock;
	char **revoke_fields;
	size_t nrevoke_fields;
	char **allowed_exes;
	size_t nallowed_exes;
	char *approvers; /* an allowed_signers file; NULL: none needed */
	int approvals; /* approvals needed before the issuer runs */
	int64_t approval_window_s; /* how long a request waits; 0: 1h */
	int line; /* its [profile] header */
};

/* event_log = where every audited event also goes (agent/logsink.c). */
enum conf_event_log {
	CONF_EVENT_LOG_NONE = 0,
	CONF_EVENT_LOG_SYSLOG, /* RFC 5424 with structured data */
	CONF_EVENT_LOG_JOURNAL, /* journald's structured fields */
};
#define CONF_HOOK_TIMEOUT_DEFAULT_S 10

/* What a lock does to the keys added with ssh-add. */
enum conf_ssh_keys {
	CONF_SSH_KEYS_REMOVE = 0, /* they are removed (the default) */
	CONF_SSH_KEYS_HOLD, /* kept, unusable until an unlock or re-add */
};

struct conf {
	char *path;
	bool found; /* the file existed */
	int64_t default_window_s; /* 0: not set */
	int64_t touch_timeout_s; /* 0: not set */
	struct conf_argv notify;
	char *askpass;
	bool ssh_rsa_sha1; /* ssh-rsa (SHA-1) signatures for old servers */
	char **prefer; /* token labels to try first, in this order */
	size_t nprefer;
	bool lock_on_removal; /* default yes */
	int64_t idle_lock_s; /* 0: off */
	enum conf_ssh_keys ssh_keys_on_lock;
	char *attestation_roots; /* [enroll]: PEM file, or NULL */
	bool require_attestation;
	struct conf_profile *profiles;
	size_t nprofiles;
	char *metrics_file; /* [agent] metrics_file: NULL, none */
	enum conf_event_log event_log;
	char *syslog_socket; /* NULL: /dev/log */
	struct conf_argv hook_event; /* [hooks] event: every event */
	struct conf_argv hook_announce; /* [hooks] announce: new requests */
	int64_t hook_timeout_s;
};

/* The path: given, else $XDG_CONFIG_HOME/jit-agent/config, else
 * ~/.config/jit-agent/config.  The result is malloc'd. */
int conf_default_path(const char *given, char **ret);
/*
 * Read and check a configuration file.  An absent file is an empty
 * configuration unless must_exist (a path given with -c).  On error, err
 * holds "FILE:LINE: what is wrong" and nothing is returned.
 */
int conf_load(const char *path, bool must_exist, struct conf **ret, char *err,
    size_t errlen);
void conf_free(struct conf *c);
const struct conf_profile *conf_profile(const struct conf *c, const char *name);
/* Is kind one of secret, env, ssh-cert, aws, kube, docker, git? */
bool conf_kind_valid(const char *kind);

/*
 * Split a value into words with the rules of jit-agent.conf(5): blanks
 * separate words; '...' is literal; "..." is literal but for \" and \\;
 * outside quotes a backslash takes the next character literally.  Nothing
 * is expanded.  Words are appended to a (at most max in all).
 */
int conf_split_argv(
    const char *s, struct conf_argv *a, size_t max, char *why, size_t whylen);
void conf_argv_free(struct conf_argv *a);
/* A deep copy (for work that outlives a reload). */
int conf_argv_dup(const struct conf_argv *a, struct conf_argv *ret);

#endif
