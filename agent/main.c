/* jit-agent: start-up hardening, options, the socket's place, the loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sodium.h>

#include "activation.h"
#include "agent.h"
#include "audit.h"
#include "conf.h"
#include "dispatch.h"
#include "config.h"
#include "duration.h"
#include "err.h"
#include "eventbus.h"
#include "events.h"
#include "hooks.h"
#include "logsink.h"
#include "metrics.h"
#include "fsutil.h"
#include "hwq.h"
#include "keycache.h"
#include "launch.h"
#include "log.h"
#include "optcheck.h"
#include "revoke.h"
#include "ssh-agent.h"
#include "store.h"
#include "storeread.h"
#include "triggers-all.h"
#include "triggers-pcsc.h"
#include "triggers-removal.h"
#include "triggers.h"
#include "vault.h"

#define SOCK_LEAF "jit-agent/agent.sock"
#define SECURE_HEAP_SIZE (256 * 1024)
/* ssh-agent's letters with its meanings; '+': a command's own options are
 * its own. */
#define AGENT_SHORTOPTS "+a:cDdE:hkO:P:st:"
#define PROVIDERS_DEFAULT "/usr/lib*/*,/usr/local/lib*/*"

enum {
	OPT_DATA_DIR = 256,
	OPT_CONFIG,
	OPT_WINDOW,
	OPT_TOUCH_TIMEOUT,
	OPT_ENSURE,
	OPT_USER_SOCKET,
	OPT_VERSION,
};

/* The configuration file, kept for SIGHUP; what the command line set wins. */
static const char *conf_opt;
static char *conf_path;
static bool window_opt, touch_opt;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: jit-agent [-c | -s] [-Dd] [-a bind_address] [-E fingerprint_hash]\n"
	    "                 [-O option] [-P allowed_providers] [-t life] [--ensure]\n"
	    "                 [--data-dir DIR] [--config FILE] [--window DURATION]\n"
	    "                 [--touch-timeout SECONDS] [--user-socket]\n"
	    "       jit-agent [-a bind_address] [-E fingerprint_hash] [-O option]\n"
	    "                 [-P allowed_providers] [-t life] command [arg ...]\n"
	    "       jit-agent [-c | -s] -k\n"
	    "\n"
	    "  -a SOCKET      listen here (default: a new private directory in\n"
	    "                 $TMPDIR or /tmp, as ssh-agent)\n"
	    "  -c, -s         csh or sh lines on stdout (default: from $SHELL)\n"
	    "  -D             stay in the foreground, log to stderr\n"
	    "  -d             like -D, with debug logging\n"
	    "  -E HASH        fingerprints in logs: sha256 (default) or md5\n"
	    "  -k             kill the agent named by $SSH_AGENT_PID\n"
	    "  -O OPTION      ssh-agent's options (see jit-agent(1))\n"
	    "  -P PATTERNS    PKCS#11 providers ssh-add -s may load (default\n"
	    "                 " PROVIDERS_DEFAULT ")\n"
	    "  -t LIFE        default lifetime of keys added with ssh-add\n"
	    "  command [arg ...]  run it with the agent; the agent ends with it\n"
	    "  --ensure       reuse the agent that holds the data directory\n"
	    "  --user-socket  listen on $XDG_RUNTIME_DIR/" SOCK_LEAF "\n"
	    "  --data-dir DIR the store (default $XDG_DATA_HOME/jit-agent)\n"
	    "  --config FILE  the configuration (default\n"
	    "                 $XDG_CONFIG_HOME/jit-agent/config)\n"
	    "  --window DURATION        default unlock window (default 15m)\n"
	    "  --touch-timeout SECONDS  how long to wait for a touch (30)\n"
	    "  -h, --help, --version\n");
}

/* Before anything else: no core, no ptrace by peers of our uid. */
static int
harden(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return JIT_E_INTERNAL;
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* A file size limit makes an audit write fail (EFBIG), and the
	 * request with it, rather than kill the agent. */
	signal(SIGXFSZ, SIG_IGN);
	return JIT_OK;
}

/*
 * Where to listen; why gets a sentence if nowhere.  -a: there, its directory
 * checked as jitctl will check it (ours or root's, writable by no one else),
 * so that the agent never serves where no client talks.  --user-socket: the
 * per-user default in $XDG_RUNTIME_DIR that jitctl and the systemd unit use.
 * Neither: a fresh private directory, as ssh-agent makes one.
 */
static int
socket_path(struct agent *ag, const char *given, bool user_socket, char *why,
    size_t whylen)
{
	const char *rt;
	char *dir = NULL, *slash;
	int r;

	if (given != NULL) {
		if ((ag->sock_path = strdup(given)) == NULL ||
		    (dir = strdup(given)) == NULL)
			return JIT_E_NOMEM;
		if ((slash = strrchr(dir, '/')) == NULL)
			snprintf(dir, strlen(dir) + 1, ".");
		else
			slash[slash == dir ? 1 : 0] = '\0';
		r = fs_dir_check(dir, "the socket directory",
		    FS_DIR_ROOT_OK | FS_DIR_ADVISE_ANOTHER, why, whylen);
		free(dir);
		return r;
	}
	if (!user_socket)
		return launch_fresh_socket(
		    &ag->sock_dir, &ag->sock_path, why, whylen);
	if ((rt = getenv("XDG_RUNTIME_DIR")) == NULL || rt[0] != '/') {
		snprintf(why, whylen,
		    "--user-socket needs XDG_RUNTIME_DIR (the session's runtime directory): set it, or pass -a SOCKET");
		return JIT_E_ARG;
	}
	if (asprintf(&ag->sock_dir, "%s/jit-agent", rt) < 0)
		return JIT_E_NOMEM;
	if ((r = fs_private_dir(
		 ag->sock_dir, "the socket directory", why, whylen)) != 0)
		return r;
	if (asprintf(&ag->sock_path, "%s/agent.sock", ag->sock_dir) < 0)
		return JIT_E_NOMEM;
	return JIT_OK;
}

/* [agent] settings, where the command line did not set them. */
static void
apply_conf(struct agent *ag)
{
	if (!window_opt)
		ag->window_default_s = ag->conf->default_window_s > 0 ?
		    ag->conf->default_window_s :
		    AGENT_WINDOW_DEFAULT_S;
	if (!touch_opt)
		ag->touch_timeout_ms = ag->conf->touch_timeout_s > 0 ?
		    (int)ag->conf->touch_timeout_s * 1000 :
		    AGENT_TOUCH_TIMEOUT_MS;
}

/* SIGHUP: a new configuration, or the old one if the new one is wrong.
 * Running issuers and revokes keep the copies they started with. */
static void
reload_conf(struct agent *ag)
{
	struct json_object *ev;
	struct conf *cf;
	char err[512];

	if (conf_load(conf_path, conf_opt != NULL, &cf, err, sizeof(err)) !=
	    0) {
		log_error("SIGHUP: %s; keeping the configuration in use", err);
		return;
	}
	if ((cf->askpass == NULL) != (ag->conf->askpass == NULL) ||
	    (cf->askpass != NULL &&
		strcmp(cf->askpass, ag->conf->askpass) != 0))
		log_warn("SIGHUP: a new askpass takes effect at restart");
	conf_free(ag->conf);
	ag->conf = cf;
	apply_conf(ag);
	revoke_rearm(ag);
	metrics_start(ag);
	triggers_reload(ag);
	if ((ev = event_new("config")) != NULL) {
		event_str(ev, "path", cf->path);
		event_int(ev, "profiles", (int64_t)cf->nprofiles);
	}
	event_emit(ag, ev);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct agent *ag = h->data;

	switch (signum) {
	case SIGUSR1:
		(void)agent_lock(ag, "SIGUSR1", "SIGUSR1", NULL, NULL, NULL);
		break;
	case SIGHUP:
		reload_conf(ag);
		log_info(
		    "SIGHUP: the store itself is read at start only; restart the agent to pick up files changed behind its back");
		break;
	default:
		ag->exiting = true;
		(void)agent_lock(ag, signum == SIGTERM ? "SIGTERM" : "SIGINT",
		    NULL, NULL, NULL, NULL);
		triggers_stop(ag);
		events_seal_stop(ag);
		metrics_stop(ag);
		storeread_stop(ag);
		logsink_close();
		server_stop(ag);
		/* Keys from ssh-add live only while the socket serves. */
		ssh_agent_free(ag);
		uv_close((uv_handle_t *)&ag->sig_term, NULL);
		uv_close((uv_handle_t *)&ag->sig_int, NULL);
		uv_close((uv_handle_t *)&ag->sig_usr1, NULL);
		uv_close((uv_handle_t *)&ag->sig_hup, NULL);
		uv_stop(ag->loop);
		break;
	}
}

/* What the start cost in CPU, less sensitive to a loaded machine than the
 * wall time (contrib/bench.sh reads it). */
static void
log_ready_cost(struct agent *ag)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return;
	log_info(
	    "ready: %zu credential files named, %zu to read; cpu user %ld.%03ld s, sys %ld.%03ld s",
	    store_nknown(ag->store), store_nunread(ag->store),
	    (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec / 1000,
	    (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec / 1000);
}

/* A token opened c: a token enrolled since the start is watched from now
 * on (its removal locks), and ssh-agent.c is told. */
static void
on_unlocked(struct agent *ag, struct cred *c, const struct secret *fields)
{
	removal_trigger_rescan(ag);
	pcsc_trigger_rescan(ag);
	ssh_on_unlocked(ag, c, fields);
}

static void
signals_start(struct agent *ag)
{
	uv_signal_t *hs[] = { &ag->sig_term, &ag->sig_int, &ag->sig_usr1,
		&ag->sig_hup };
	int nums[] = { SIGTERM, SIGINT, SIGUSR1, SIGHUP };
	size_t i;

	for (i = 0; i < 4; i++) {
		uv_signal_init(ag->loop, hs[i]);
		hs[i]->data = ag;
		uv_signal_start(hs[i], on_signal, nums[i]);
	}
}

static void
stdio_to_null(void)
{
	int fd;

	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* -O: ssh-agent's options. */
static int
agent_option(struct agent *ag, const char *o, char *why, size_t whylen)
{
	if (strcmp(o, "allow-remote-pkcs11") == 0)
		ag->pkcs11_remote_ok = true;
	else if (strcmp(o, "no-restrict-websafe") == 0)
		ag->websafe_unrestricted = true;
	else {
		snprintf(why, whylen,
		    "unknown option %s (allow-remote-pkcs11, no-restrict-websafe)",
		    o);
		return JIT_E_ARG;
	}
	return JIT_OK;
}

/* A second agent on a store in use: the store's holder, in a sentence. */
static void
holder_sentence(
    const char *dir, pid_t pid, const char *sock, char *out, size_t outlen)
{
	snprintf(out, outlen,
	    "another jit-agent uses the data directory %s (pid %ld, socket %s): use that one (eval \"$(jit-agent --ensure)\" prints its variables), or stop it first",
	    dir, (long)pid, sock);
}

/*
 * The store is held by another agent and this one was started the ssh-agent
 * way (no --data-dir): it serves ssh-add keys only, from a private store and
 * audit log of its own that go with it, and points jitctl at the holder.
 */
static int
keys_only(
    struct agent *ag, const char *note, int *lock_fd, char *why, size_t whylen)
{
	char *dir = NULL, *sock = NULL;
	int r;

	if (!launch_holder(ag->data_dir, &ag->holder_pid, &ag->holder_sock))
		return JIT_E_BUSY;
	if ((r = launch_fresh_socket(&dir, &sock, why, whylen)) != 0)
		return r;
	free(sock);
	fprintf(stderr,
	    "jit-agent: the data directory %s is in use by another jit-agent (pid %ld, socket %s): this agent serves ssh-add keys only, and jitctl is pointed at that one ('jit-agent --ensure' reuses it instead)\n",
	    ag->data_dir, (long)ag->holder_pid, ag->holder_sock);
	free(ag->data_dir);
	ag->data_dir = dir;
	ag->data_dir_fresh = true;
	return store_lock(
	    ag->data_dir, "pid 0, socket -\n", lock_fd, why, whylen);
}

static bool
token_enrolled(const char *token_id, void *arg)
{
	return store_token_by_id(arg, token_id) != NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "touch-timeout", required_argument, NULL, OPT_TOUCH_TIMEOUT },
		{ "ensure", no_argument, NULL, OPT_ENSURE },
		{ "user-socket", no_argument, NULL, OPT_USER_SOCKET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	/* Static: one agent per process, and off main's stack. */
	static struct agent ag;
	struct launch l = { .pids = true };
	struct launch_ready ready;
	const char *sock = NULL, *datadir = NULL, *providers = NULL;
	char msg[1024], *path = NULL, err[512], why[FS_WHY_MAX];
	char *hsock = NULL;
	bool c_flag = false, s_flag = false, k_flag = false, ensure = false;
	bool user_socket = false;
	int ch, r, foreground = 0, debug = 0, parent_fd = -1, status = 1;
	int store_lock_fd = -1;
	int64_t v;
	pid_t hpid;

	/* Start-up order of STYLE.md: sodium, no core, not dumpable. */
	if (sodium_init() < 0 || harden() != 0) {
		fprintf(stderr, "jit-agent: cannot initialise\n");
		return 1;
	}
	/* tpm2-tss logs every refused command (each wrong PIN) to stderr
	 * unless told otherwise, and only the environment tells it. */
	setenv("TSS2_LOG", "all+none", 0);
	memset(&ag, 0, sizeof(ag));
	ag.dispatch = dispatch;
	ag.conn_state_free = ssh_conn_free;
	ag.unlocked = on_unlocked;
	ag.lock_ssh_keys = ssh_keys_on_lock;
	ag.window_default_s = AGENT_WINDOW_DEFAULT_S;
	ag.touch_timeout_ms = AGENT_TOUCH_TIMEOUT_MS;
	/* No abbreviations (--touch for --touch-timeout), no secrets. */
	if (optcheck(argc, argv, AGENT_SHORTOPTS, longopts, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "jit-agent: %s\n", err);
		return 2;
	}
	while ((ch = getopt_long(
		    argc, argv, AGENT_SHORTOPTS, longopts, NULL)) != -1) {
		switch (ch) {
		case 'a': sock = optarg; break;
		case 'c':
			if (s_flag) {
				usage(stderr);
				return 1;
			}
			c_flag = true;
			break;
		case 's':
			if (c_flag) {
				usage(stderr);
				return 1;
			}
			s_flag = true;
			break;
		case 'D': foreground = 1; break;
		case 'd':
			foreground = 1;
			debug = 1;
			break;
		case 'E':
			if (strcmp(optarg, "sha256") == 0)
				ag.fp_md5 = false;
			else if (strcmp(optarg, "md5") == 0)
				ag.fp_md5 = true;
			else {
				fprintf(stderr,
				    "jit-agent: -E: a fingerprint hash is sha256 or md5, not %s\n",
				    optarg);
				return 1;
			}
			break;
		case 'k': k_flag = true; break;
		case 'O':
			if (agent_option(&ag, optarg, err, sizeof(err)) != 0) {
				fprintf(stderr, "jit-agent: -O: %s\n", err);
				return 1;
			}
			break;
		case 'P': providers = optarg; break;
		case 't':
			if (duration_parse(optarg, &v) != 0 || v <= 0) {
				fprintf(stderr,
				    "jit-agent: -t: a lifetime like 3600, 90m or 1h\n");
				return 1;
			}
			ag.ssh_default_life_s = v;
			break;
		case OPT_DATA_DIR: datadir = optarg; break;
		case OPT_CONFIG: conf_opt = optarg; break;
		case OPT_WINDOW:
			if (duration_parse(optarg, &v) != 0) {
				fprintf(stderr,
				    "jit-agent: --window: a duration like 15m or 1h\n");
				return 2;
			}
			ag.window_default_s = v;
			window_opt = true;
			break;
		case OPT_TOUCH_TIMEOUT:
			if (duration_parse(optarg, &v) != 0 || v > 600) {
				fprintf(stderr,
				    "jit-agent: --touch-timeout: 1 to 600 seconds\n");
				return 2;
			}
			ag.touch_timeout_ms = (int)v * 1000;
			touch_opt = true;
			break;
		case OPT_ENSURE: ensure = true; break;
		case OPT_USER_SOCKET: user_socket = true; break;
		case 'h': usage(stdout); return 0;
		case OPT_VERSION:
			printf("jit-agent %s\n", JIT_VERSION);
			return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc)
		l.cmd = argv + optind;
	/* ssh-agent's choice of syntax: -c, -s, else csh for a csh. */
	l.csh = c_flag || (!s_flag && l.cmd == NULL && launch_shell_is_csh());
	if (k_flag) {
		if (l.cmd != NULL) {
			usage(stderr);
			return 1;
		}
		return launch_kill(l.csh);
	}
	if (l.cmd != NULL && (foreground || c_flag || s_flag || ensure)) {
		fprintf(stderr,
		    "jit-agent: a command runs with the agent in the background: -D, -d, -c, -s and --ensure do not go with it\n");
		return 1;
	}
	if (sock != NULL && user_socket) {
		fprintf(stderr,
		    "jit-agent: -a and --user-socket both say where to listen: give one\n");
		return 1;
	}
	if ((ag.providers = strdup(
		 providers != NULL ? providers : PROVIDERS_DEFAULT)) == NULL) {
		fprintf(stderr, "jit-agent: out of memory\n");
		return 1;
	}
	l.pids = !foreground;
	log_init("jit-agent", 1, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	/* A wrong configuration stops the agent here, on the terminal. */
	if ((r = conf_default_path(conf_opt, &conf_path)) != 0) {
		fprintf(stderr,
		    "jit-agent: cannot find the configuration: %s\n",
		    jit_strerror(r));
		return 1;
	}
	if (conf_load(
		conf_path, conf_opt != NULL, &ag.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "jit-agent: %s\n", err);
		free(conf_path);
		return 1;
	}
	apply_conf(&ag);
	/* Before any thread exists: the environment is read by askpass. */
	if (ag.conf->askpass != NULL)
		setenv("SSH_ASKPASS", ag.conf->askpass, 1);
	ag.uid = geteuid();
	if ((r = fs_default_dir(datadir, "XDG_DATA_HOME", ".local/share",
		 "jit-agent", &ag.data_dir)) != 0) {
		fprintf(stderr,
		    "jit-agent: cannot choose the data directory: %s\n",
		    jit_strerror(r));
		goto out;
	}
	/* --ensure: the agent that holds the store already serves. */
	if (ensure && launch_holder(ag.data_dir, &hpid, &hsock)) {
		launch_print_env(l.csh, hsock, hpid, hsock, hpid);
		free(hsock);
		status = 0;
		goto out;
	}
	if (!foreground) {
		if (launch_fork(&l, &parent_fd) != 0) {
			fprintf(stderr,
			    "jit-agent: cannot start in the background\n");
			goto out;
		}
		/* The shell's stdout and stderr get the shell lines or the
		 * reason it did not start, nothing else: the log goes to
		 * syslog from here. */
		log_init("jit-agent", 0, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	}
	/*
	 * OpenSSL's secure heap (locked, guard pages, not dumped) holds the
	 * scalars of ECDSA and RSA keys added with ssh-add while they are in
	 * use, as sodium_malloc holds everything else.  After the fork: locks
	 * are not inherited.  If it cannot be locked, it is not used at all.
	 */
	if (CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, 16) != 1) {
		CRYPTO_secure_malloc_done();
		log_info(
		    "OpenSSL's secure heap is unavailable: ECDSA and RSA keys are rebuilt for each signature");
	}
	why[0] = '\0';
	/* A systemd .socket unit's listener, else a socket of our own. */
	if ((r = activation_listener(&ag, why, sizeof(why))) == JIT_E_NOENT)
		r = socket_path(&ag, sock, user_socket, why, sizeof(why));
	if (r != 0) {
		if (why[0] != '\0')
			snprintf(msg, sizeof(msg), "jit-agent: %s\n", why);
		else
			snprintf(msg, sizeof(msg),
			    "jit-agent: cannot choose the socket: %s\n",
			    jit_strerror(r));
		goto fail;
	}
	/* Each refusal says which check failed, before the store looks. */
	if ((r = fs_private_dir(
		 ag.data_dir, "the data directory", why, sizeof(why))) != 0) {
		snprintf(msg, sizeof(msg), "jit-agent: %s\n", why);
		goto fail;
	}
	/* One agent per store, before anything in it is read or cleaned.
	 * err (free again by now) says who holds the store. */
	snprintf(err, sizeof(err), "pid %d, socket %s\n", (int)getpid(),
	    ag.sock_path);
	if ((r = store_lock(
		 ag.data_dir, err, &store_lock_fd, why, sizeof(why))) != 0) {
		if (r == JIT_E_BUSY && datadir == NULL)
			r = keys_only(
			    &ag, err, &store_lock_fd, why, sizeof(why));
		else if (r == JIT_E_BUSY &&
		    launch_holder(ag.data_dir, &hpid, &hsock)) {
			holder_sentence(
			    ag.data_dir, hpid, hsock, why, sizeof(why));
			free(hsock);
		}
		if (r != 0) {
			snprintf(msg, sizeof(msg), "jit-agent: %s\n", why);
			goto fail;
		}
	}
	if ((r = store_open(ag.data_dir, &ag.store)) != 0) {
		snprintf(msg, sizeof(msg),
		    "jit-agent: cannot open the store %s: %s\n", ag.data_dir,
		    jit_strerror(r));
		goto fail;
	}
	(void)keycache_sweep(ag.data_dir, token_enrolled, ag.store);
	if (asprintf(&path, "%s/" AUDIT_FILE_NAME, ag.data_dir) < 0) {
		r = JIT_E_NOMEM;
		snprintf(msg, sizeof(msg), "jit-agent: %s\n", jit_strerror(r));
		goto fail;
	}
	if ((r = audit_open(path, &ag.audit)) != 0) {
		if (r == JIT_E_DENIED)
			snprintf(msg, sizeof(msg),
			    "jit-agent: the audit log's sealing key %s/%s is not private (another owner, or group or others may read it): it must be yours and mode 0600\n",
			    ag.data_dir, AUDIT_FSS_NAME);
		else if (r == JIT_E_FORMAT)
			snprintf(msg, sizeof(msg),
			    "jit-agent: the audit log's sealing key %s/%s is damaged: move it away and run 'jitctl audit setup-keys' again\n",
			    ag.data_dir, AUDIT_FSS_NAME);
		else
			snprintf(msg, sizeof(msg),
			    "jit-agent: cannot open the audit log %s: %s\n",
			    path, jit_strerror(r));
		goto fail;
	}
	free(path);
	path = NULL;
	ag.loop = uv_default_loop();
	if ((r = vault_new(&ag, &ag.vault)) != 0 ||
	    (r = hwq_new(&ag, &ag.hwq)) != 0 ||
	    (r = revoker_new(&ag, &ag.revoker)) != 0 ||
	    (r = server_start(&ag)) != 0) {
		snprintf(msg, sizeof(msg), "jit-agent: cannot start: %s\n",
		    jit_strerror(r));
		goto fail;
	}
	signals_start(&ag);
	/* Every audited event also goes to the team: logs, hooks, metrics. */
	(void)eventbus_add(logsink_event, NULL);
	(void)eventbus_add(hooks_event, NULL);
	(void)eventbus_add(metrics_event, NULL);
	triggers_start(&ag);
	{
		struct json_object *ev = event_new("start");

		event_str(ev, "socket", ag.sock_path);
		event_int(ev, "pid", (int64_t)getpid());
		event_int(ev, "tokens", (int64_t)store_ntokens(ag.store));
		event_int(ev, "credentials", (int64_t)store_nknown(ag.store));
		/* A line torn by a crash is recorded in it by lib/audit.c.
		 * The agent starts even if it cannot be written: every
		 * request that needs the log is refused then. */
		(void)event_emit(&ag, ev);
	}
	/* Lines a crash left unsealed, if their epoch is over. */
	(void)audit_seal_due(ag.audit);
	events_seal_start(&ag);
	metrics_start(&ag);
	/* Start-up named the credential files; they are read from here on,
	 * a batch a loop turn, or when a request needs one first. */
	storeread_start(&ag);
	log_ready_cost(&ag);
	ready.sock = ag.sock_path;
	ready.jit_sock = ag.holder_sock != NULL ? ag.holder_sock : ag.sock_path;
	ready.jit_pid = ag.holder_pid;
	if (foreground) {
		launch_print_env(l.csh, ready.sock, 0, ready.jit_sock, 0);
	} else {
		if (chdir("/") != 0)
			log_warn("chdir /: %s", strerror(errno));
		launch_tell_ready(parent_fd, &ready);
		stdio_to_null();
	}
	uv_run(ag.loop, UV_RUN_DEFAULT);
	status = 0;
	goto out;
fail:
	if (foreground || parent_fd < 0)
		fputs(msg, stderr);
	else
		launch_tell_error(parent_fd, msg);
	server_stop(&ag);
	ssh_agent_free(&ag);
out:
	/* Let close callbacks run, then leave nothing behind. */
	vault_free(ag.vault);
	ag.vault = NULL;
	revoker_free(ag.revoker);
	ag.revoker = NULL;
	if (ag.loop != NULL) {
		uv_run(ag.loop, UV_RUN_NOWAIT);
		uv_loop_close(ag.loop);
	}
	if (ag.sock_dir != NULL)
		rmdir(ag.sock_dir);
	audit_close(ag.audit);
	store_free(ag.store);
	if (store_lock_fd >= 0)
		close(store_lock_fd);
	/* A keys-only agent's own store and audit log go with it. */
	if (ag.data_dir_fresh)
		launch_remove_tree(ag.data_dir);
	hwq_free(ag.hwq);
	triggers_free(&ag);
	conf_free(ag.conf);
	free(conf_path);
	free(path);
	free(ag.sock_path);
	free(ag.sock_dir);
	free(ag.data_dir);
	free(ag.holder_sock);
	free(ag.providers);
	if (status == 0 && ag.loop != NULL)
		log_info("exiting");
	return status;
}
