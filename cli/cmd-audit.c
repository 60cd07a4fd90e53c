/* jitctl audit: print the hash-chained audit log, or verify it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "err.h"
#include "fsutil.h"
#include "jitctl.h"
#include "jsonx.h"

static const char audit_help[] =
    "usage: jitctl [--data-dir DIR] audit [--json]\n"
    "       jitctl [--data-dir DIR] audit verify\n"
    "\n"
    "Print the audit log (time, sequence number, event, credential or\n"
    "token, peer, the rest), or with --json its raw JSON lines.  'verify'\n"
    "checks the hash chain: exit 0 when intact, 6 naming the first bad\n"
    "line.  With the agent running, lines dropped from the end are caught\n"
    "too.  The log is found by asking the agent, else in --data-dir, else\n"
    "in $XDG_DATA_HOME/jit-agent or ~/.local/share/jit-agent.\n"
    "\n"
    "  -j, --json   raw JSON lines\n"
    "  -h, --help   this text\n";

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
	r = cli_request("audit-head", NULL, NULL, &rep);
	h->reachable = r != JIT_E_AGENT;
	if (r == 0) {
		seq = cli_jint(rep.result, "seq", -1);
		s = cli_jstr(rep.result, "hash");
		if (seq >= 0 && s != NULL && strlen(s) == AUDIT_HASH_HEX) {
			h->have = true;
			h->seq = (uint64_t)seq;
			memcpy(h->hash, s, sizeof(h->hash));
		}
		if ((s = cli_jstr(rep.result, "path")) != NULL)
			h->path = strdup(s);
	} else if (h->reachable &&
	    cli_request("status", NULL, NULL, &rep) == 0) {
		struct json_object *agent;

		if (json_object_object_get_ex(rep.result, "agent", &agent) &&
		    (s = cli_jstr(agent, "data_dir")) != NULL &&
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
	if (pr->json) {
		if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF)
			return JIT_E_IO;
		return JIT_OK;
	}
	if (jsonx_parse(line, len, &o) != 0) {
		printf("?? line %llu is not a JSON object: run 'jitctl audit "
		       "verify'\n",
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
audit_print(bool json)
{
	struct printer pr = { json, 0 };
	struct head h = { 0 };
	char *path = NULL;
	int r, ex;

	if ((r = locate(&h, &path)) != 0) {
		ex = cli_fail_code(r, "cannot find the audit log");
		goto out;
	}
	if ((r = audit_read(path, print_line, &pr)) == JIT_E_NOENT) {
		ex = cli_fail_code(r, "no audit log at %s", path);
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

static int
audit_check(void)
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
	r = audit_verify(path, h.have ? h.seq : 0, h.have ? h.hash : NULL, &v);
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
	if (!h.have)
		cli_note("note: %s; lines dropped from the end cannot be "
			 "detected",
		    h.reachable ? "the agent did not give its "
				  "head of this log" :
				  "jit-agent is not running");
	ex = JITCTL_EXIT_OK;
out:
	head_reset(&h);
	free(path);
	return ex;
}

int
audit_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': return cli_help(audit_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind == argc)
		return audit_print(json);
	if (argc - optind == 1 && strcmp(argv[optind], "verify") == 0) {
		if (json)
			return cli_usage_error("verify takes no --json");
		return audit_check();
	}
	return cli_usage_error("unexpected argument '%s' (did you mean "
			       "'verify'?)",
	    argv[optind]);
}
