/* The agent's state, shared by everything the loop runs, and its one lock. */
#ifndef JIT_AGENT_H
#define JIT_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <uv.h>

#include "conn.h"
#include "proto.h"

struct store;
struct vault;
struct audit_log;
struct hwq;
struct ssh_agent;
struct conf;
struct revoker;
struct cred;
struct secret;
struct triggers;
struct idle_trigger;
struct bus_trigger;
struct removal_trigger;
struct pcsc_trigger;
struct shell_watch;

struct agent {
	uv_loop_t *loop;
	char *sock_path;
	char *sock_dir; /* we made it: remove on exit */
	char *data_dir;
	uid_t uid;
	uv_pipe_t listener;
	bool listener_up; /* initialised */
	bool sock_bound; /* we made the socket file */
	bool listener_paused;
	bool activated; /* activation.c: systemd passed the listener */
	int activated_fd;
	size_t nconns;
	size_t max_conns;
	struct conn *conns;
	uv_signal_t sig_term, sig_int, sig_usr1, sig_hup;
	struct store *store;
	struct vault *vault;
	struct audit_log *audit;
	struct hwq *hwq;
	int64_t window_default_s;
	int touch_timeout_ms;
	bool exiting;
	struct ssh_agent *ssh; /* ssh-agent.c: ssh-add keys */
	bool locked; /* ssh-add -x: see ssh-agent.c */
	struct conf *conf; /* conf.c: the config file */
	struct revoker *revoker; /* revoke.c: upstream revokes */
	uv_timer_t seal_timer; /* events.c: the audit log's seals */
	bool seal_timer_up;
	bool seal_failing;
	/* Set by main.c from ssh-agent's options: */
	int64_t ssh_default_life_s; /* -t: ssh-add keys without -t; 0: none */
	bool fp_md5; /* -E md5: fingerprints in logs */
	char *providers; /* -P: PKCS#11 providers ssh-add -s may load */
	bool pkcs11_remote_ok; /* -O allow-remote-pkcs11 */
	bool websafe_unrestricted; /* -O no-restrict-websafe */
	/* Another agent holds the data directory: this one serves ssh-add
	 * keys only, from a private store of its own (data_dir_fresh). */
	pid_t holder_pid;
	char *holder_sock;
	bool data_dir_fresh;
	/* Set by main.c, so that lower layers never call up: */
	int (*dispatch)(struct agent *ag, struct request *rq); /* server.c */
	void (*conn_state_free)(void *state); /* a closed conn's SSH state */
	/* A credential was unlocked with these fields (ssh-cred.c lists an
	 * SSH certificate while it is unlocked); NULL: nobody listens. */
	void (*unlocked)(
	    struct agent *ag, struct cred *c, const struct secret *fields);
	/* A lock: what becomes of the keys added with ssh-add (ssh-agent.c,
	 * by [agent] ssh_keys_on_lock); how many were removed or held.
	 * NULL: there are none. */
	size_t (*lock_ssh_keys)(struct agent *ag, const char *trigger);
	struct triggers *triggers; /* triggers.c: the armed kill switches */
	/* Each trigger's own state (its file's), NULL when it is off. */
	struct idle_trigger *idle; /* triggers-idle.c */
	struct bus_trigger *bus; /* triggers-logind.c */
	struct removal_trigger *removal; /* triggers-removal.c */
	struct pcsc_trigger *pcsc; /* triggers-pcsc.c (PIV) */
	struct shell_watch *shells; /* shell.c: jitctl shell grants */
};

/* server.c */
int server_start(struct agent *ag);
void server_stop(struct agent *ag);

/*
 * lock.c: the one way everything unlocked is wiped, whatever the trigger
 * (jitctl lock, SIGUSR1, SIGTERM, ssh-add -x, a token removed, sleep, the
 * screen locked, idle, a shell's exit).  Touches and PINs awaited are
 * aborted; keys added with ssh-add are removed or held (lock_ssh_keys).  With revoke_why
 * (the revoke command's JIT_REVOKE_WHY: "lock", "SIGUSR1"), the
 * credentials whose profile says revoke_on_lock are revoked upstream too
 * (their names appended to revoked, if not NULL); NULL revokes nothing.
 * The names wiped are appended to locked (if not NULL).  Audited as one
 * "lock" line naming the trigger.  Returns how many were wiped.
 */
size_t agent_lock(struct agent *ag, const char *trigger, const char *revoke_why,
    const struct peer *p, struct json_object *locked,
    struct json_object *revoked);
/* lock.c: a jitctl shell ended: what was bound to it (pid, start) alone is
 * wiped, audited as one "lock" line naming the trigger. */
size_t agent_lock_shell(
    struct agent *ag, const char *trigger, pid_t pid, uint64_t start);

#endif
