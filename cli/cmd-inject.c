/* jitctl inject: fill a template's {{ name.field }} with credentials' values. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "err.h"
#include "exec-env.h"
#include "fields.h"
#include "jitctl.h"
#include "mask.h"
#include "prompt.h"
#include "proto-names.h"
#include "run.h"
#include "secret.h"
#include "wire.h"

static const char inject_help[] =
    "usage: jitctl inject [-i TEMPLATE] [--force] [--pin-fd N]\n"
    "       jitctl inject [-i TEMPLATE] -o FILE [--no-masking] [--pin-fd N] -- COMMAND [ARGS...]\n"
    "\n"
    "Fill a template (TEMPLATE, or stdin; at most 64 KiB) whose\n"
    "{{ name.field }} stand for the fields of unlocked credentials.  Every\n"
    "name and field is checked before anything is unlocked or written.\n"
    "Without -o the result goes to stdout (not a terminal unless --force).\n"
    "With -o it is written to FILE, a new file of mode 0600 on a memory\n"
    "file system (tmpfs: $XDG_RUNTIME_DIR, /dev/shm), COMMAND runs, and\n"
    "FILE is removed when COMMAND ends; its output is filtered as with\n"
    "exec, and jitctl exits with its status.\n"
    "\n"
    "  -i, --in TEMPLATE   the template (default: stdin)\n"
    "  -o, --out FILE      write there, run COMMAND, remove it\n"
    "      --force         print even to a terminal\n"
    "      --no-masking    leave COMMAND's output alone\n"
    "  -p, --pin-fd N      the PIN, for credentials with step-up always\n"
    "  -h, --help          this text\n";

#define INJECT_TEMPLATE_MAX (64 * 1024)
#define INJECT_OUT_MAX (1024 * 1024)
#define INJECT_REFS_MAX 256
#define REF_MAX (CLI_NAME_MAX + FIELD_NAME_MAX + 1)
#define CLI_NAME_MAX 64

enum {
	OPT_FORCE = 256,
	OPT_NO_MASKING,
};

struct ref {
	size_t start, end; /* the {{ ... }} in the template */
	char name[CLI_NAME_MAX + 1];
	char field[FIELD_NAME_MAX + 1];
	size_t cred; /* index into the credentials */
};

struct inject {
	struct ref refs[INJECT_REFS_MAX];
	size_t nrefs;
	struct exec_cred creds[EXEC_CREDS_MAX];
	size_t ncreds;
};

static bool
ref_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static size_t
line_of(const uint8_t *t, size_t at)
{
	size_t i, line = 1;

	for (i = 0; i < at; i++)
		if (t[i] == '\n')
			line++;
	return line;
}

/* The credential entry named name in the status result, or NULL. */
static struct json_object *
status_cred(struct json_object *status, const char *name)
{
	return cli_jfind(
	    cli_jarray(status, JP_RES_STATUS_CREDENTIALS), JP_CRED_NAME, name);
}

static bool
has_field(struct json_object *cred, const char *field)
{
	struct json_object *arr = cli_jarray(cred, JP_CRED_FIELDS);
	size_t i, n = arr == NULL ? 0 : json_object_array_length(arr);

	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(
			       json_object_array_get_idx(arr, i)),
			field) == 0)
			return true;
	return false;
}

/*
 * "name.field": names may hold dots too, so the longest name that is a
 * credential wins.  A refusal is said with the template's line.
 */
static int
resolve(
    struct json_object *status, const char *text, size_t line, struct ref *ref)
{
	struct json_object *cred = NULL;
	const char *dot, *near;
	size_t n;

	for (dot = strrchr(text, '.'); dot != NULL && dot > text;) {
		n = (size_t)(dot - text);
		if (n <= CLI_NAME_MAX) {
			memcpy(ref->name, text, n);
			ref->name[n] = '\0';
			if ((cred = status_cred(status, ref->name)) != NULL)
				break;
		}
		while (--dot > text && *dot != '.')
			;
		if (*dot != '.')
			dot = NULL;
	}
	if (cred == NULL) {
		dot = strchr(text, '.');
		n = dot != NULL ? (size_t)(dot - text) : strlen(text);
		snprintf(ref->name, sizeof(ref->name), "%.*s",
		    (int)(n < CLI_NAME_MAX ? n : CLI_NAME_MAX), text);
		if (dot == NULL) {
			cli_err(
			    "template line %zu: {{ %s }} is not {{ name.field }}",
			    line, text);
			return JIT_E_ARG;
		}
		near = cli_nearest_cred(status, ref->name);
		if (near != NULL)
			cli_err(
			    "template line %zu: no credential named %s (did you mean %s?)",
			    line, ref->name, near);
		else
			cli_err(
			    "template line %zu: no credential named %s: see 'jitctl status'",
			    line, ref->name);
		return JIT_E_ARG;
	}
	snprintf(ref->field, sizeof(ref->field), "%s", dot + 1);
	if (!has_field(cred, ref->field)) {
		char list[512];

		cli_jjoin(
		    cli_jarray(cred, JP_CRED_FIELDS), ", ", list, sizeof(list));
		cli_err(
		    "template line %zu: %s has no field '%s' (its fields: %s)",
		    line, ref->name, ref->field, list);
		return JIT_E_ARG;
	}
	return JIT_OK;
}

/* Find every {{ ... }}, check it against the agent's status. */
static int
parse_template(
    const uint8_t *t, size_t len, struct json_object *status, struct inject *in)
{
	char text[REF_MAX + 1];
	size_t i = 0, a, b, j, k;
	struct ref *ref;
	int r;

	while (i + 1 < len) {
		if (t[i] != '{' || t[i + 1] != '{') {
			i++;
			continue;
		}
		if (in->nrefs >= INJECT_REFS_MAX) {
			cli_err("the template has more than %d references",
			    INJECT_REFS_MAX);
			return JIT_E_ARG;
		}
		ref = &in->refs[in->nrefs];
		ref->start = i;
		for (a = i + 2; a < len && t[a] == ' '; a++)
			;
		for (b = a; b < len && ref_char(t[b]); b++)
			;
		for (j = b; j < len && t[j] == ' '; j++)
			;
		if (j + 1 >= len || t[j] != '}' || t[j + 1] != '}' || b == a ||
		    b - a > REF_MAX) {
			cli_err(
			    "template line %zu: '{{' opens no {{ name.field }}",
			    line_of(t, i));
			return JIT_E_ARG;
		}
		memcpy(text, t + a, b - a);
		text[b - a] = '\0';
		if ((r = resolve(status, text, line_of(t, i), ref)) != 0)
			return r;
		ref->end = j + 2;
		for (k = 0; k < in->ncreds; k++)
			if (strcmp(in->creds[k].name, ref->name) == 0)
				break;
		if (k == in->ncreds) {
			if (in->ncreds >= EXEC_CREDS_MAX) {
				cli_err(
				    "the template names more than %d credentials",
				    EXEC_CREDS_MAX);
				return JIT_E_ARG;
			}
			in->creds[k].name = ref->name;
			in->ncreds++;
		}
		ref->cred = k;
		in->nrefs++;
		i = ref->end;
	}
	return JIT_OK;
}

/* The filled template, in guarded memory. */
static int
render(
    const uint8_t *t, size_t len, const struct inject *in, struct secret **ret)
{
	struct wire_writer w;
	struct field f;
	size_t i, at = 0;
	int r = JIT_OK;

	wire_writer_init(&w, INJECT_OUT_MAX, true);
	for (i = 0; i < in->nrefs && r == 0; i++) {
		const struct ref *ref = &in->refs[i];

		if ((r = wire_put_bytes(&w, t + at, ref->start - at)) != 0 ||
		    (r = fields_get(
			 in->creds[ref->cred].fields, ref->field, &f)) != 0 ||
		    (r = wire_put_bytes(&w, f.val, f.vallen)) != 0)
			break;
		at = ref->end;
	}
	if (r == 0 && (r = wire_put_bytes(&w, t + at, len - at)) == 0)
		r = wire_writer_take_secret(&w, ret);
	wire_writer_reset(&w);
	return r;
}

/* -o FILE: a new file, 0600, on a file system that is memory only. */
static int
open_out(const char *path, int *ret)
{
	struct statfs sf;
	char *dir, *slash;
	int fd;

	if ((dir = strdup(path)) == NULL)
		return JIT_E_NOMEM;
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, strlen(dir) + 1, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (statfs(dir, &sf) != 0 ||
	    (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)) {
		cli_err(
		    "%s is not on a memory file system (tmpfs): a secret is never written to disk; use $XDG_RUNTIME_DIR or /dev/shm",
		    path);
		free(dir);
		return JIT_E_ARG;
	}
	free(dir);
	if ((fd = open(path,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) <
	    0) {
		cli_err("cannot create %s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (it must be a new file)" : "");
		return JIT_E_ARG;
	}
	*ret = fd;
	return JIT_OK;
}

struct inject_opts {
	const char *in, *out;
	bool force, masking;
	int pin_fd;
	char **cmd;
};

static int
parse_args(int argc, char **argv, struct inject_opts *o)
{
	static const struct option opts[] = {
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "no-masking", no_argument, NULL, OPT_NO_MASKING },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = cli_getopt(argc, argv, "+:i:o:p:h", opts)) != -1) {
		switch (c) {
		case 'i': o->in = optarg; break;
		case 'o': o->out = optarg; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_NO_MASKING: o->masking = false; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &o->pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case 'h': (void)cli_help(inject_help); return -1;
		default: return cli_getopt_error(c, argv);
		}
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (o->out == NULL && optind < argc)
		return cli_usage_error(
		    "a command needs --out FILE: the file it reads, removed when it ends");
	if (o->out != NULL && optind >= argc)
		return cli_usage_error(
		    "--out FILE needs a command (-- COMMAND): the file is removed when it ends");
	o->cmd = argv + optind;
	return JITCTL_EXIT_OK;
}

static int
read_template(const char *path, struct secret **ret)
{
	int fd = STDIN_FILENO, r;

	if (path != NULL &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		cli_err("cannot open %s: %s", path, strerror(errno));
		return JIT_E_ARG;
	}
	if (path == NULL && isatty(fd)) {
		cli_err("the template comes from --in FILE or a pipe");
		return JIT_E_ARG;
	}
	r = prompt_read_all(fd, INJECT_TEMPLATE_MAX, ret);
	if (path != NULL)
		close(fd);
	if (r == JIT_E_LIMIT)
		cli_err("the template is larger than %d KiB",
		    INJECT_TEMPLATE_MAX / 1024);
	else if (r != 0)
		cli_err("cannot read the template: %s", jit_strerror(r));
	return r != 0 ? JIT_E_ARG : JIT_OK;
}

int
inject_main(int argc, char **argv)
{
	struct inject_opts o = { .masking = true, .pin_fd = -1 };
	struct client_reply st = { .retries = -1 };
	struct inject *in = NULL;
	struct secret *tpl = NULL, *out = NULL;
	const struct secret *all[EXEC_CREDS_MAX];
	struct mask_set *mask = NULL;
	bool created = false;
	size_t i;
	int r, ex, fd = -1;

	if ((ex = parse_args(argc, argv, &o)) != 0)
		return ex < 0 ? JITCTL_EXIT_OK : ex;
	if (o.out == NULL && isatty(STDOUT_FILENO) && !o.force) {
		cli_err(
		    "refusing to print secrets to a terminal; pipe it, use --out FILE -- COMMAND, or pass --force");
		return JITCTL_EXIT_USAGE;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return cli_fail_code(JIT_E_NOMEM, NULL);
	/* Sealed (no core, no ptrace) before anything is read. */
	if ((r = cli_connect(&st)) != 0) {
		ex = cli_fail(r, &st);
		goto out;
	}
	client_reply_reset(&st);
	if (read_template(o.in, &tpl) != 0) {
		ex = JITCTL_EXIT_USAGE;
		goto out;
	}
	if ((r = status_fetch(&st)) != 0) {
		ex = cli_fail(r, &st);
		goto out;
	}
	if (parse_template(secret_ptr(tpl), secret_len(tpl), st.result, in) !=
	    0) {
		ex = JITCTL_EXIT_LOCKED;
		goto out;
	}
	for (i = 0; i < in->ncreds; i++) {
		if ((ex = get_fields(in->creds[i].name, NULL, "get", "inject",
			 o.pin_fd, &in->creds[i].cred, &in->creds[i].fields)) !=
		    0)
			goto out;
		all[i] = in->creds[i].fields;
	}
	cli_disconnect();
	if ((r = render(secret_ptr(tpl), secret_len(tpl), in, &out)) != 0) {
		ex = cli_fail_code(r, "cannot fill the template");
		goto out;
	}
	if (o.out == NULL) {
		r = cli_write_all(
		    STDOUT_FILENO, secret_ptr(out), secret_len(out));
		ex = r == 0 ? JITCTL_EXIT_OK :
			      cli_fail_code(r, "cannot write to stdout");
		goto out;
	}
	if (o.masking && (r = mask_set_new(all, in->ncreds, &mask)) != 0) {
		ex = cli_fail_code(r, "cannot set up the output filter");
		goto out;
	}
	if (open_out(o.out, &fd) != 0) {
		ex = JITCTL_EXIT_USAGE;
		goto out;
	}
	created = true;
	r = cli_write_all(fd, secret_ptr(out), secret_len(out));
	if (close(fd) != 0 && r == 0)
		r = JIT_E_IO;
	fd = -1;
	if (r != 0) {
		ex = cli_fail_code(r, "cannot write %s", o.out);
		goto out;
	}
	for (i = 0; i < in->ncreds; i++) {
		secret_free(in->creds[i].fields);
		in->creds[i].fields = NULL;
	}
	secret_free(out);
	out = NULL;
	ex = run_child(o.cmd, NULL, mask, NULL, NULL);
out:
	if (fd >= 0)
		close(fd);
	if (created && unlink(o.out) != 0)
		cli_err("cannot remove %s: %s", o.out, strerror(errno));
	for (i = 0; in != NULL && i < in->ncreds; i++) {
		json_object_put(in->creds[i].cred);
		secret_free(in->creds[i].fields);
	}
	free(in);
	mask_set_free(mask);
	secret_free(tpl);
	secret_free(out);
	client_reply_reset(&st);
	return ex;
}
