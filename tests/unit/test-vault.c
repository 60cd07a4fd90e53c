/* agent/vault.c: unlock windows on the boot clock, not-after on the wall
 * clock, refusals, wiping, and the expiry timer on a real libuv loop.
 * Credentials are plain struct creds (the vault reads name, not_after and
 * its slot); expiries are read back from a real audit log. */
#include <time.h>

#include "agent-test.h"
#include "secret.h"
#include "store.h"
#include "vault.h"

/* Clocks the test moves by hand: boot in ms, wall in unix seconds. */
struct clocks {
	int64_t boot_ms;
	int64_t wall_s;
};

static int64_t
fake_boot(void *arg)
{
	return ((struct clocks *)arg)->boot_ms;
}

static int64_t
fake_wall(void *arg)
{
	return ((struct clocks *)arg)->wall_s;
}

struct fixture {
	struct test_agent t;
	struct clocks clk;
	char names[4][16];
	struct cred c[4];
};

/* Static: a struct agent and four creds are over the 4 KiB frame limit. */
static struct fixture fixture;

static void
setup(void)
{
	tmpdir_make("vault");
}

/* An agent with a vault and four credentials "c0".."c3", valid for an
 * hour; with fake clocks if fake. */
static void
fixture_up(struct fixture *f, bool fake)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	test_agent_up(&f->t);
	ASSERT_PASSING();
	ASSERT_OK(vault_new(&f->t.ag, &f->t.ag.vault));
	f->clk.boot_ms = 5000000;
	f->clk.wall_s = 1700000000;
	if (fake)
		vault_set_clocks(f->t.ag.vault, fake_boot, fake_wall, &f->clk);
	for (i = 0; i < 4; i++) {
		snprintf(f->names[i], sizeof(f->names[i]), "c%zu", i);
		f->c[i].name = f->names[i];
		f->c[i].not_after = (fake ? f->clk.wall_s :
					    (int64_t)time(NULL)) +
		    3600;
		f->c[i].last_uid = -1;
	}
}

static void
fixture_down(struct fixture *f)
{
	size_t i;

	for (i = 0; i < 4; i++)
		free(f->c[i].last_exe);
	vault_free(f->t.ag.vault);
	f->t.ag.vault = NULL;
	test_agent_down(&f->t);
}

/* Fields with one value, in guarded memory. */
static struct secret *
fields(const char *value)
{
	struct secret *s = NULL;

	if (secret_from(value, strlen(value), &s) != 0)
		return NULL;
	return s;
}

static size_t
live_secrets(void)
{
	struct secret_stats st;

	secret_stats(&st);
	return st.live;
}

/* The expiries logged, in order: "name:why" joined by spaces. */
static void
expiries(const struct test_agent *t, char *out, size_t outlen)
{
	struct json_object *evs = audit_events(t->audit_path), *e;
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; evs != NULL && (e = audit_event(evs, "expire", i)) != NULL;
	     i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s:%s",
		    i > 0 ? " " : "", ev_str(e, "name"), ev_str(e, "why"));
	json_object_put(evs);
}

TMPDIR_TEST(unlock_opens_a_window)
{
	struct fixture *f = &fixture;
	struct secret *s;
	size_t live;

	fixture_up(f, true);
	ASSERT_PASSING();
	live = live_secrets();
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_LOCKED);
	ASSERT((s = fields("hunter2")) != NULL);
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[0], s, 60, "laptop"));
	ASSERT_OK(vault_check(f->t.ag.vault, &f->c[0]));
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 1);
	ASSERT(vault_first(f->t.ag.vault) == f->c[0].slot);
	ASSERT(f->c[0].slot->cred == &f->c[0]);
	ASSERT(f->c[0].slot->fields == s);
	ASSERT_EQ_STR(f->c[0].slot->token_label, "laptop");
	ASSERT_EQ_INT(f->c[0].slot->until_ms, f->clk.boot_ms + 60000);
	ASSERT_EQ_INT(f->c[0].slot->until_wall, f->clk.wall_s + 60);
	ASSERT_EQ_UINT(live_secrets(), live + 1);
	/* Unlocked again: the new fields replace the old (released), the
	 * window starts again, and there is still one slot. */
	f->clk.boot_ms += 30000;
	ASSERT((s = fields("hunter3")) != NULL);
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[0], s, 60, "yk"));
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 1);
	ASSERT(f->c[0].slot->fields == s);
	ASSERT_EQ_STR(f->c[0].slot->token_label, "yk");
	ASSERT_EQ_INT(f->c[0].slot->until_ms, f->clk.boot_ms + 60000);
	ASSERT_EQ_UINT(live_secrets(), live + 1);
	/* A window past not-after is shown as ending at not-after. */
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[1], NULL, 7200, "laptop"));
	ASSERT_EQ_INT(f->c[1].slot->until_wall, f->c[1].not_after);
	ASSERT(f->c[1].slot->fields == NULL); /* step-up always: no fields */
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 2);
	fixture_down(f);
	ASSERT_EQ_UINT(live_secrets(), live);
}

/* The window ends on the boot clock, before not-after: locked again. */
TMPDIR_TEST(the_window_ends_first)
{
	struct fixture *f = &fixture;
	char got[256];
	size_t live;

	fixture_up(f, true);
	ASSERT_PASSING();
	live = live_secrets();
	ASSERT_OK(vault_unlock(
	    f->t.ag.vault, &f->c[0], fields("hunter2"), 60, "laptop"));
	/* The wall clock is the user's to set: moving it, either way,
	 * neither ends nor stretches the window. */
	f->clk.wall_s += 1800;
	f->clk.boot_ms += 59999;
	ASSERT_OK(vault_check(f->t.ag.vault, &f->c[0]));
	f->clk.wall_s -= 7200;
	f->clk.boot_ms += 1;
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_LOCKED);
	ASSERT(f->c[0].slot == NULL);
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 0);
	ASSERT_EQ_UINT(live_secrets(), live); /* the fields were released */
	/* Asked again, it is locked, and the expiry was logged once. */
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_LOCKED);
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got, "c0:unlock window ended");
	fixture_down(f);
}

/* Not-after passes on the wall clock before the window ends: expired,
 * and it stays expired. */
TMPDIR_TEST(not_after_ends_first)
{
	struct fixture *f = &fixture;
	char got[256];
	size_t live;

	fixture_up(f, true);
	ASSERT_PASSING();
	live = live_secrets();
	f->c[0].not_after = f->clk.wall_s + 60;
	ASSERT_OK(vault_unlock(
	    f->t.ag.vault, &f->c[0], fields("hunter2"), 3600, "laptop"));
	ASSERT_EQ_INT(f->c[0].slot->until_wall, f->c[0].not_after);
	f->clk.wall_s += 59;
	ASSERT_OK(vault_check(f->t.ag.vault, &f->c[0]));
	f->clk.wall_s += 1; /* the boot clock has not moved */
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_EXPIRED);
	ASSERT(f->c[0].slot == NULL);
	ASSERT_EQ_UINT(live_secrets(), live);
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_EXPIRED);
	/* Both passed at once: not-after is what is said. */
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[1], NULL, 60, "laptop"));
	f->clk.boot_ms += 60000;
	f->clk.wall_s = f->c[1].not_after;
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[1]), JIT_E_EXPIRED);
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got, "c0:not-after reached c1:not-after reached");
	fixture_down(f);
}

TMPDIR_TEST(check_refuses_what_was_never_unlocked)
{
	struct fixture *f = &fixture;
	char got[256];

	fixture_up(f, true);
	ASSERT_PASSING();
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_LOCKED);
	f->c[1].not_after = f->clk.wall_s;
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[1]), JIT_E_EXPIRED);
	/* Unlocking one does not open another. */
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[2], NULL, 60, "laptop"));
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[0]), JIT_E_LOCKED);
	/* Nothing was wiped, so nothing expired. */
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got, "");
	fixture_down(f);
}

TMPDIR_TEST(wipe_and_wipe_all_release_the_fields)
{
	struct fixture *f = &fixture;
	size_t live, i;
	char got[256];

	fixture_up(f, true);
	ASSERT_PASSING();
	live = live_secrets();
	for (i = 0; i < 3; i++)
		ASSERT_OK(vault_unlock(
		    f->t.ag.vault, &f->c[i], fields("secret"), 60, "laptop"));
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[3], NULL, 60, "laptop"));
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 4);
	ASSERT_EQ_UINT(live_secrets(), live + 3);
	/* One, from the middle of the list. */
	vault_wipe(f->t.ag.vault, &f->c[1]);
	ASSERT(f->c[1].slot == NULL);
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 3);
	ASSERT_EQ_UINT(live_secrets(), live + 2);
	ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[1]), JIT_E_LOCKED);
	ASSERT_OK(vault_check(f->t.ag.vault, &f->c[0]));
	ASSERT_OK(vault_check(f->t.ag.vault, &f->c[2]));
	vault_wipe(f->t.ag.vault, &f->c[1]); /* twice: nothing more */
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 3);
	/* The rest, the step-up one with no fields included. */
	ASSERT_EQ_UINT(vault_wipe_all(f->t.ag.vault), 3);
	ASSERT_EQ_UINT(vault_count(f->t.ag.vault), 0);
	ASSERT(vault_first(f->t.ag.vault) == NULL);
	for (i = 0; i < 4; i++) {
		ASSERT(f->c[i].slot == NULL);
		ASSERT_ERR(vault_check(f->t.ag.vault, &f->c[i]), JIT_E_LOCKED);
	}
	ASSERT_EQ_UINT(live_secrets(), live);
	/* Nothing left to expire: the timer no longer keeps the loop up. */
	ASSERT(!uv_loop_alive(&f->t.loop));
	ASSERT_EQ_UINT(vault_wipe_all(f->t.ag.vault), 0);
	/* A wipe is the caller's to audit, not an expiry. */
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got, "");
	fixture_down(f);
}

TMPDIR_TEST(note_use)
{
	struct fixture *f = &fixture;
	struct peer p;

	fixture_up(f, true);
	ASSERT_PASSING();
	memset(&p, 0, sizeof(p));
	p.uid = 1000;
	p.pid = 4242;
	snprintf(p.exe, sizeof(p.exe), "/usr/bin/psql");
	vault_note_use(&f->c[0], &p);
	vault_note_use(&f->c[0], &p);
	ASSERT_EQ_UINT(f->c[0].uses, 2);
	ASSERT_EQ_INT(f->c[0].last_uid, 1000);
	ASSERT_EQ_INT(f->c[0].last_pid, 4242);
	ASSERT_EQ_STR(f->c[0].last_exe, "/usr/bin/psql");
	fixture_down(f);
}

/* ---- the timer, on a real loop ---- */

static bool
vault_empty(void *arg)
{
	return vault_count(arg) == 0;
}

static bool
locked(void *arg)
{
	return ((struct cred *)arg)->slot == NULL;
}

/* Real clocks: windows of 1 and 2 seconds, and a not-after 4 seconds
 * away under a window of an hour, end on their own, in that order. */
TMPDIR_TEST(the_timer_ends_windows_in_order)
{
	struct fixture *f = &fixture;
	char got[256];
	size_t live;

	fixture_up(f, false);
	ASSERT_PASSING();
	live = live_secrets();
	f->c[2].not_after = (int64_t)time(NULL) + 4;
	ASSERT_OK(vault_unlock(
	    f->t.ag.vault, &f->c[2], fields("three"), 3600, "laptop"));
	ASSERT_OK(
	    vault_unlock(f->t.ag.vault, &f->c[1], fields("two"), 2, "laptop"));
	ASSERT_OK(
	    vault_unlock(f->t.ag.vault, &f->c[0], fields("one"), 1, "laptop"));
	ASSERT_MSG(run_until(&f->t.loop, vault_empty, f->t.ag.vault),
	    "still %zu unlocked after %d ms", vault_count(f->t.ag.vault),
	    TEST_DEADLINE_MS);
	ASSERT_EQ_UINT(live_secrets(), live);
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got,
	    "c0:unlock window ended c1:unlock window ended "
	    "c2:not-after reached");
	/* Nothing left: the timer is stopped. */
	ASSERT(!uv_loop_alive(&f->t.loop));
	fixture_down(f);
}

/*
 * A suspend: the boot clock runs on, libuv's monotonic clock (its timers)
 * does not.  After the resume the window must end at the vault's next
 * look, although no timer of the window's length has run out.
 */
TMPDIR_TEST(a_suspend_ends_the_window)
{
	struct fixture *f = &fixture;
	char got[256];

	fixture_up(f, true);
	ASSERT_PASSING();
	f->c[0].not_after = f->clk.wall_s + 86400;
	ASSERT_OK(vault_unlock(
	    f->t.ag.vault, &f->c[0], fields("hunter2"), 3600, "laptop"));
	ASSERT_OK(vault_unlock(f->t.ag.vault, &f->c[1], NULL, 7200, "laptop"));
	/* An hour and a second asleep. */
	f->clk.boot_ms += 3601 * 1000;
	ASSERT_MSG(run_until(&f->t.loop, locked, &f->c[0]),
	    "c0 still unlocked after %d ms of the loop", TEST_DEADLINE_MS);
	/* c1's window is not over: it is still open, and the loop still
	 * watches it. */
	ASSERT(f->c[1].slot != NULL);
	ASSERT(uv_loop_alive(&f->t.loop));
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got, "c0:unlock window ended");
	/* Another hour asleep: the second one goes too. */
	f->clk.boot_ms += 3600 * 1000;
	ASSERT_MSG(run_until(&f->t.loop, locked, &f->c[1]),
	    "c1 still unlocked after %d ms of the loop", TEST_DEADLINE_MS);
	expiries(&f->t, got, sizeof(got));
	ASSERT_EQ_STR(got, "c0:unlock window ended c1:unlock window ended");
	fixture_down(f);
}

static const struct test_case tests[] = {
	TEST_ENTRY(unlock_opens_a_window),
	TEST_ENTRY(the_window_ends_first),
	TEST_ENTRY(not_after_ends_first),
	TEST_ENTRY(check_refuses_what_was_never_unlocked),
	TEST_ENTRY(wipe_and_wipe_all_release_the_fields),
	TEST_ENTRY(note_use),
	TEST_ENTRY(the_timer_ends_windows_in_order),
	TEST_ENTRY(a_suspend_ends_the_window),
};

TEST_MAIN(tests)
