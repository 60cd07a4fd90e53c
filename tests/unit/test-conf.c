/* Unit tests of agent/conf.c: argv quoting, and configuration errors by line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assert.h"
#include "conf.h"
#include "conn.h"
#include "policy.h"
#include "err.h"

static char dir[] = "/tmp/jit-test-conf-XXXXXX";

/* Split s; the words joined with '|', or the error sentence. */
static int
split(const char *s, char *out, size_t outlen)
{
	struct conf_argv a = { NULL, 0 };
	char why[128];
	size_t i, used = 0;
	int r;

	out[0] = '\0';
	if ((r = conf_split_argv(s, &a, 4, why, sizeof(why))) != 0) {
		snprintf(out, outlen, "%s", why);
		conf_argv_free(&a);
		return r;
	}
	for (i = 0; i < a.n; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
		    i > 0 ? "|" : "", a.v[i]);
	if (a.n > 0 && a.v[a.n] != NULL)
		r = JIT_E_INTERNAL; /* must stay NULL-terminated */
	conf_argv_free(&a);
	return r;
}

/* The profile's allowed_executables, as policy.c applies them. */
static bool
exe_allowed(const struct conf_profile *p, const char *exe)
{
	struct peer peer;

	memset(&peer, 0, sizeof(peer));
	snprintf(peer.exe, sizeof(peer.exe), "%s", exe);
	return policy_exe_allowed(
	    (const char *const *)p->allowed_exes, p->nallowed_exes, &peer);
}

TEST(argv_words)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "/bin/a b  c", "/bin/a|b|c" },
		{ "\t/bin/a\tb ", "/bin/a|b" },
		{ "'/my issuers/x' y", "/my issuers/x|y" },
		{ "\"/a b\" \"q\\\"u\" \"b\\\\s\"", "/a b|q\"u|b\\s" },
		{ "\"a\\nb\"", "a\\nb" }, /* only \" and \\ inside "" */
		{ "my\\ issuer", "my issuer" },
		{ "a'b c'\"d\"e", "ab cde" },
		{ "'' x", "|x" },
		{ "'$HOME ~ * ; | >'", "$HOME ~ * ; | >" },
		{ "$HOME `id`", "$HOME|`id`" },
		{ "'it''s'", "its" },
		{ "", "" },
	};
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_MSG(split(cases[i].in, out, sizeof(out)) == JIT_OK,
		    "[%s] refused: %s", cases[i].in, out);
		ASSERT_MSG(strcmp(out, cases[i].want) == 0,
		    "[%s] gave [%s], want [%s]", cases[i].in, out,
		    cases[i].want);
	}
}

TEST(argv_refused)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{ "'open", "single quote" },
		{ "\"open", "double quote" },
		{ "a\\", "backslash ends" },
		{ "a\001b", "control character" },
		{ "a b c d e", "more than 4 words" },
	};
	char out[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_MSG(split(cases[i].in, out, sizeof(out)) == JIT_E_CONFIG,
		    "[%s] accepted", cases[i].in);
		ASSERT_MSG(strstr(out, cases[i].why) != NULL,
		    "[%s]: [%s] does not say [%s]", cases[i].in, out,
		    cases[i].why);
	}
}

static int
load_text(const char *text, struct conf **ret, char *err, size_t errlen)
{
	char path[sizeof(dir) + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/config", dir);
	unlink(path);
	if ((f = fopen(path, "w")) == NULL)
		return JIT_E_IO;
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
	err[0] = '\0';
	return conf_load(path, true, ret, err, errlen);
}

TEST(good_file)
{
	struct conf *c = NULL;
	const struct conf_profile *p;
	char err[512];

	ASSERT_OK(
	    load_text("; a comment\n"
		      "[agent]\n"
		      "default_window = 10m\n"
		      "touch_timeout = 20s\n"
		      "prefer = yk-primary,laptop  yk-backup\n"
		      "notify = /usr/bin/notify-send \"Touch your key\"\n"
		      "lock_on_removal = no\n"
		      "idle_lock = 20m\n"
		      "ssh_keys_on_lock = hold\n"
		      "\n"
		      "[profile pg]\n"
		      "issuer = '/usr/libexec/pg issue' --db main\n"
		      "  --more words\n"
		      "revoke = /usr/libexec/pg-revoke\n"
		      "revoke_fields = PGUSER\n"
		      "revoke_on_lock = yes\n"
		      "unlock_on_use = true\n"
		      "field.PGUSER = data.user\n"
		      "field.PGPASSWORD = data.password\n"
		      "max_ttl = 2h\n"
		      "allowed_executables = /usr/bin/jitctl /usr/bin/psql\n"
		      "[profile tok]\n"
		      "output = raw\n"
		      "issuer = /bin/echo x ; an inline comment\n",
		&c, err, sizeof(err)));
	ASSERT_MSG(c != NULL, "%s", err);
	ASSERT_EQ_INT(c->default_window_s, 600);
	ASSERT_EQ_INT(c->touch_timeout_s, 20);
	ASSERT_EQ_UINT(c->nprefer, 3);
	ASSERT_EQ_STR(c->prefer[0], "yk-primary");
	ASSERT_EQ_STR(c->prefer[1], "laptop");
	ASSERT_EQ_STR(c->prefer[2], "yk-backup");
	ASSERT_EQ_UINT(c->notify.n, 2);
	ASSERT_EQ_STR(c->notify.v[1], "Touch your key");
	ASSERT(!c->lock_on_removal);
	ASSERT_EQ_INT(c->idle_lock_s, 1200);
	ASSERT_EQ_INT(c->ssh_keys_on_lock, CONF_SSH_KEYS_HOLD);
	ASSERT_EQ_UINT(c->nprofiles, 2);
	ASSERT((p = conf_profile(c, "pg")) != NULL);
	ASSERT_EQ_STR(p->kind, "env");
	ASSERT_EQ_UINT(p->issuer.n, 5);
	ASSERT_EQ_STR(p->issuer.v[0], "/usr/libexec/pg issue");
	ASSERT_EQ_STR(p->issuer.v[4], "words");
	ASSERT_EQ_UINT(p->nmap, 2);
	ASSERT_EQ_STR(p->map[1].path, "data.password");
	ASSERT(p->revoke_on_lock);
	ASSERT(p->unlock_on_use);
	ASSERT_EQ_INT(p->max_ttl_s, 7200);
	ASSERT_EQ_INT(p->default_ttl_s, 3600);
	ASSERT_EQ_INT(p->timeout_s, CONF_TIMEOUT_DEFAULT_S);
	ASSERT(exe_allowed(p, "/usr/bin/psql"));
	ASSERT(!exe_allowed(p, "/usr/bin/python3"));
	ASSERT(!exe_allowed(p, "?")); /* an unresolved executable never is */
	ASSERT((p = conf_profile(c, "tok")) != NULL);
	ASSERT_EQ_STR(p->kind, "secret");
	ASSERT_EQ_UINT(p->issuer.n, 2);
	ASSERT(exe_allowed(p, "/anything"));
	ASSERT(conf_profile(c, "nope") == NULL);
	conf_free(c);
}

/* Each mistake is refused with its line and a sentence. */
TEST(errors_by_line)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[agent]\nfoo = 1\n", ":2: unknown key 'foo' in [agent]" },
		{ "x = 1\n", ":1: a key before any [section]" },
		{ "[profiles]\nissuer = /bin/true\n", ":2: unknown section" },
		{ "[profile a]\nissuer = /bin/true\n\n[profile a]\n"
		  "issuer = /bin/true\n",
		    ":5: [profile a] appears twice" },
		{ "[profile a]\nissuer = true\n",
		    ":2: issuer: the program "
		    "must be an absolute path" },
		{ "[profile a]\nissuer = /bin/true\nkind = secret\n"
		  "kind = env\n",
		    ":4: kind is given twice" },
		{ "[profile a]\nkind = ssh\nissuer = /bin/true\n",
		    ":2: kind: 'ssh' is not" },
		{ "[profile a]\nkind = env\n",
		    ":2: [profile a]: issuer is "
		    "missing" },
		{ "[profile a]\nissuer = /bin/true\nrevoke_on_lock = 1\n",
		    "need a revoke command" },
		{ "[profile a]\nissuer = /bin/true\nunlock_on_use = maybe\n",
		    ":3: unlock_on_use: true or false" },
		{ "[profile a]\nissuer = /bin/true\nunlock_on_use = yes\n"
		  "unlock_on_use = no\n",
		    ":4: unlock_on_use is given twice" },
		{ "[profile a]\nissuer = /bin/true\ndefault_ttl = 2h\n"
		  "max_ttl = 1h\n",
		    "default_ttl is longer than max_ttl" },
		{ "[profile a]\nissuer = /bin/true\nmax_ttl = soon\n",
		    ":3: max_ttl: 'soon' is not a duration" },
		{ "[profile a]\noutput = raw\nissuer = /bin/true\n"
		  "field.X = y\n",
		    "field mappings need output = json" },
		{ "[profile a]\nissuer = /bin/true\nrevoke = /bin/true\n"
		  "revoke_fields = B\nfield.A = a\n",
		    "B is not one of" },
		{ "[profile a]\nissuer = /bin/true\n  kind = env\n",
		    ":3: an indented line continues the value of issuer" },
		{ "[profile a]\nkind = env\n  more\n",
		    ":3: kind: only "
		    "commands and lists continue" },
		{ "[profile a]\nallowed_executables = psql\nissuer = /bin/x\n",
		    ":2: allowed_executables: 'psql' is not an absolute path" },
		{ "[profile a]\nissuer = /bin/true\nno equals sign\n",
		    ":3: expected [section], NAME = VALUE" },
		{ "[agent]\ntouch_timeout = 11m\n", ":2: touch_timeout" },
		{ "[agent]\nprefer = a\nprefer = b\n",
		    ":3: prefer is given twice" },
		{ "[agent]\nlock_on_removal = maybe\n",
		    ":2: lock_on_removal: true or false" },
		{ "[agent]\nidle_lock = soon\n", ":2: idle_lock: 'soon'" },
		{ "[agent]\nssh_keys_on_lock = keep\n",
		    ":2: ssh_keys_on_lock: remove or hold" },
		{ "[profile a/b]\nissuer = /bin/true\n", "a profile name is" },
	};
	struct conf *c;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = NULL;
		ASSERT_MSG(load_text(cases[i].text, &c, err, sizeof(err)) ==
			JIT_E_CONFIG,
		    "case %zu accepted", i);
		ASSERT(c == NULL);
		ASSERT_MSG(strstr(err, cases[i].want) != NULL,
		    "case %zu: [%s] does not say [%s]", i, err, cases[i].want);
	}
}

TEST(long_line)
{
	struct conf *c = NULL;
	char text[400], err[512];

	snprintf(text, sizeof(text), "[profile a]\nissuer = /bin/%0250d\n", 0);
	ASSERT_ERR(load_text(text, &c, err, sizeof(err)), JIT_E_CONFIG);
	ASSERT_MSG(
	    strstr(err, ":2: the line is longer than 196") != NULL, "%s", err);
}

TEST(file_checks)
{
	struct conf *c = NULL;
	char path[sizeof(dir) + 16], err[512];

	/* Absent: an empty configuration, unless it was asked for. */
	snprintf(path, sizeof(path), "%s/absent", dir);
	ASSERT_OK(conf_load(path, false, &c, err, sizeof(err)));
	ASSERT(c != NULL && !c->found && c->nprofiles == 0);
	conf_free(c);
	c = NULL;
	ASSERT_ERR(conf_load(path, true, &c, err, sizeof(err)), JIT_E_CONFIG);
	ASSERT(strstr(err, "no such file") != NULL);
	/* Writable by others: it names commands, so it is refused. */
	ASSERT_OK(load_text("[agent]\n", &c, err, sizeof(err)));
	/* The defaults: removal locks, no idle lock, ssh-add keys go. */
	ASSERT(c->lock_on_removal);
	ASSERT_EQ_INT(c->idle_lock_s, 0);
	ASSERT_EQ_INT(c->ssh_keys_on_lock, CONF_SSH_KEYS_REMOVE);
	conf_free(c);
	c = NULL;
	snprintf(path, sizeof(path), "%s/config", dir);
	ASSERT(chmod(path, 0622) == 0);
	ASSERT_ERR(conf_load(path, true, &c, err, sizeof(err)), JIT_E_CONFIG);
	ASSERT_MSG(strstr(err, "writable by no one else") != NULL, "%s", err);
	/* A FIFO in its place is refused at once, not waited on (a reload
	 * runs on the loop). */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ASSERT(mkfifo(path, 0600) == 0);
	ASSERT_ERR(conf_load(path, true, &c, err, sizeof(err)), JIT_E_CONFIG);
	ASSERT_MSG(strstr(err, "not a regular file") != NULL, "%s", err);
	unlink(path);
}

static const struct test_case tests[] = {
	TEST_ENTRY(argv_words),
	TEST_ENTRY(argv_refused),
	TEST_ENTRY(good_file),
	TEST_ENTRY(errors_by_line),
	TEST_ENTRY(long_line),
	TEST_ENTRY(file_checks),
};

static void
cleanup(void)
{
	char path[sizeof(dir) + 16];

	snprintf(path, sizeof(path), "%s/config", dir);
	unlink(path);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	if (mkdtemp(dir) == NULL)
		return TEST_EXIT_FAIL;
	atexit(cleanup);
	return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
