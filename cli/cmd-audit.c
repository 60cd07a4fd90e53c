/* jitctl audit: print the audit log, verify it, or set up its sealing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit-filter.h"
#include "audit.h"
#include "duration.h"
#include "err.h"
#include "fss.h"
#include "fsutil.h"
#include "jitctl.h"
#include "jsonx.h"
#include "proto-names.h"
#include "secret.h"

static const char audit_help[] =
    "usage: jitctl [--data-dir DIR] audit [--json] [--since TIME] [--name NAME]\n"
    "           [--event EVENT]... [--follow]\n"
    "       jitctl [--data-dir DIR] audit verify [--verify-key FILE]\n"
    "       jitctl audit setup-keys [--interval DURATION] [--force]\n"
    "\n"
    "Print the audit log (time, sequence number, event, credential or\n"
    "token, peer, the rest), or with --json its raw JSON lines.\n"
    "\n"
    "'verify' checks the hash chain: exit 0 when intact, 6 naming the\n"
    "first bad line (or when the log is missing or empty).  With the agent\n"
    "running, lines dropped from the end are caught too.  Someone who can\n"
    "write the file can still rewrite it and recompute the hashes: with\n"
    "--verify-key, verify also checks the seals, which they cannot redo.\n"
    "The log is found by asking the agent, else in --data-dir, else in\n"
    "$XDG_DATA_HOME/jit-agent or ~/.local/share/jit-agent.\n"
    "\n"
    "'setup-keys' makes the agent seal the log at the end of every\n"
    "interval with new lines, under a key that then evolves, and prints\n"
    "the verification key once: keep it off this machine.\n"
    "\n"
    "  -j, --json               raw JSON lines\n"
    "  -s, --since TIME         lines from TIME on: ISO 8601 with its zone\n"
    "                           (2026-05-01T10:00:00+02:00, a date) or a\n"
    "                           duration back from now (1h)\n"
    "  -n, --name NAME          lines about this credential or token\n"
    "  -e, --event EVENT        lines of this event (unlock, use, lock...);\n"
    "                           may be given again\n"
    "  -f, --follow             then print lines as they are appended,\n"
    "                           until interrupted\n"
    "  -k, --verify-key FILE    the verification key, read from FILE (- for\n"
    "                           standard input); may be given again\n"
    "  -i, --interval DURATION  setup-keys: seal every DURATION (15m)\n"
    "      --force              setup-keys: replace the sealing key\n"
    "  -h, --help               this text\n";

enum {
	OPT_FORCE = 256,
};

#define VKEYS_MAX 4

/* The log's name in the data directory, as the agent writes it. */
#define AUDIT_FILE AUDIT_FILE_NAME

struct head {
	bool have;
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
	char *path; /* the agent's log, or NULL */
	bool reachable;
};

static void
head_reset(struct head *h)
{
	free(h->path);
	memset(h, 0, sizeof(*h));
}

/* Ask the agent where its log is and where it ends; quiet on failure. */
static void
head_fetch(struct head *h)
{
	struct client_reply rep = { .retries = -1 };
	const char *s;
	int64_t seq;
	int r;

	head_reset(h);
	r = cli_request(JP_VERB_AUDIT_HEAD, NULL, NULL, &rep);
	h->reachable = r != JIT_E_AGENT;
	if (r == 0) {
		seq = cli_jint(rep.result, JP_RES_AUDIT_HEAD_SEQ, -1);
		s = cli_jstr(rep.result, JP_RES_AUDIT_HEAD_HASH);
		if (seq >= 0 && s != NULL && strlen(s) == AUDIT_HASH_HEX) {
			h->have = true;
			h->seq = (uint64_t)seq;
			memcpy(h->hash, s, sizeof(h->hash));
		}
		if ((s = cli_jstr(rep.result, JP_RES_AUDIT_HEAD_PATH)) != NULL)
			h->path = strdup(s);
	} else if (h->reachable &&
	    cli_request(JP_VERB_STATUS, NULL, NULL, &rep) == 0) {
		struct json_object *agent;

		if (json_object_object_get_ex(
			rep.result, JP_RES_STATUS_AGENT, &agent) &&
		    (s = cli_jstr(agent, JP_AGENT_DATA_DIR)) != NULL &&
		    asprintf(&h->path, "%s/%s", s, AUDIT_FILE) < 0)
			h->path = NULL;
	}
	client_reply_reset(&rep);
}

static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (a == NULL || b == NULL)
		return false;
	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return strcmp(a, b) == 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The log to read; the head applies only if it is the agent's log. */
static int
locate(struct head *h, char **ret)
{
	char *dir = NULL;
	int r;

	head_fetch(h);
	if (jitctl_data_dir_opt != NULL) {
		if (asprintf(ret, "%s/%s", jitctl_data_dir_opt, AUDIT_FILE) < 0)
			return JIT_E_NOMEM;
		if (!same_file(*ret, h->path))
			h->have = false;
		return JIT_OK;
	}
	if (h->path != NULL)
		return (*ret = strdup(h->path)) == NULL ? JIT_E_NOMEM : JIT_OK;
	h->have = false;
	if ((r = fs_default_dir(NULL, "XDG_DATA_HOME", ".local/share",
		 "jit-agent", &dir)) != 0)
		return r;
	r = asprintf(ret, "%s/%s", dir, AUDIT_FILE) < 0 ? JIT_E_NOMEM : JIT_OK;
	free(dir);
	return r;
}

/* Members shown in their own columns rather than as key=value. */
static bool
shown_apart(const char *key)
{
	static const char *const keys[] = {
		"seq",
		"time",
		"prev",
		"event",
		"name",
		"names",
		"peer",
		"uid",
		"pid",
		"exe",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static void
put_value(const char *key, struct json_object *v)
{
	char safe[512];

	if (json_object_is_type(v, json_type_string))
		cli_sanitize(json_object_get_string(v), safe, sizeof(safe));
	else
		cli_sanitize(
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		    safe, sizeof(safe));
	printf(" %s=%s", key, safe);
}

/* What a line is about: "name", "names" joined, or else the "token"
 * (then *ret_token_shown, so it is not repeated as token=...). */
static void
subject(struct json_object *o, char *out, size_t outlen, bool *ret_token_shown)
{
	const char *name;

	*ret_token_shown = false;
	if ((name = cli_jstr(o, "name")) != NULL)
		cli_sanitize(name, out, outlen);
	else
		cli_jjoin(cli_jarray(o, "names"), ",", out, outlen);
	if (out[0] == '\0' && (name = cli_jstr(o, "token")) != NULL) {
		cli_sanitize(name, out, outlen);
		*ret_token_shown = true;
	}
	if (out[0] == '\0')
		snprintf(out, outlen, "-");
}

/* The peer, as a "peer" object or as top-level uid, pid and exe. */
static void
put_peer(struct json_object *o)
{
	struct json_object *peer;
	char exe[256];

	if (json_object_object_get_ex(o, "peer", &peer) &&
	    json_object_is_type(peer, json_type_object))
		o = peer;
	if (cli_jint(o, "pid", -1) < 0)
		return;
	cli_sanitize(cli_jstr(o, "exe") != NULL ? cli_jstr(o, "exe") : "?", exe,
	    sizeof(exe));
	printf(" uid=%lld pid=%lld exe=%s", (long long)cli_jint(o, "uid", -1),
	    (long long)cli_jint(o, "pid", -1), exe);
}

struct printer {
	bool json;
	uint64_t lineno;
	const struct audit_filter *filter;
};

/* time seq event name peer, then every other member as key=value. */
static int
print_line(const char *line, size_t len, void *arg)
{
	struct printer *pr = arg;
	struct json_object *o = NULL;
	char when[40], event[32], name[128];
	bool token_shown;

	pr->lineno++;
	if (!audit_filter_keep(pr->filter, line, len))
		return JIT_OK;
	if (pr->json) {
		if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF)
			return JIT_E_IO;
		return JIT_OK;
	}
	if (jsonx_parse(line, len, &o) != 0) {
		printf(
		    "?? line %llu is not a JSON object: run 'jitctl audit verify'\n",
		    (unsigned long long)pr->lineno);
		return JIT_OK;
	}
	cli_sanitize(cli_jstr(o, "time") != NULL ? cli_jstr(o, "time") : "?",
	    when, sizeof(when));
	cli_sanitize(cli_jstr(o, "event") != NULL ? cli_jstr(o, "event") : "?",
	    event, sizeof(event));
	subject(o, name, sizeof(name), &token_shown);
	printf("%s %5lld %-8s %-16s", when, (long long)cli_jint(o, "seq", 0),
	    event, name);
	put_peer(o);
	json_object_object_foreach(o, key, v)
	{
		if (!shown_apart(key) &&
		    !(token_shown && strcmp(key, "token") == 0))
			put_value(key, v);
	}
	putchar('\n');
	json_object_put(o);
	return ferror(stdout) ? JIT_E_IO : JIT_OK;
}

static int
audit_print(bool json, const struct audit_filter *filter, bool follow)
{
	struct printer pr = { json, 0, filter };
	struct head h = { 0 };
	char *path = NULL;
	int r, ex;

	if ((r = locate(&h, &path)) != 0) {
		ex = cli_fail_code(r, "cannot find the audit log");
		goto out;
	}
	r = follow ? audit_follow(path, print_line, &pr) :
		     audit_read(path, print_line, &pr);
	if (r == JIT_E_NOENT) {
		cli_err("no audit log at %s", path);
		ex = jitctl_exit_code(r);
		goto out;
	}
	if (r != 0) {
		ex = cli_fail_code(r, "cannot read %s", path);
		goto out;
	}
	ex = JITCTL_EXIT_OK;
	if (fflush(stdout) != 0)
		ex = cli_fail_code(JIT_E_IO, "cannot write");
out:
	head_reset(&h);
	free(path);
	return ex;
}

/* A verification key from a file (or standard input), never argv. */
static int
read_vkey(const char *file, struct fss_key **ret)
{
	struct secret *buf = NULL;
	size_t off = 0, cap = FSS_VKEY_MAX + 64;
	ssize_t n;
	int fd, r, ex;

	if (strcmp(file, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail_code(JIT_E_IO,
		    "cannot read the verification key from %s: %s", file,
		    strerror(errno));
	if ((r = secret_new(cap, &buf)) != 0) {
		ex = cli_fail_code(r, "cannot read the verification key");
		goto out;
	}
	while (off < cap) {
		n = read(fd, secret_ptr(buf) + off, cap - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off == cap || fss_vkey_parse(secret_ptr(buf), off, ret) != JIT_OK) {
		cli_err(
		    "%s does not hold a verification key (the line 'jitctl audit setup-keys' printed, fss1-...)",
		    strcmp(file, "-") == 0 ? "standard input" : file);
		ex = JITCTL_EXIT_FAIL;
		goto out;
	}
	ex = JITCTL_EXIT_OK;
out:
	secret_free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return ex;
}

/* What an intact log's verdict adds: torn lines, seals, what is open. */
static void
audit_notes(const struct audit_verdict *v, size_t nkeys)
{
	if (v->torn_acked > 0)
		cli_note(
		    "note: the agent stopped while writing line %llu%s; the next agent recorded it, and every line after it checks",
		    (unsigned long long)v->torn_first,
		    v->torn_acked > 1 ? " (and other lines later)" : "");
	if (v->torn_final > 0)
		cli_note(
		    "note: the agent stopped while writing line %llu (a crash, or a full disk): it is not a record",
		    (unsigned long long)v->torn_final);
	if (nkeys == 0) {
		if (v->sealed)
			cli_note(
			    "note: the seals (%llu) were not checked: the hash chain alone does not stop someone who can write the file from rewriting it; check them with 'jitctl audit verify --verify-key FILE'",
			    (unsigned long long)v->seals);
		else
			cli_note(
			    "note: the log is not sealed: someone who can write the file can rewrite it and recompute the hashes; 'jitctl audit setup-keys' starts sealing it");
		return;
	}
	printf("seals checked: %llu, with the key set up at line %llu\n",
	    (unsigned long long)v->seals_checked,
	    (unsigned long long)v->setup_line);
	if (v->earlier_key_line > 0)
		cli_note(
		    "note: a key not given was set up at line %llu; the seals of this key cover the lines before its own set-up too",
		    (unsigned long long)v->earlier_key_line);
	if (v->late_lines > 0)
		cli_note(
		    "note: lines %llu to %llu were sealed late (%llu records): the agent was stopped (a crash) or asleep when their epoch ended",
		    (unsigned long long)v->late_first,
		    (unsigned long long)v->late_last,
		    (unsigned long long)v->late_lines);
	if (v->unsealed_from > 0 && v->unsealed_from == v->unsealed_to)
		cli_note(
		    "note: line %llu is not sealed yet: the agent seals it when its epoch ends or when it stops; until then whoever can read the key file can rewrite it",
		    (unsigned long long)v->unsealed_from);
	else if (v->unsealed_from > 0)
		cli_note(
		    "note: lines %llu to %llu are not sealed yet: the agent seals them when their epoch ends or when it stops; until then whoever can read the key file can rewrite them",
		    (unsigned long long)v->unsealed_from,
		    (unsigned long long)v->unsealed_to);
}

static int
audit_check(struct fss_key *const *keys, size_t nkeys)
{
	struct audit_verdict v;
	struct head h = { 0 };
	char *path = NULL, why[sizeof(v.why)];
	int r, ex;

	if ((r = locate(&h, &path)) != 0) {
		ex = cli_fail_code(r, "cannot find the audit log");
		goto out;
	}
	/* Lines the agent appends after giving its head are allowed. */
	if (nkeys > 0)
		r = audit_verify_sealed(path, h.have ? h.seq : 0,
		    h.have ? h.hash : NULL, keys, nkeys, &v);
	else
		r = audit_verify(
		    path, h.have ? h.seq : 0, h.have ? h.hash : NULL, &v);
	if (r == JIT_E_NOENT) {
		cli_err("no audit log at %s", path);
		ex = JITCTL_EXIT_AUDIT;
		goto out;
	}
	if (r == JIT_E_AUTH && v.empty) {
		cli_err("%s: the audit log is empty", path);
		ex = JITCTL_EXIT_AUDIT;
		goto out;
	}
	if (r == JIT_E_AUTH) {
		cli_sanitize(v.why, why, sizeof(why));
		cli_err("%s: bad line %llu: %s", path,
		    (unsigned long long)v.bad_line, why);
		ex = JITCTL_EXIT_AUDIT;
		goto out;
	}
	if (r != 0) {
		ex = cli_fail_code(r, "cannot verify %s", path);
		goto out;
	}
	printf("audit log intact: %llu lines\n", (unsigned long long)v.lines);
	audit_notes(&v, nkeys);
	if (!h.have)
		cli_note(
		    "note: %s; lines dropped from the end cannot be detected",
		    h.reachable ?
			"the agent did not give its head of this log" :
			"jit-agent is not running");
	ex = JITCTL_EXIT_OK;
out:
	head_reset(&h);
	free(path);
	return ex;
}

/* Ask the agent to seal the log; print the verification key once. */
static int
audit_setup(const char *interval, bool force)
{
	struct client_reply rep = { .retries = -1 };
	struct json_object *args = NULL;
	char iv[32], id[64], file[512];
	int64_t s = FSS_INTERVAL_DEFAULT;
	int r, ex;

	if (interval != NULL &&
	    (duration_parse(interval, &s) != 0 || s > FSS_INTERVAL_MAX))
		return cli_usage_error(
		    "--interval: a duration from 1s to 7d, like 15m or 1h");
	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_int(args, JP_ARG_AUDIT_SETUP_INTERVAL, s) != 0 ||
	    (force &&
		jsonx_add_bool(args, JP_ARG_AUDIT_SETUP_FORCE, true) != 0)) {
		json_object_put(args);
		return cli_fail_code(JIT_E_NOMEM, "cannot make the request");
	}
	r = cli_request(JP_VERB_AUDIT_SETUP, args, NULL, &rep);
	json_object_put(args);
	if (r != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	if (rep.secret == NULL) {
		ex = cli_fail_code(
		    JIT_E_FORMAT, "the agent sent no verification key");
		goto out;
	}
	if (cli_write_all(STDOUT_FILENO, secret_ptr(rep.secret),
		secret_len(rep.secret)) != 0 ||
	    cli_write_all(STDOUT_FILENO, "\n", 1) != 0) {
		ex = cli_fail_code(JIT_E_IO, "cannot write the key");
		goto out;
	}
	cli_duration(cli_jint(rep.result, JP_RES_AUDIT_SETUP_INTERVAL, s), iv,
	    sizeof(iv));
	cli_sanitize(cli_jstr(rep.result, JP_RES_AUDIT_SETUP_KEY_ID) != NULL ?
		cli_jstr(rep.result, JP_RES_AUDIT_SETUP_KEY_ID) :
		"?",
	    id, sizeof(id));
	cli_sanitize(cli_jstr(rep.result, JP_RES_AUDIT_SETUP_KEY_FILE) != NULL ?
		cli_jstr(rep.result, JP_RES_AUDIT_SETUP_KEY_FILE) :
		"?",
	    file, sizeof(file));
	cli_note(
	    "The line above is the verification key of the audit log (key id %s). Keep it off this machine (on paper, or with whoever checks the log): whoever holds it can forge seals. 'jitctl audit verify --verify-key FILE' checks the seals with it. The agent seals every %s; its evolving key is in %s.",
	    id, iv, file);
	ex = JITCTL_EXIT_OK;
out:
	client_reply_reset(&rep);
	return ex;
}

int
audit_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "since", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "event", required_argument, NULL, 'e' },
		{ "follow", no_argument, NULL, 'f' },
		{ "verify-key", required_argument, NULL, 'k' },
		{ "interval", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fss_key *keys[VKEYS_MAX];
	const char *files[VKEYS_MAX], *interval = NULL;
	size_t nkeys = 0, i;
	struct audit_filter filter = { 0 };
	bool json = false, force = false, follow = false, filtered = false;
	int c, ex;

	while ((c = cli_getopt(argc, argv, ":js:n:e:fk:i:h", opts)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 's':
			if (audit_filter_since(&filter, optarg) != 0)
				return JITCTL_EXIT_USAGE;
			filtered = true;
			break;
		case 'n':
			filter.name = optarg;
			filtered = true;
			break;
		case 'e':
			if (filter.nevents == AUDIT_FILTER_EVENTS_MAX)
				return cli_usage_error("at most %d --event",
				    AUDIT_FILTER_EVENTS_MAX);
			filter.events[filter.nevents++] = optarg;
			filtered = true;
			break;
		case 'f': follow = true; break;
		case 'k':
			if (fss_vkey_like(optarg))
				return cli_usage_error(
				    "a verification key never goes on the command line, where other users can read it: put it in a file and pass --verify-key FILE, or - to read it from standard input");
			if (nkeys == VKEYS_MAX)
				return cli_usage_error(
				    "at most %d verification keys", VKEYS_MAX);
			files[nkeys++] = optarg;
			break;
		case 'i': interval = optarg; break;
		case OPT_FORCE: force = true; break;
		case 'h': return cli_help(audit_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind == argc) {
		if (nkeys > 0 || interval != NULL || force)
			return cli_usage_error(
			    "--verify-key belongs to verify, --interval and --force to setup-keys");
		return audit_print(json, &filter, follow);
	}
	if (filtered || follow)
		return cli_usage_error(
		    "--since, --name, --event and --follow belong to printing the log, not to %s",
		    argv[optind]);
	if (argc - optind == 1 && strcmp(argv[optind], "setup-keys") == 0) {
		if (json || nkeys > 0)
			return cli_usage_error(
			    "setup-keys takes --interval and --force only");
		return audit_setup(interval, force);
	}
	if (argc - optind != 1 || strcmp(argv[optind], "verify") != 0)
		return cli_usage_error(
		    "unexpected argument '%s' (did you mean 'verify' or 'setup-keys'?)",
		    argv[optind]);
	if (json || interval != NULL || force)
		return cli_usage_error("verify takes --verify-key only");
	/* A verification key is a secret: the agent (if it answers) sees
	 * this process first, then no process of the user may read it. */
	if (nkeys > 0) {
		struct client_reply rep = { .retries = -1 };

		(void)cli_connect(&rep); /* unreachable: verified offline */
		client_reply_reset(&rep);
		if ((ex = cli_seal()) != 0) {
			nkeys = 0;
			ex = cli_fail_code(ex, "cannot protect this process");
			goto out;
		}
	}
	for (i = 0; i < nkeys; i++)
		if ((ex = read_vkey(files[i], &keys[i])) != JITCTL_EXIT_OK) {
			nkeys = i;
			goto out;
		}
	ex = audit_check(keys, nkeys);
out:
	for (i = 0; i < nkeys; i++)
		fss_free(keys[i]);
	return ex;
}
