/* What jitctl's files share: the verbs, global options and small helpers. */
#ifndef JITCTL_H
#define JITCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include <json-c/json.h>

#include "client.h"
#include "exit.h"

struct secret;

/* Global options (jitctl.c); NULL when not given. */
extern const char *jitctl_socket_opt;
extern const char *jitctl_data_dir_opt;
/* RLIMIT_CORE as jitctl found it, for the child of `jitctl exec`. */
extern struct rlimit jitctl_core_limit;

/* One function per verb, wireguard-tools style; each returns an exit code. */
int enroll_main(int argc, char **argv);
int unenroll_main(int argc, char **argv);
int tokens_main(int argc, char **argv);
int add_main(int argc, char **argv);
int unlock_main(int argc, char **argv);
int shell_main(int argc, char **argv);
int complete_main(int argc, char **argv);
/* jitctl.c: every verb's name, one a line (for `jitctl complete`). */
void jitctl_print_verbs(void);
/* cmd-unlock.c: the labels of the tokens the named credentials (in the
 * status reply's creds) are wrapped to, appended to labels. */
/* cmd-unlock.c: the agent checks an unlock's names, their expiry and its
 * own lock, and says which token it would ask, without asking it. */
int unlock_precheck(struct json_object *args, struct client_reply *rep);
int unlock_labels_for(
    struct json_object *creds, int n, char **names, struct json_object *labels);
/* cmd-unlock.c: "NAME was not unlocked: WHY" (for cli_report_failed). */
void unlock_say_failed(const char *name, const char *why);
int get_main(int argc, char **argv);
int exec_main(int argc, char **argv);
int status_main(int argc, char **argv);
int lock_main(int argc, char **argv);
int revoke_main(int argc, char **argv);
int audit_main(int argc, char **argv);
int request_main(int argc, char **argv);
int approve_main(int argc, char **argv);
int events_main(int argc, char **argv);
int aws_main(int argc, char **argv);
int kube_main(int argc, char **argv);
int git_main(int argc, char **argv);
int docker_main(int argc, char **argv);
int rewrap_main(int argc, char **argv);
int seal_main(int argc, char **argv);
int import_main(int argc, char **argv);
int recipient_main(int argc, char **argv);

/* common.c: messages.  Each goes to stderr as "jitctl: VERB: ...". */
void cli_set_verb(const char *verb);
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line for the person (no prefix), ending the open notice if any. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A notice left open so the outcome can finish the line. */
void cli_notice_open(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void cli_close_line(void);
/* A usage error: message, hint to --help; returns JITCTL_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * getopt_long, after lib/optcheck.c has read the whole argv once: a long
 * option that is not declared exactly (an abbreviation) or one that looks
 * like a PIN or secret has been reported, and CLI_OPT_REFUSED comes back.
 */
#define CLI_OPT_REFUSED (-2)
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts);
/* The message for cli_getopt's '?', ':' or CLI_OPT_REFUSED; returns
 * JITCTL_EXIT_USAGE. */
int cli_getopt_error(int c, char **argv);
/* Print r's sentence (with detail when given); returns the exit code. */
int cli_fail_code(int r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print the reply's sentence (or r's); returns the exit code. */
int cli_fail(int r, const struct client_reply *rep);
/* Where a temporary file of jitctl's goes: $XDG_RUNTIME_DIR, else
 * $TMPDIR, else /tmp. */
const char *cli_tmp_dir(void);
/* A reason (unlock --reason): one line, no control byte, at most this. */
#define CLI_REASON_MAX 512
bool cli_reason_ok(const char *s);
/* Copy s for display: control bytes become '?', always terminated. */
void cli_sanitize(const char *s, char *out, size_t outlen);

/* opt ("--pin-fd") N: a descriptor that is open and no terminal (there the
 * PIN would echo); else says so, never repeating arg, and returns
 * JITCTL_EXIT_USAGE. */
int cli_pin_fd(const char *opt, const char *arg, int *ret);
/* Print a verb's help text to stdout; returns JITCTL_EXIT_OK. */
int cli_help(const char *text);
/* Format a duration in seconds, "10m00s". */
void cli_duration(int64_t s, char *out, size_t outlen);
/* Format unix seconds as local time in ISO 8601 with its offset,
 * "2024-05-01T10:00:00+02:00" (lib/isotime.h). */
void cli_time(int64_t t, char *out, size_t outlen);

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
bool cli_env_name_ok(const uint8_t *s, size_t n);
/* A file's text, or stdin's for "-": at most max bytes, NUL-terminated
 * (not for secrets: they go through prompt.c). */
int cli_read_text(const char *path, size_t max, char **ret, size_t *ret_len);
/* Write all of p to fd (stdout: straight from guarded memory). */
int cli_write_all(int fd, const void *p, size_t n);

/* common.c: the agent. */
int cli_socket_path(char **ret);
/*
 * The one connection of this process, made once: the server checked
 * (client_connect), one "hello" round trip (the agent has resolved our
 * executable by then), then cli_seal().  A verb calls it before it reads a
 * PIN or secret; cli_request() calls it too.  On failure rep says why.
 */
int cli_connect(struct client_reply *rep);
/* PR_SET_DUMPABLE 0: before any secret is read; prompt.c refuses before. */
int cli_seal(void);
/* Close the connection (before `jitctl exec` runs its command). */
void cli_disconnect(void);
/* One request and its reply on the connection (see client.h). */
int cli_request(const char *verb, struct json_object *args,
    const struct secret *sec, struct client_reply *rep);

/* The next reply to the last request (a subscription's). */
int cli_next(const char *verb, struct client_reply *rep);

/* failed.c: say(name, why) for each entry of an answer's failed[] list
 * (each caller keeps its own one-literal message); the exit code of the
 * first failure, JITCTL_EXIT_OK when there is none. */
typedef void (*cli_failed_say_fn)(const char *name, const char *why);
int cli_report_failed(struct json_object *failed, cli_failed_say_fn say);

/* common.c: reading results (NULL / default when absent or mistyped). */
const char *cli_jstr(struct json_object *o, const char *key);
int64_t cli_jint(struct json_object *o, const char *key, int64_t dflt);
bool cli_jbool(struct json_object *o, const char *key);
struct json_object *cli_jarray(struct json_object *o, const char *key);
/* The object of array arr whose string member key equals val. */
struct json_object *cli_jfind(
    struct json_object *arr, const char *key, const char *val);
/* Join the strings of arr with sep into out (sanitized, truncated). */
void cli_jjoin(
    struct json_object *arr, const char *sep, char *out, size_t outlen);
/* The JSON text of o for people (pretty) on stdout. */
int cli_print_json(struct json_object *o);
/* Append a string to a JSON array (names from argv, never secrets). */
int cli_jappend(struct json_object *arr, const char *s);

/* common.c: a text table with columns sized to their widest cell. */
struct table;
int table_new(size_t ncols, struct table **ret);
/* Cells are copied and sanitized; NULL shows as "-". */
int table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* cmd-status.c: the agent's status with every page of credentials. */
int status_fetch(struct client_reply *rep);
/* suggest.c: the candidate nearest to word (a typo: at most a third of it
 * changed), or NULL. */
const char *cli_nearest(
    const char *word, const char *const *cands, size_t ncands);
/* The name of the credential nearest to name in a status result, or NULL. */
const char *cli_nearest_cred(struct json_object *status, const char *name);
int inject_main(int argc, char **argv);
/* cmd-add.c: what add and seal share.  The secret from stdin or the
 * terminal (a failure has been reported), then as fields. */
bool add_kind_ok(const char *s);
bool add_stepup_ok(const char *s);
int add_read_input(const char *name, bool json, struct secret **ret);
int add_to_fields(const struct secret *in, bool json, struct secret **ret);
/* cmd-recipient.c: tokens --export [LABEL] and --verbose. */
int tokens_export(struct json_object *tokens, const char *label);
int tokens_print_verbose(struct json_object *tokens, FILE *f);

/* cmd-tokens.c: the tokens of a tokens/status result as a table. */
int tokens_print_table(struct json_object *tokens, FILE *f);
/* cmd-get.c: a credential's fields for get or exec, after any step-up the
 * credential asks for; *ret_cred is its status entry (NULL if unknown).
 * Returns an exit code; a failure has been reported. */
int get_fields(const char *name, const char *field, const char *purpose,
    const char *command, int pin_fd, struct json_object **ret_cred,
    struct secret **ret_fields);

/* helper.c: what the credential helpers (aws, kube, git, docker) share. */
struct field;
struct wire_writer;
#define HELPER_OUT_MAX (256 * 1024) /* what a helper prints */
#define HELPER_IN_MAX (64 * 1024) /* what a tool sends it */
/* NAME's fields, used by TOOL; a failure (locked: "run 'jitctl unlock
 * NAME'") has been reported and its exit code is returned. */
int helper_fields(const char *name, const char *tool,
    struct json_object **ret_cred, struct secret **ret_fields);
/* The first of the NULL-terminated names that fields has. */
bool helper_field(
    const struct secret *fields, const char *const *names, struct field *ret);
/* JSON into a secure writer: literal text, and ,"key":"value". */
int helper_lit(struct wire_writer *w, const char *s);
int helper_member(struct wire_writer *w, bool comma, const char *key,
    const void *val, size_t len);
/* Write it all to stdout straight from guarded memory, then wipe it. */
int helper_flush(struct wire_writer *w);
/* End a JSON answer: ,"key":"<not_after as RFC 3339 UTC>" if known, the
 * closing text, then helper_flush(). */
int helper_finish(struct wire_writer *w, const char *key, int64_t not_after,
    const char *closing);
/* The tool's request on stdin, into guarded memory. */
int helper_read_stdin(size_t max, struct secret **ret);
/* When what a helper hands out stops being valid: the earlier of the
 * credential's window end and its not_after (0: unknown). */
int64_t helper_not_after(struct json_object *cred);

/* stepup.c: requests that need a token's touch or PIN. */
struct stepup_opts {
	int pin_fd; /* --pin-fd N, or -1 */
	const char *token; /* --token LABEL, or NULL */
	bool need_pin; /* step-up "pin": PIN for every token */
	const char *purpose; /* ends the touch notice: "to approve ..." */
	/* enroll: the payload is fields "auth_pin" (the PIN read here) and
	 * "pin" (this, the new token's, if not NULL) */
	bool pin_fields;
	const struct secret *new_pin;
};
/*
 * Send verb with args after preparing the person: from the tokens that
 * can answer (labels, a JSON array, or every token of tokens when NULL or
 * empty), read the PIN from --pin-fd or ask for it when no touch-only token
 * can answer, say "Touch your security key (...)" when a touch token can,
 * and ask again after a wrong PIN typed at the terminal.
 */
int stepup_request(const char *verb, struct json_object *args,
    struct json_object *tokens, struct json_object *labels,
    const struct stepup_opts *o, struct client_reply *rep);
/* The enrolled tokens (the agent's "tokens" reply, in *ret_rep). */
int stepup_tokens(struct client_reply *ret_rep);
/* One token of the set vouches for it (a touch or PIN): `tokens --verify`,
 * and add or request when the agent asks for it.  Reports a failure;
 * returns an exit code. */
int stepup_verify_tokens(const struct stepup_opts *o);

/* cmd-rewrap.c: wrap credentials (names, or every one) to the enrolled
 * tokens (or to the one labelled to), with one touch or PIN of a token
 * they are wrapped to; enroll offers it.  Returns an exit code. */
int rewrap_run(
    const char *to, const struct stepup_opts *o, char **names, int n);

#endif
