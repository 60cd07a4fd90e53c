/* jitctl status: what is unlocked, for whom, until when; once or watching. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"
#include "isotime.h"
#include "jitctl.h"
#include "proto-names.h"

static const char status_help[] =
    "usage: jitctl status [--json] [--watch]\n"
    "\n"
    "Show the agent, every credential by name (state: unlocked, locked,\n"
    "window ended or expired; step-up, time left in its window, expiry,\n"
    "uses, the last process that used it, the tokens it is wrapped to)\n"
    "and the enrolled tokens.  Times are ISO 8601 with their zone.\n"
    "\n"
    "  -j, --json   the agent's answer as JSON\n"
    "  -w, --watch  redraw every second until interrupted\n"
    "  -h, --help   this text\n";

#define WATCH_INTERVAL_S 1

static volatile sig_atomic_t status_stop;

static void
status_catch(int signo)
{
	(void)signo;
	status_stop = 1;
}

static void
peer_text(struct json_object *cred, char *out, size_t outlen)
{
	struct json_object *peer;
	const char *exe, *base;

	if (!json_object_object_get_ex(cred, JP_CRED_LAST_PEER, &peer) ||
	    !json_object_is_type(peer, json_type_object)) {
		snprintf(out, outlen, "-");
		return;
	}
	if ((exe = cli_jstr(peer, JP_PEER_EXE)) == NULL) {
		snprintf(out, outlen, "pid %lld",
		    (long long)cli_jint(peer, JP_PEER_PID, 0));
		return;
	}
	if ((base = strrchr(exe, '/')) != NULL)
		base++;
	else
		base = exe;
	snprintf(out, outlen, "pid %lld (%s)",
	    (long long)cli_jint(peer, JP_PEER_PID, 0), base);
}

/* A revocation's state for people: "failed 2 times, next try in 4s". */
static void
revoke_text(struct json_object *rv, char *out, size_t outlen)
{
	const char *state = cli_jstr(rv, JP_REVOCATION_STATE);
	int64_t n = cli_jint(rv, JP_REVOCATION_ATTEMPTS, 0), next;
	char in[32];

	if (state == NULL)
		snprintf(out, outlen, "?");
	else if (strcmp(state, "failed") == 0) {
		next = cli_jint(rv, JP_REVOCATION_NEXT_TRY, 0) -
		    (int64_t)time(NULL);
		duration_format(next, in, sizeof(in));
		snprintf(out, outlen, "failed %lld time%s, next try in %s",
		    (long long)n, n == 1 ? "" : "s", in);
	} else if (strcmp(state, "gave-up") == 0)
		snprintf(
		    out, outlen, "failed %lld times, gave up", (long long)n);
	else
		snprintf(out, outlen, "%s", state);
}

/* Credential files the agent skipped: never dropped silently. */
static void
print_damaged(struct json_object *res)
{
	struct json_object *arr = cli_jarray(res, JP_RES_STATUS_DAMAGED), *d;
	int64_t n = cli_jint(res, JP_RES_STATUS_NDAMAGED, 0);
	char file[256], why[128];
	size_t i;

	if (n <= 0)
		return;
	printf(
	    "%lld damaged credential file(s), skipped: move each away, or restore it from a backup\n",
	    (long long)n);
	for (i = 0; arr != NULL && i < json_object_array_length(arr); i++) {
		d = json_object_array_get_idx(arr, i);
		cli_sanitize(cli_jstr(d, JP_DAMAGED_FILE), file, sizeof(file));
		cli_sanitize(cli_jstr(d, JP_DAMAGED_WHY), why, sizeof(why));
		printf("  %s: %s\n", file, why);
	}
	if ((size_t)n > i)
		printf("  (and %lld more: see the agent's log)\n",
		    (long long)n - (long long)i);
	printf("\n");
}

/* Upstream revocations: running, failing, or done a moment ago. */
static int
print_revocations(struct json_object *arr)
{
	static const char *const head[] = {
		"REVOKED",
		"PROFILE",
		"WHY",
		"UPSTREAM",
		"LAST-ERROR",
	};
	struct json_object *rv;
	struct table *tb = NULL;
	const char *row[5];
	char state[96];
	size_t i, n = arr == NULL ? 0 : json_object_array_length(arr);
	int r;

	if (n == 0)
		return JIT_OK;
	if ((r = table_new(5, &tb)) != 0 || (r = table_add(tb, head)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		rv = json_object_array_get_idx(arr, i);
		revoke_text(rv, state, sizeof(state));
		row[0] = cli_jstr(rv, JP_REVOCATION_NAME);
		row[1] = cli_jstr(rv, JP_REVOCATION_PROFILE);
		row[2] = cli_jstr(rv, JP_REVOCATION_WHY);
		row[3] = state;
		row[4] = cli_jstr(rv, JP_REVOCATION_ERROR);
		if ((r = table_add(tb, row)) != 0)
			goto out;
	}
	table_print(tb, stdout);
	printf("\n");
out:
	table_free(tb);
	return r;
}

/* The kill switches: those armed on one line, each one off with why. */
static void
print_triggers(struct json_object *arr)
{
	struct json_object *t;
	char name[64], detail[256];
	size_t i, n = arr == NULL ? 0 : json_object_array_length(arr);
	bool first = true;

	if (n == 0) {
		printf("\n");
		return;
	}
	printf("kill switches armed:");
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(arr, i);
		if (!cli_jbool(t, JP_TRIGGER_ARMED))
			continue;
		cli_sanitize(cli_jstr(t, JP_TRIGGER_NAME), name, sizeof(name));
		cli_sanitize(
		    cli_jstr(t, JP_TRIGGER_DETAIL), detail, sizeof(detail));
		printf("%s %s (%s)", first ? "" : ",", name, detail);
		first = false;
	}
	printf("%s\n", first ? " none" : "");
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(arr, i);
		if (cli_jbool(t, JP_TRIGGER_ARMED))
			continue;
		cli_sanitize(cli_jstr(t, JP_TRIGGER_NAME), name, sizeof(name));
		cli_sanitize(
		    cli_jstr(t, JP_TRIGGER_DETAIL), detail, sizeof(detail));
		printf("kill switch off: %s: %s\n", name, detail);
	}
	printf("\n");
}

static int
print_status(struct json_object *res)
{
	static const char *const head[] = {
		"NAME",
		"KIND",
		"STATE",
		"STEP-UP",
		"TIME-LEFT",
		"EXPIRES",
		"USES",
		"LAST-PEER",
		"TOKENS",
	};
	struct json_object *agent = NULL, *creds, *cred;
	struct table *tb = NULL;
	const char *row[9], *state;
	char left[32], uses[24], peer[128], toks[256], sock[256], dir[256];
	char ver[32], expires[ISOTIME_LEN];
	size_t i, n;
	int64_t tl;
	int r;

	if (json_object_object_get_ex(res, JP_RES_STATUS_AGENT, &agent)) {
		cli_sanitize(
		    cli_jstr(agent, JP_AGENT_SOCKET), sock, sizeof(sock));
		cli_sanitize(
		    cli_jstr(agent, JP_AGENT_DATA_DIR), dir, sizeof(dir));
		cli_sanitize(
		    cli_jstr(agent, JP_AGENT_VERSION), ver, sizeof(ver));
		printf("jit-agent %s, pid %lld, socket %s, data %s%s\n", ver,
		    (long long)cli_jint(agent, JP_AGENT_PID, 0), sock, dir,
		    cli_jbool(agent, JP_AGENT_LOCKED) ?
			" (LOCKED: ssh-add -X)" :
			"");
		print_triggers(cli_jarray(agent, JP_AGENT_TRIGGERS));
	}
	if ((r = table_new(9, &tb)) != 0 || (r = table_add(tb, head)) != 0)
		goto out;
	creds = cli_jarray(res, JP_RES_STATUS_CREDENTIALS);
	n = creds == NULL ? 0 : json_object_array_length(creds);
	for (i = 0; i < n; i++) {
		cred = json_object_array_get_idx(creds, i);
		state = cli_jstr(cred, JP_CRED_STATE);
		tl = cli_jint(cred, JP_CRED_TIME_LEFT, -1);
		if (tl >= 0 && state != NULL && strcmp(state, "unlocked") == 0)
			duration_format(tl, left, sizeof(left));
		else
			snprintf(left, sizeof(left), "-");
		snprintf(uses, sizeof(uses), "%lld",
		    (long long)cli_jint(cred, JP_CRED_USES, 0));
		peer_text(cred, peer, sizeof(peer));
		cli_jjoin(
		    cli_jarray(cred, JP_CRED_TOKENS), ",", toks, sizeof(toks));
		isotime_format(cli_jint(cred, JP_CRED_NOT_AFTER, 0), false,
		    expires, sizeof(expires));
		row[0] = cli_jstr(cred, JP_CRED_NAME);
		row[1] = cli_jstr(cred, JP_CRED_KIND);
		row[2] = state != NULL && strcmp(state, "window-ended") == 0 ?
		    "window ended" :
		    state;
		row[3] = cli_jstr(cred, JP_CRED_STEPUP);
		row[4] = left;
		row[5] = expires;
		row[6] = uses;
		row[7] = peer;
		row[8] = toks[0] != '\0' ? toks : NULL;
		if ((r = table_add(tb, row)) != 0)
			goto out;
	}
	if (n == 0)
		printf(
		    "no credential: add one with 'jitctl add NAME --ttl DURATION'\n");
	else
		table_print(tb, stdout);
	printf("\n");
	print_damaged(res);
	if ((r = print_revocations(
		 cli_jarray(res, JP_RES_STATUS_REVOCATIONS))) != 0)
		goto out;
	r = tokens_print_table(cli_jarray(res, JP_RES_STATUS_TOKENS), stdout);
out:
	table_free(tb);
	return r;
}

static int
by_name(const void *a, const void *b)
{
	const char *x = cli_jstr(*(struct json_object *const *)a, JP_CRED_NAME);
	const char *y = cli_jstr(*(struct json_object *const *)b, JP_CRED_NAME);

	return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/* The agent answers a page of credentials at a time: gather them all. */
int
status_fetch(struct client_reply *rep)
{
	static const char *const last[] = {
		JP_RES_STATUS_NEXT,
		JP_RES_STATUS_TOTAL,
		JP_RES_STATUS_DAMAGED,
		JP_RES_STATUS_NDAMAGED,
		JP_RES_STATUS_UNREAD,
	};
	struct client_reply more = { .retries = -1 };
	struct json_object *args, *next, *all, *page;
	size_t i;
	int r;

	if ((r = cli_request(JP_VERB_STATUS, NULL, NULL, rep)) != 0)
		return r;
	if (!json_object_object_get_ex(
		rep->result, JP_RES_STATUS_CREDENTIALS, &all))
		return JIT_E_FORMAT;
	while (
	    json_object_object_get_ex(rep->result, JP_RES_STATUS_NEXT, &next) &&
	    json_object_is_type(next, json_type_int)) {
		if ((args = json_object_new_object()) == NULL)
			return JIT_E_NOMEM;
		json_object_object_add(args, JP_ARG_STATUS_OFFSET,
		    json_object_new_int64(json_object_get_int64(next)));
		r = cli_request(JP_VERB_STATUS, args, NULL, &more);
		json_object_put(args);
		if (r != 0) {
			client_reply_reset(rep);
			*rep = more;
			return r;
		}
		if (!json_object_object_get_ex(
			more.result, JP_RES_STATUS_CREDENTIALS, &page)) {
			client_reply_reset(&more);
			return JIT_E_FORMAT;
		}
		for (i = 0; i < json_object_array_length(page); i++)
			json_object_array_add(all,
			    json_object_get(
				json_object_array_get_idx(page, i)));
		/* The last page knows best what was found damaged. */
		for (i = 0; i < sizeof(last) / sizeof(last[0]); i++)
			json_object_object_add(rep->result, last[i],
			    json_object_get(
				json_object_object_get(more.result, last[i])));
		client_reply_reset(&more);
	}
	json_object_object_del(rep->result, JP_RES_STATUS_NEXT);
	/* By name, whatever order the agent keeps them in. */
	json_object_array_sort(all, by_name);
	return JIT_OK;
}

static int
status_once(bool json, bool redraw)
{
	struct client_reply rep = { .retries = -1 };
	int r, ex;

	if ((r = status_fetch(&rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	/* Home and clear, then draw: one frame per second, no scrolling. */
	if (redraw)
		fputs("\033[H\033[2J", stdout);
	r = json ? cli_print_json(rep.result) : print_status(rep.result);
	if (r == 0 && fflush(stdout) != 0)
		r = JIT_E_IO;
	ex = r == 0 ? JITCTL_EXIT_OK : cli_fail_code(r, "cannot print");
out:
	client_reply_reset(&rep);
	return ex;
}

int
status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct timespec ts = { WATCH_INTERVAL_S, 0 };
	struct sigaction sa;
	bool json = false, watch = false, tty;
	int c, ex;

	while ((c = cli_getopt(argc, argv, ":jwh", opts)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'w': watch = true; break;
		case 'h': return cli_help(status_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(
		    "unexpected argument '%s'", argv[optind]);
	if (!watch)
		return status_once(json, false);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = status_catch; /* no SA_RESTART: the sleep ends */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	tty = isatty(STDOUT_FILENO);
	while (!status_stop) {
		if ((ex = status_once(json, tty)) != 0)
			return ex;
		if (!tty)
			printf("\n");
		if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
			break;
	}
	return JITCTL_EXIT_OK;
}
