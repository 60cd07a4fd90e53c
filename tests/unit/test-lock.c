/* agent/lock.c: the one lock path.  A real agent's parts (store, vault,
 * hardware queue, configuration, revoker, audit log) on a libuv loop,
 * with credentials wrapped to a token made in software; the revoke
 * commands are /bin/sh lines from a configuration the test writes, and
 * they record what they were asked. */
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "config.h"
#if HAVE_UDEV
#include <libudev.h>
#endif

#include "agent-test.h"
#include "conf.h"
#include "fields.h"
#include "fsutil.h"
#include "hwq.h"
#include "revoke.h"
#include "seal.h"
#include "secret.h"
#include "store.h"
#include "tokenset.h"
#include "triggers-idle.h"
#include "triggers-removal.h"
#include "triggers.h"
#include "vault.h"

struct fixture {
	struct test_agent t;
	char marks[160]; /* what the revoke commands were asked */
};

/* Static: a struct agent and its loop are near the 4 KiB frame limit. */
static struct fixture fixture;

static void
setup(void)
{
	tmpdir_make("lock");
}

/* One token, in a set sealed as an enrollment seals it. */
static void
seed_token(struct store *s)
{
	struct tokenset *ts = NULL;
	struct secret *key = NULL, *sk = NULL;
	struct hw_token *t;
	uint8_t rnd[HW_ID_LEN / 2];

	ASSERT((t = calloc(1, sizeof(*t))) != NULL);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(t->id, sizeof(t->id), rnd, sizeof(rnd));
	t->label = strdup("laptop");
	t->type = strdup("fido2");
	t->device = strdup("/dev/hidraw7"); /* for the removal tests */
	t->backend = json_object_new_object();
	ASSERT(t->label != NULL && t->type != NULL && t->backend != NULL);
	ASSERT_OK(seal_x25519_keypair(t->recipient, &sk));
	ASSERT_OK(tokenset_new(&ts));
	ASSERT_OK(seal_random_key(&key));
	ASSERT_OK(tokenset_add(ts, t, sk, key));
	ASSERT_OK(store_replace_tokenset(s, ts));
	secret_free(key);
	secret_free(sk);
}

/* The configuration: pg-lock's profile revokes on lock, pg-keep's has a
 * revoke command but not on lock.  Each command appends "NAME WHY" to
 * the marks file. */
static void
write_conf(struct fixture *f, char *path, size_t pathlen)
{
	static const char rv[] =
	    "revoke = /bin/sh -c 'echo \"$JIT_NAME $JIT_REVOKE_WHY\" >> \"$0\"' ";
	char text[1024];
	int n;

	snprintf(f->marks, sizeof(f->marks), "%s/marks", tmpdir);
	snprintf(path, pathlen, "%s/config", tmpdir);
	n = snprintf(text, sizeof(text),
	    "[profile pg-lock]\nissuer = /bin/true\n%s%s\n"
	    "revoke_on_lock = yes\n\n"
	    "[profile pg-keep]\nissuer = /bin/true\n%s%s\n",
	    rv, f->marks, rv, f->marks);
	ASSERT(n > 0 && (size_t)n < sizeof(text));
	ASSERT_OK(fs_write_atomic(path, text, (size_t)n, 0600));
}

static void
put(struct agent *ag, const char *name, const char *profile, bool unlock)
{
	struct fields_builder b;
	struct cred_new cn;
	struct secret *fields = NULL;
	struct cred *c = NULL;

	ASSERT_OK(fields_begin(&b));
	ASSERT_OK(fields_add(&b, "secret", 6, (const uint8_t *)"hunter2", 7));
	ASSERT_OK(fields_finish(&b, &fields));
	memset(&cn, 0, sizeof(cn));
	cn.name = name;
	cn.kind = "secret";
	cn.ttl_s = 3600;
	cn.profile = profile;
	ASSERT_OK(store_put_cred(ag->store, &cn, fields, &c));
	if (unlock)
		ASSERT_OK(vault_unlock(ag->vault, c, fields, 900, "laptop"));
	else
		secret_free(fields);
}

/*
 * The agent: unlocked pg-lock, pg-keep and plain (no profile); stored but
 * locked pg-lock2 (revoke_on_lock too) and idle.
 */
static void
fixture_up(struct fixture *f)
{
	struct agent *ag = &f->t.ag;
	char conf[160], err[512];

	memset(f, 0, sizeof(*f));
	test_agent_up(&f->t);
	ASSERT_PASSING();
	write_conf(f, conf, sizeof(conf));
	ASSERT_PASSING();
	ASSERT_MSG(
	    conf_load(conf, true, &ag->conf, err, sizeof(err)) == 0, "%s", err);
	ASSERT_OK(store_open(tmpdir, &ag->store));
	ASSERT_OK(vault_new(ag, &ag->vault));
	ASSERT_OK(hwq_new(ag, &ag->hwq));
	ASSERT_OK(revoker_new(ag, &ag->revoker));
	seed_token(ag->store);
	ASSERT_PASSING();
	put(ag, "pg-lock", "pg-lock", true);
	put(ag, "pg-keep", "pg-keep", true);
	put(ag, "plain", NULL, true);
	put(ag, "pg-lock2", "pg-lock", false);
	put(ag, "idle", NULL, false);
	ASSERT_PASSING();
}

static bool
queue_empty(void *arg)
{
	return hwq_pending(arg) == 0;
}

static void
fixture_down(struct fixture *f)
{
	struct agent *ag = &f->t.ag;

	/* Revokes started by the lock run to their end first. */
	if (ag->hwq != NULL)
		ASSERT(run_until(&f->t.loop, queue_empty, ag->hwq));
	revoker_free(ag->revoker);
	vault_free(ag->vault);
	test_agent_down(&f->t);
	hwq_free(ag->hwq);
	store_free(ag->store);
	conf_free(ag->conf);
}

/* The members of a JSON array of strings, sorted, joined by spaces. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
names_of(struct json_object *arr, char *out, size_t outlen)
{
	const char *v[16];
	size_t i, n, used = 0;

	out[0] = '\0';
	if (arr == NULL || !json_object_is_type(arr, json_type_array))
		return;
	n = json_object_array_length(arr);
	for (i = 0; i < n && i < 16; i++)
		v[i] = json_object_get_string(
		    json_object_array_get_idx(arr, i));
	qsort(v, i, sizeof(v[0]), str_cmp);
	for (n = i, i = 0; i < n; i++)
		used += (size_t)snprintf(
		    out + used, outlen - used, "%s%s", i > 0 ? " " : "", v[i]);
}

static int64_t
ev_int(struct json_object *ev, const char *key)
{
	struct json_object *v;

	if (ev == NULL || !json_object_object_get_ex(ev, key, &v))
		return -1;
	return json_object_get_int64(v);
}

static struct json_object *
ev_member(struct json_object *ev, const char *key)
{
	struct json_object *v;

	if (ev == NULL || !json_object_object_get_ex(ev, key, &v))
		return NULL;
	return v;
}

static size_t
live_secrets(void)
{
	struct secret_stats st;

	secret_stats(&st);
	return st.live;
}

TMPDIR_TEST(a_lock_wipes_everything_unlocked)
{
	struct fixture *f = &fixture;
	struct agent *ag = &f->t.ag;
	struct json_object *locked, *revoked, *evs = NULL, *ev;
	struct peer p;
	char got[256];
	size_t live;

	fixture_up(f);
	ASSERT_PASSING();
	live = live_secrets();
	memset(&p, 0, sizeof(p));
	p.uid = geteuid();
	p.pid = 4242;
	snprintf(p.exe, sizeof(p.exe), "/usr/bin/jitctl");
	locked = json_object_new_array();
	revoked = json_object_new_array();
	ASSERT_EQ_UINT(vault_count(ag->vault), 3);
	ASSERT_EQ_UINT(agent_lock(ag, "agent locked (ssh-add -x)", NULL, &p,
			   locked, revoked),
	    3);
	ASSERT_EQ_UINT(vault_count(ag->vault), 0);
	ASSERT(store_cred(ag->store, "pg-lock")->slot == NULL);
	ASSERT(store_cred(ag->store, "pg-keep")->slot == NULL);
	ASSERT(store_cred(ag->store, "plain")->slot == NULL);
	ASSERT_EQ_UINT(live_secrets(), live - 3); /* the fields are gone */
	names_of(locked, got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-keep pg-lock plain");
	ASSERT_EQ_UINT(json_object_array_length(revoked), 0);
	/* Without revoke, nothing is revoked or deleted. */
	ASSERT_EQ_UINT(store_ncreds(ag->store), 5);
	ASSERT_EQ_UINT(hwq_pending(ag->hwq), 0);

	/* One audit line says it all. */
	ASSERT((evs = audit_events(f->t.audit_path)) != NULL);
	ASSERT_EQ_UINT(audit_count(evs, "lock"), 1);
	ASSERT_EQ_UINT(audit_count(evs, "revoke"), 0);
	ev = audit_event(evs, "lock", 0);
	ASSERT_EQ_STR(ev_str(ev, "why"), "agent locked (ssh-add -x)");
	ASSERT_EQ_INT(ev_int(ev, "count"), 3);
	names_of(ev_member(ev, "names"), got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-keep pg-lock plain");
	ASSERT(ev_member(ev, "revoked") == NULL);
	ASSERT_EQ_INT(ev_int(ev, "uid"), (int64_t)geteuid());
	ASSERT_EQ_INT(ev_int(ev, "pid"), 4242);
	ASSERT_EQ_STR(ev_str(ev, "exe"), "/usr/bin/jitctl");
	json_object_put(evs);
	evs = NULL;

	/* Locked again: nothing to wipe, and still audited, with no peer
	 * (a signal) and no lists asked for. */
	ASSERT_EQ_UINT(agent_lock(ag, "SIGTERM", NULL, NULL, NULL, NULL), 0);
	ASSERT((evs = audit_events(f->t.audit_path)) != NULL);
	ASSERT_EQ_UINT(audit_count(evs, "lock"), 2);
	ev = audit_event(evs, "lock", 1);
	ASSERT_EQ_STR(ev_str(ev, "why"), "SIGTERM");
	ASSERT_EQ_INT(ev_int(ev, "count"), 0);
	ASSERT(ev_member(ev, "uid") == NULL);
	json_object_put(evs);
	json_object_put(locked);
	json_object_put(revoked);
	fixture_down(f);
}

/* With revoke: what the profiles' revoke_on_lock says dies upstream too,
 * unlocked or not, and its file goes; the rest is only wiped. */
TMPDIR_TEST(a_lock_with_revoke_kills_revoke_on_lock_upstream)
{
	struct fixture *f = &fixture;
	struct agent *ag = &f->t.ag;
	struct json_object *locked, *revoked, *evs = NULL, *ev;
	char got[256], *marks = NULL, path[256];
	size_t len;
	struct stat st;

	fixture_up(f);
	ASSERT_PASSING();
	locked = json_object_new_array();
	revoked = json_object_new_array();
	/* pg-lock is wiped by its revoke: it is listed as revoked. */
	ASSERT_EQ_UINT(
	    agent_lock(ag, "SIGUSR1", "SIGUSR1", NULL, locked, revoked), 2);
	ASSERT_EQ_UINT(vault_count(ag->vault), 0);
	names_of(locked, got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-keep plain");
	names_of(revoked, got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-lock pg-lock2");
	/* Revoked ones are deleted, file and all; the others stay. */
	ASSERT(store_cred(ag->store, "pg-lock") == NULL);
	ASSERT(store_cred(ag->store, "pg-lock2") == NULL);
	snprintf(path, sizeof(path), "%s/creds/pg-lock.json", tmpdir);
	ASSERT(stat(path, &st) != 0);
	ASSERT(store_cred(ag->store, "pg-keep") != NULL);
	ASSERT(store_cred(ag->store, "plain") != NULL);
	ASSERT(store_cred(ag->store, "idle") != NULL);

	/* The commands run off the loop; wait for them. */
	ASSERT_MSG(run_until(&f->t.loop, queue_empty, ag->hwq),
	    "%zu revokes still pending after %d ms", hwq_pending(ag->hwq),
	    TEST_DEADLINE_MS);
	ASSERT_OK(fs_read_file(f->marks, 4096, &marks, &len));
	ASSERT_MSG(strcmp(marks, "pg-lock SIGUSR1\npg-lock2 SIGUSR1\n") == 0 ||
		strcmp(marks, "pg-lock2 SIGUSR1\npg-lock SIGUSR1\n") == 0,
	    "the revoke commands were asked: %s", marks);
	free(marks);

	ASSERT((evs = audit_events(f->t.audit_path)) != NULL);
	ASSERT_EQ_UINT(audit_count(evs, "lock"), 1);
	ev = audit_event(evs, "lock", 0);
	ASSERT_EQ_STR(ev_str(ev, "why"), "SIGUSR1");
	ASSERT_EQ_INT(ev_int(ev, "count"), 2);
	names_of(ev_member(ev, "names"), got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-keep plain");
	names_of(ev_member(ev, "revoked"), got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-lock pg-lock2");
	/* Each revoke is audited when decided, and when done. */
	ASSERT_EQ_UINT(audit_count(evs, "revoke"), 2);
	ASSERT_EQ_STR(ev_str(audit_event(evs, "revoke", 0), "why"), "SIGUSR1");
	ASSERT_EQ_UINT(audit_count(evs, "revoke-done"), 2);
	ASSERT_EQ_UINT(audit_count(evs, "revoke-failed"), 0);
	json_object_put(evs);
	json_object_put(locked);
	json_object_put(revoked);

	/* Again, with nothing unlocked and nothing left to revoke. */
	revoked = json_object_new_array();
	ASSERT_EQ_UINT(
	    agent_lock(ag, "SIGUSR1", "SIGUSR1", NULL, NULL, revoked), 0);
	ASSERT_EQ_UINT(json_object_array_length(revoked), 0);
	ASSERT_EQ_UINT(store_ncreds(ag->store), 3);
	ASSERT_EQ_UINT(hwq_pending(ag->hwq), 0);
	json_object_put(revoked);
	fixture_down(f);
}

/* What lock.c hands the keys from ssh-add: the trigger, each time. */
static char ssh_keys_trigger[64];
static size_t
count_ssh_keys(struct agent *ag, const char *trigger)
{
	(void)ag;
	snprintf(ssh_keys_trigger, sizeof(ssh_keys_trigger), "%s", trigger);
	return 2;
}

/* A touch that waits until it is cancelled (as the FIDO2 backend does
 * with auth->cancel). */
struct touch_job {
	struct hwjob hj; /* first: hwq frees it */
	char *aborted_by; /* the test's copy, written by done() */
	bool *done;
};

static void
touch_run(struct hwjob *hj)
{
	time_t until = time(NULL) + TEST_DEADLINE_MS / 1000;

	while (!hj->cancel && time(NULL) < until)
		usleep(1000);
	hj->result = hj->cancel ? JIT_E_CANCELLED : JIT_E_TIMEOUT;
}

static void
touch_done(struct hwjob *hj)
{
	struct touch_job *j = (struct touch_job *)hj;

	snprintf(j->aborted_by, 64, "%s", hj->aborted_by);
	*j->done = true;
}

static bool
flag_set(void *arg)
{
	return *(bool *)arg;
}

/* Every lock aborts the touches awaited, and covers the ssh-add keys; the
 * audit line counts both. */
TMPDIR_TEST(a_lock_aborts_touches_and_covers_ssh_add_keys)
{
	struct fixture *f = &fixture;
	struct agent *ag = &f->t.ag;
	struct touch_job *j;
	struct json_object *evs = NULL, *ev;
	char aborted_by[64] = "";
	bool done = false;

	fixture_up(f);
	ASSERT_PASSING();
	ag->lock_ssh_keys = count_ssh_keys;
	ASSERT((j = calloc(1, sizeof(*j))) != NULL);
	ASSERT((j->hj.device = strdup("sim:touch")) != NULL);
	j->hj.awaits_person = true;
	j->hj.run = touch_run;
	j->hj.done = touch_done;
	j->aborted_by = aborted_by;
	j->done = &done;
	ASSERT_OK(hwq_submit(ag->hwq, &j->hj));
	/* pg-lock is revoked (revoke_on_lock), the other two wiped. */
	ASSERT_EQ_UINT(
	    agent_lock(ag, "screen locked", "screen-lock", NULL, NULL, NULL),
	    2);
	ASSERT_EQ_STR(ssh_keys_trigger, "screen locked");
	ASSERT_MSG(run_until(&f->t.loop, flag_set, &done),
	    "the touch was not aborted within %d ms", TEST_DEADLINE_MS);
	ASSERT_EQ_STR(aborted_by, "screen locked");
	ASSERT((evs = audit_events(f->t.audit_path)) != NULL);
	ev = audit_event(evs, "lock", 0);
	ASSERT_EQ_STR(ev_str(ev, "why"), "screen locked");
	ASSERT_EQ_INT(ev_int(ev, "aborted"), 1);
	ASSERT_EQ_INT(ev_int(ev, "ssh_keys"), 2);
	json_object_put(evs);
	fixture_down(f);
}

/* idle_lock: nothing happens before the time without a use, everything
 * is wiped after it; a use starts the count again. */
TMPDIR_TEST(idle_lock_wipes_after_the_idle_time)
{
	struct fixture *f = &fixture;
	struct agent *ag = &f->t.ag;
	struct json_object *evs = NULL, *ev;
	struct peer p;
	int64_t t0;

	fixture_up(f);
	ASSERT_PASSING();
	ag->conf->idle_lock_s = 600;
	ASSERT_OK(idle_trigger_start(ag));
	ASSERT(triggers_armed(ag, "idle"));
	t0 = vault_last_use_ms(ag->vault);
	ASSERT(t0 > 0);
	ASSERT(!idle_check(ag, t0 + 599 * 1000));
	ASSERT_EQ_UINT(vault_count(ag->vault), 3);
	/* A use moves the start of the idle time. */
	memset(&p, 0, sizeof(p));
	vault_note_use(store_cred(ag->store, "plain"), &p);
	ASSERT(vault_last_use_ms(ag->vault) >= t0);
	ASSERT(!idle_check(ag, vault_last_use_ms(ag->vault) + 599 * 1000));
	ASSERT(idle_check(ag, vault_last_use_ms(ag->vault) + 600 * 1000));
	ASSERT_EQ_UINT(vault_count(ag->vault), 0);
	/* Nothing unlocked: nothing to lock, no more lines. */
	ASSERT(!idle_check(ag, t0 + 7200 * 1000));
	ASSERT((evs = audit_events(f->t.audit_path)) != NULL);
	ASSERT_EQ_UINT(audit_count(evs, "lock"), 1);
	ev = audit_event(evs, "lock", 0);
	ASSERT_EQ_STR(ev_str(ev, "why"), "idle for 10m00s");
	ASSERT_EQ_INT(ev_int(ev, "count"), 2);
	json_object_put(evs);
	/* Unset at a reload: off, and said so. */
	ag->conf->idle_lock_s = 0;
	ASSERT_OK(idle_trigger_start(ag));
	ASSERT(!triggers_armed(ag, "idle"));
	triggers_free(ag);
	fixture_down(f);
}

/* A token's removal: udev's remove event of its hidraw node locks, when
 * the token opened something unlocked and lock_on_removal allows it. */
TMPDIR_TEST(removing_the_token_that_opened_credentials_locks)
{
	struct fixture *f = &fixture;
	struct agent *ag = &f->t.ag;
	struct json_object *evs = NULL, *ev;
	char got[256];
#if HAVE_UDEV
	struct udev *u;
	struct udev_device *d;
#endif

	fixture_up(f);
	ASSERT_PASSING();
#if HAVE_UDEV
	/* A real device as libudev describes it (not hidraw, no action):
	 * passed through the handler, it locks nothing. */
	ASSERT((u = udev_new()) != NULL);
	if ((d = udev_device_new_from_syspath(u, "/sys/class/mem/null")) !=
	    NULL) {
		ASSERT_EQ_STR(udev_device_get_subsystem(d), "mem");
		ASSERT(!removal_udev_event(ag, "remove",
		    udev_device_get_subsystem(d), udev_device_get_devnode(d)));
		udev_device_unref(d);
	}
	udev_unref(u);
#endif
	/* What udev sends for a key plugged in, and for another key. */
	ASSERT(!removal_udev_event(ag, "add", "hidraw", "/dev/hidraw7"));
	ASSERT(!removal_udev_event(ag, "remove", "hidraw", "/dev/hidraw8"));
	ASSERT(!removal_udev_event(ag, "remove", "hidraw", NULL));
	ASSERT_EQ_UINT(vault_count(ag->vault), 3);
	/* lock_on_removal = no: said in the log, nothing wiped. */
	ag->conf->lock_on_removal = false;
	ASSERT(!removal_udev_event(ag, "remove", "hidraw", "/dev/hidraw7"));
	ASSERT_EQ_UINT(vault_count(ag->vault), 3);
	ag->conf->lock_on_removal = true;
	ASSERT(removal_udev_event(ag, "remove", "hidraw", "/dev/hidraw7"));
	ASSERT_EQ_UINT(vault_count(ag->vault), 0);
	/* Nothing it opened is unlocked now: a second event does nothing. */
	ASSERT(!removal_udev_event(ag, "remove", "hidraw", "/dev/hidraw7"));
	ASSERT((evs = audit_events(f->t.audit_path)) != NULL);
	ASSERT_EQ_UINT(audit_count(evs, "lock"), 1);
	ev = audit_event(evs, "lock", 0);
	ASSERT_EQ_STR(ev_str(ev, "why"), "token laptop removed (unplugged)");
	names_of(ev_member(ev, "revoked"), got, sizeof(got));
	ASSERT_EQ_STR(got, "pg-lock pg-lock2");
	ASSERT_EQ_STR(ev_str(audit_event(evs, "revoke", 0), "why"), "removal");
	json_object_put(evs);
	fixture_down(f);
}

static const struct test_case tests[] = {
	TEST_ENTRY(a_lock_wipes_everything_unlocked),
	TEST_ENTRY(a_lock_with_revoke_kills_revoke_on_lock_upstream),
	TEST_ENTRY(a_lock_aborts_touches_and_covers_ssh_add_keys),
	TEST_ENTRY(idle_lock_wipes_after_the_idle_time),
	TEST_ENTRY(removing_the_token_that_opened_credentials_locks),
};

TEST_MAIN(tests)
