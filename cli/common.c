/* Helpers every verb shares: messages, exit codes, the agent, JSON, tables. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "err.h"
#include "fields.h"
#include "fsutil.h"
#include "isotime.h"
#include "jitctl.h"
#include "jsonx.h"
#include "optcheck.h"
#include "prompt.h"
#include "proto-names.h"

#define SOCK_LEAF "jit-agent/agent.sock"
#define TABLE_GAP 2

static const char *cli_verb;
static bool cli_line_open;

void
cli_set_verb(const char *verb)
{
	cli_verb = verb;
}

void
cli_close_line(void)
{
	if (cli_line_open)
		fputc('\n', stderr);
	cli_line_open = false;
}

static void vmsg(bool prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
vmsg(bool prefix, const char *fmt, va_list ap)
{
	char raw[1024], safe[1024];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	cli_sanitize(raw, safe, sizeof(safe));
	if (prefix) {
		cli_close_line();
		if (cli_verb != NULL)
			fprintf(stderr, "jitctl: %s: %s\n", cli_verb, safe);
		else
			fprintf(stderr, "jitctl: %s\n", safe);
	} else {
		/* An open notice is finished by this line, on the same line. */
		fprintf(stderr, "%s\n", safe);
		cli_line_open = false;
	}
}

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(true, fmt, ap);
	va_end(ap);
}

void
cli_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(false, fmt, ap);
	va_end(ap);
}

void
cli_notice_open(const char *fmt, ...)
{
	char raw[512], safe[512];
	va_list ap;

	cli_close_line();
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	cli_sanitize(raw, safe, sizeof(safe));
	fprintf(stderr, "%s ", safe);
	fflush(stderr);
	cli_line_open = true;
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(true, fmt, ap);
	va_end(ap);
	if (cli_verb != NULL)
		fprintf(stderr, "Try 'jitctl %s --help'.\n", cli_verb);
	else
		fprintf(stderr, "Try 'jitctl --help'.\n");
	return JITCTL_EXIT_USAGE;
}

int
cli_getopt(
    int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	static char **checked;
	char why[OPTCHECK_WHY_MAX];
	int r;

	/* Once per argv, before getopt_long has seen (or permuted) it. */
	if (checked != argv) {
		checked = argv;
		r = optcheck(argc, argv, shortopts, longopts, why, sizeof(why));
		if (r == JIT_E_DENIED) {
			cli_err("%s", why); /* one sentence, no --help hint */
			return CLI_OPT_REFUSED;
		}
		if (r != 0) {
			(void)cli_usage_error("%s", why);
			return CLI_OPT_REFUSED;
		}
	}
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

int
cli_getopt_error(int c, char **argv)
{
	if (c == CLI_OPT_REFUSED)
		return JITCTL_EXIT_USAGE; /* said by cli_getopt */
	if (c == ':')
		return cli_usage_error(
		    "option %s needs a value", argv[optind - 1]);
	if (optopt != 0)
		return cli_usage_error("unknown option -%c", optopt);
	return cli_usage_error("unknown option %s", argv[optind - 1]);
}

int
cli_pin_fd(const char *opt, const char *arg, int *ret)
{
	int fd;

	/* No sentence repeats arg: it may be the PIN typed by mistake. */
	if ((fd = prompt_parse_fd(arg)) < 0) {
		cli_err(
		    "%s takes the number of a file descriptor to read the PIN from (%s 3 3<FILE): " OPTCHECK_SECRETS_FROM,
		    opt, opt);
		return JITCTL_EXIT_USAGE;
	}
	if (fcntl(fd, F_GETFD) < 0) {
		cli_err(
		    "%s names a file descriptor that is not open: open one for the PIN (%s 3 3<FILE); " OPTCHECK_SECRETS_FROM,
		    opt, opt);
		return JITCTL_EXIT_USAGE;
	}
	if (isatty(fd)) {
		cli_err(
		    "%s names a terminal, where the PIN would show as it is typed: leave %s out to be asked with echo off",
		    opt, opt);
		return JITCTL_EXIT_USAGE;
	}
	*ret = fd;
	return JITCTL_EXIT_OK;
}

int
cli_help(const char *text)
{
	fputs(text, stdout);
	return JITCTL_EXIT_OK;
}

void
cli_duration(int64_t s, char *out, size_t outlen)
{
	duration_format(s, out, outlen);
}

void
cli_time(int64_t t, char *out, size_t outlen)
{
	isotime_format(t, false, out, outlen);
}

int
jitctl_exit_code(int err)
{
	switch (err) {
	case JIT_OK: return JITCTL_EXIT_OK;
	case JIT_E_ARG:
	case JIT_E_SIMULATED: return JITCTL_EXIT_USAGE;
	case JIT_E_AGENT: return JITCTL_EXIT_AGENT;
	case JIT_E_LOCKED:
	case JIT_E_EXPIRED:
	case JIT_E_NOENT:
	case JIT_E_AGENT_LOCKED: return JITCTL_EXIT_LOCKED;
	case JIT_E_DENIED:
	case JIT_E_NO_TOUCH:
	case JIT_E_PIN:
	case JIT_E_PIN_BLOCKED:
	case JIT_E_PIN_REQUIRED:
	case JIT_E_NODEV:
	case JIT_E_NOTOKEN:
	case JIT_E_WRONG_TOKEN:
	case JIT_E_UNVERIFIED:
	case JIT_E_HW:
	case JIT_E_PEER: return JITCTL_EXIT_AUTH;
	default: return JITCTL_EXIT_FAIL;
	}
}

int
cli_fail_code(int r, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	if (fmt == NULL) {
		cli_err("%s", jit_strerror(r));
		return jitctl_exit_code(r);
	}
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	cli_err("%s: %s", detail, jit_strerror(r));
	return jitctl_exit_code(r);
}

/*
 * "no credential named pq: see 'jitctl status'" from the agent: said with
 * the nearest name there is, if one is near ("did you mean pg?").
 */
static bool
cli_fail_nearest(const struct client_reply *rep)
{
	static const char lead[] = "no credential named ";
	struct client_reply st = { .retries = -1 };
	const char *near = NULL;
	char name[80];
	size_t n;

	if (strncmp(rep->message, lead, strlen(lead)) != 0)
		return false;
	n = strcspn(rep->message + strlen(lead), ": ");
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, rep->message + strlen(lead), n);
	name[n] = '\0';
	if (status_fetch(&st) == 0)
		near = cli_nearest_cred(st.result, name);
	if (near != NULL)
		cli_err("%s (did you mean %s?)", rep->message, near);
	client_reply_reset(&st);
	return near != NULL;
}

const char *
cli_tmp_dir(void)
{
	const char *d = getenv("XDG_RUNTIME_DIR");

	if (d != NULL && d[0] == '/')
		return d;
	d = getenv("TMPDIR");
	return d != NULL && d[0] == '/' ? d : "/tmp";
}

bool
cli_reason_ok(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > CLI_REASON_MAX)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int
cli_fail(int r, const struct client_reply *rep)
{
	char n[16];

	if (rep == NULL || rep->message == NULL) {
		cli_err("%s", jit_strerror(r));
		return jitctl_exit_code(r);
	}
	if (r == JIT_E_NOENT && rep->from_agent && cli_fail_nearest(rep))
		return jitctl_exit_code(r);
	/* The tries left, unless the agent's sentence already says. */
	snprintf(n, sizeof(n), "%d", rep->retries);
	/* None left: the agent's sentence says when the token takes one. */
	if (rep->from_agent && rep->retries > 0 && r == JIT_E_PIN &&
	    strstr(rep->message, n) == NULL)
		cli_err("%s (%d tr%s left)", rep->message, rep->retries,
		    rep->retries == 1 ? "y" : "ies");
	else
		cli_err("%s", rep->message);
	return jitctl_exit_code(r);
}

void
cli_sanitize(const char *s, char *out, size_t outlen)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		/* Keep UTF-8; no byte may move the cursor or start an escape. */
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[i] = '\0';
}

bool
cli_env_name_ok(const uint8_t *s, size_t n)
{
	return fields_env_name(s, n) != 0;
}

int
cli_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t k;

	while (n > 0) {
		if ((k = write(fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			return JIT_E_IO;
		}
		b += k;
		n -= (size_t)k;
	}
	return JIT_OK;
}

/* $XDG_RUNTIME_DIR/jit-agent/agent.sock: jit-agent --user-socket's. */
static int
user_socket_path(char **ret)
{
	const char *v;

	if ((v = getenv("XDG_RUNTIME_DIR")) == NULL || v[0] != '/')
		return JIT_E_AGENT;
	if (asprintf(ret, "%s/%s", v, SOCK_LEAF) < 0)
		return JIT_E_NOMEM;
	return JIT_OK;
}

int
cli_socket_path(char **ret)
{
	const char *v;
	char *p = NULL;

	if (jitctl_socket_opt != NULL)
		p = strdup(jitctl_socket_opt);
	else if ((v = getenv("JIT_AGENT_SOCK")) != NULL && v[0] != '\0')
		p = strdup(v);
	else if ((v = getenv("SSH_AUTH_SOCK")) != NULL && v[0] != '\0')
		p = strdup(v);
	else
		return user_socket_path(ret);
	if (p == NULL)
		return JIT_E_NOMEM;
	*ret = p;
	return JIT_OK;
}

/*
 * Found through SSH_AUTH_SOCK alone, the agent may be another ssh-agent
 * (a desktop's, a forwarded one) while jit-agent serves the per-user
 * socket: then that one, if it is there.
 */
static bool
retry_user_socket(const char *path, int r, char **ret)
{
	const char *v;
	struct stat st;

	if (jitctl_socket_opt != NULL ||
	    ((v = getenv("JIT_AGENT_SOCK")) != NULL && v[0] != '\0') ||
	    (r != JIT_E_UNSUPPORTED && r != JIT_E_AGENT))
		return false;
	if (user_socket_path(ret) != 0)
		return false;
	if (strcmp(*ret, path) == 0 || lstat(*ret, &st) != 0) {
		free(*ret);
		*ret = NULL;
		return false;
	}
	return true;
}

/* The one connection of this process: see cli_connect(). */
static struct client *cli_conn;
static bool cli_conn_used;

int
cli_seal(void)
{
	/* From now on no process of ours may ptrace or dump this one, and
	 * /proc/PID/exe is no longer readable by the agent. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return JIT_E_INTERNAL;
	return JIT_OK;
}

/* Connect to path and say hello: JIT_OK, or the reply says why not. */
static int
connect_hello(const char *path, struct client_reply *rep)
{
	char why[CLIENT_MSG_MAX];
	int r, e;

	if ((r = client_connect(path, &cli_conn, why, sizeof(why))) != 0) {
		e = errno;
		if (r == JIT_E_PEER)
			return client_reply_fail(rep, JIT_E_AGENT, "%s", why);
		if (why[0] != '\0')
			return client_reply_fail(rep, JIT_E_AGENT,
			    "%s: start it with 'eval \"$(jit-agent)\"' or set JIT_AGENT_SOCK",
			    why);
		return client_reply_fail(rep, JIT_E_AGENT,
		    "cannot reach jit-agent at %s (%s): start it with 'eval \"$(jit-agent)\"' or set JIT_AGENT_SOCK",
		    path, strerror(e));
	}
	/*
	 * The agent reads /proc/PID/exe when it accepts, before it reads a
	 * byte: any reply means it is done, and only then may this process
	 * become non-dumpable, before it reads any PIN or secret.
	 */
	if ((r = client_call(cli_conn, JP_VERB_HELLO, NULL, NULL, rep)) != 0) {
		cli_disconnect();
		if (r == JIT_E_UNSUPPORTED)
			return client_reply_fail(rep, r,
			    "the agent at %s is an ssh-agent but not jit-agent: set JIT_AGENT_SOCK to jit-agent's socket, or pass -s PATH",
			    path);
		return r;
	}
	return JIT_OK;
}

int
cli_connect(struct client_reply *rep)
{
	char *path = NULL, *other = NULL;
	int r;

	client_reply_reset(rep);
	if (cli_conn != NULL)
		return JIT_OK;
	/* Once sealed, a new connection would show the agent no program. */
	if (cli_conn_used)
		return client_reply_fail(
		    rep, JIT_E_AGENT, "the connection to jit-agent was lost");
	if ((r = cli_socket_path(&path)) != 0)
		return client_reply_fail(rep, r,
		    "no agent socket: pass -s PATH, or set JIT_AGENT_SOCK (eval \"$(jit-agent)\") or XDG_RUNTIME_DIR");
	if ((r = connect_hello(path, rep)) != 0 &&
	    retry_user_socket(path, r, &other)) {
		client_reply_reset(rep);
		r = connect_hello(other, rep);
	}
	free(path);
	free(other);
	if (r != 0)
		return r;
	cli_conn_used = true;
	client_reply_reset(rep);
	if ((r = cli_seal()) != 0) {
		cli_disconnect();
		return client_reply_fail(
		    rep, r, "cannot protect this process: %s", jit_strerror(r));
	}
	return JIT_OK;
}

void
cli_disconnect(void)
{
	client_free(cli_conn);
	cli_conn = NULL;
}

int
cli_request(const char *verb, struct json_object *args,
    const struct secret *sec, struct client_reply *rep)
{
	int r;

	if ((r = cli_connect(rep)) != 0)
		return r;
	/* A transport failure leaves the stream out of step: drop it. */
	if ((r = client_call(cli_conn, verb, args, sec, rep)) != 0 &&
	    !rep->from_agent && r != JIT_E_UNSUPPORTED)
		cli_disconnect();
	return r;
}

int
cli_next(const char *verb, struct client_reply *rep)
{
	int r;

	if (cli_conn == NULL)
		return client_reply_fail(
		    rep, JIT_E_AGENT, "the connection to jit-agent was lost");
	if ((r = client_next(cli_conn, verb, rep)) != 0 && !rep->from_agent)
		cli_disconnect();
	return r;
}

const char *
cli_jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int64_t
cli_jint(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return dflt;
	return json_object_get_int64(v);
}

bool
cli_jbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return false;
	return json_object_get_boolean(v);
}

struct json_object *
cli_jarray(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

struct json_object *
cli_jfind(struct json_object *arr, const char *key, const char *val)
{
	struct json_object *o;
	const char *s;
	size_t i, n;

	if (arr == NULL || val == NULL)
		return NULL;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(arr, i);
		if ((s = cli_jstr(o, key)) != NULL && strcmp(s, val) == 0)
			return o;
	}
	return NULL;
}

void
cli_jjoin(struct json_object *arr, const char *sep, char *out, size_t outlen)
{
	struct json_object *v;
	size_t i, n, used = 0;
	char safe[256];

	if (outlen == 0)
		return;
	out[0] = '\0';
	n = arr == NULL ? 0 : json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(v, json_type_string))
			continue;
		cli_sanitize(json_object_get_string(v), safe, sizeof(safe));
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
		    used > 0 ? sep : "", safe);
		if (used >= outlen) {
			out[outlen - 1] = '\0';
			return;
		}
	}
}

int
cli_print_json(struct json_object *o)
{
	const char *s;

	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s == NULL)
		return JIT_E_NOMEM;
	if (printf("%s\n", s) < 0 || fflush(stdout) != 0)
		return JIT_E_IO;
	return JIT_OK;
}

int
cli_jappend(struct json_object *arr, const char *s)
{
	struct json_object *v;

	if ((v = json_object_new_string(s)) == NULL)
		return JIT_E_NOMEM;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return JIT_E_NOMEM;
	}
	return JIT_OK;
}

struct table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells; /* nrows * ncols */
};

int
table_new(size_t ncols, struct table **ret)
{
	struct table *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return JIT_E_NOMEM;
	t->ncols = ncols;
	*ret = t;
	return JIT_OK;
}

int
table_add(struct table *t, const char *const *cells)
{
	char **nc, *c;
	size_t i, len;

	if (t->nrows == t->cap) {
		size_t ncap = t->cap == 0 ? 16 : t->cap * 2;

		if ((nc = reallocarray(
			 t->cells, ncap * t->ncols, sizeof(*nc))) == NULL)
			return JIT_E_NOMEM;
		t->cells = nc;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		const char *s = cells[i] == NULL ? "-" : cells[i];

		len = strlen(s) + 1;
		if ((c = malloc(len)) == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return JIT_E_NOMEM;
		}
		cli_sanitize(s, c, len);
		t->cells[t->nrows * t->ncols + i] = c;
	}
	t->nrows++;
	return JIT_OK;
}

/* Columns on a terminal: count UTF-8 lead bytes, not bytes. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
table_print(const struct table *t, FILE *f)
{
	size_t *width, r, c, w, last;
	const char *cell;

	if ((width = calloc(t->ncols, sizeof(*width))) == NULL)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if ((w = text_width(t->cells[r * t->ncols + c])) >
			    width[c])
				width[c] = w;
	for (r = 0; r < t->nrows; r++) {
		/* No padding after the last cell with something in it. */
		for (last = t->ncols; last > 1; last--)
			if (t->cells[r * t->ncols + last - 1][0] != '\0')
				break;
		for (c = 0; c < last; c++) {
			cell = t->cells[r * t->ncols + c];
			fputs(cell, f);
			if (c + 1 == last)
				break;
			for (w = text_width(cell); w < width[c] + TABLE_GAP;
			     w++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(width);
}

void
table_free(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int
cli_read_text(const char *path, size_t max, char **ret, size_t *ret_len)
{
	char *buf;
	size_t n = 0;
	ssize_t k;

	if (strcmp(path, "-") != 0)
		return fs_read_file(path, max, ret, ret_len);
	if ((buf = malloc(max + 1)) == NULL)
		return JIT_E_NOMEM;
	while (n < max) {
		if ((k = read(STDIN_FILENO, buf + n, max - n)) < 0 &&
		    errno == EINTR)
			continue;
		if (k < 0) {
			free(buf);
			return JIT_E_IO;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	/* More than max is refused, as fs_read_file refuses it. */
	if (n == max && read(STDIN_FILENO, &buf[n], 1) == 1) {
		free(buf);
		return JIT_E_LIMIT;
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = n;
	return JIT_OK;
}
