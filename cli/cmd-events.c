/* jitctl events: follow the agent's audited events as they happen. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jitctl.h"
#include "proto-names.h"

static const char events_help[] =
    "usage: jitctl events [--json] [--count N]\n"
    "\n"
    "Follow the agent's events as they are audited (requests, approvals,\n"
    "unlocks, uses, denials, expiries, locks, revocations), one line each,\n"
    "until interrupted.  No event holds a secret.\n"
    "\n"
    "  -j, --json     one JSON object per line, as the hooks get them\n"
    "  -c, --count N  stop after N events\n"
    "  -h, --help     this text\n";

/* "TIME EVENT key=value ..." for people. */
static void
print_line(struct json_object *ev)
{
	char when[64], line[1536], safe[1536];
	size_t used = 0;
	int n;

	cli_time(cli_jint(ev, "time", 0), when, sizeof(when));
	n = snprintf(line, sizeof(line), "%s %s", when,
	    cli_jstr(ev, "event") != NULL ? cli_jstr(ev, "event") : "?");
	used = n > 0 ? (size_t)n : 0;
	json_object_object_foreach(ev, key, val)
	{
		if (strcmp(key, "event") == 0 || strcmp(key, "time") == 0 ||
		    used >= sizeof(line))
			continue;
		n = snprintf(line + used, sizeof(line) - used, " %s=%s", key,
		    json_object_get_string(val));
		used += n > 0 ? (size_t)n : 0;
	}
	cli_sanitize(line, safe, sizeof(safe));
	printf("%s\n", safe);
}

int
events_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 };
	bool json = false;
	long count = -1, seen = 0;
	char *end;
	int c, r, ex;

	while ((c = cli_getopt(argc, argv, ":jc:h", opts)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end != '\0' || count < 1)
				return cli_usage_error(
				    "--count takes a number of events, 1 or more");
			break;
		case 'h': return cli_help(events_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc != optind)
		return cli_usage_error("events takes no arguments");
	if ((r = cli_request(JP_VERB_EVENTS, NULL, NULL, &rep)) != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	/* The subscription is open: every event from now on is shown. */
	cli_note("following the agent's events (interrupt to stop)");
	fflush(stdout);
	while (count < 0 || seen < count) {
		if ((r = cli_next(JP_VERB_EVENTS, &rep)) != 0) {
			cli_err(
			    "the agent stopped sending events (it exited, or this client read too slowly and was dropped): %s",
			    rep.message != NULL ? rep.message :
						  jit_strerror(r));
			ex = JITCTL_EXIT_FAIL;
			goto out;
		}
		if (json)
			printf("%s\n",
			    json_object_to_json_string_ext(rep.result,
				JSON_C_TO_STRING_PLAIN |
				    JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			print_line(rep.result);
		fflush(stdout);
		seen++;
	}
	ex = JITCTL_EXIT_OK;
out:
	client_reply_reset(&rep);
	return ex;
}
