/* Unlocked credentials in guarded memory, their windows, and their wiping. */
#ifndef JIT_VAULT_H
#define JIT_VAULT_H

#include <stdint.h>

#include "agent.h"
#include "store.h"

struct vault_slot {
	struct cred *cred;
	struct vault_slot *prev, *next;
	struct secret *fields; /* NULL for step-up always/pin */
	int64_t until_ms; /* CLOCK_BOOTTIME */
	int64_t until_wall; /* unix seconds, for display */
	int64_t last_use_ms; /* CLOCK_BOOTTIME: unlocked or served last */
	/* jitctl shell: served only to this process and its descendants,
	 * wiped at its exit (shell.c); pid 0: to any peer of the agent. */
	pid_t bound_pid;
	uint64_t bound_start;
	char token_label[HW_LABEL_MAX + 1];
};

struct vault;

int vault_new(struct agent *ag, struct vault **ret);
void vault_free(struct vault *v);
int64_t vault_now_ms(void); /* CLOCK_BOOTTIME */
/* For tests: the clocks the vault reads instead of CLOCK_BOOTTIME (ms) and
 * the wall clock (unix seconds); NULL for the system's. */
void vault_set_clocks(struct vault *v, int64_t (*boot_ms)(void *arg),
    int64_t (*wall_s)(void *arg), void *arg);

/* Install fields (taken, may be NULL) for c, open for window_s. */
int vault_unlock(struct vault *v, struct cred *c, struct secret *fields,
    int64_t window_s, const char *token_label);
/* JIT_OK if c may be served now; JIT_E_LOCKED; JIT_E_EXPIRED (and then
 * it was wiped and audited). */
int vault_check(struct vault *v, struct cred *c);
void vault_note_use(struct cred *c, const struct peer *p);
/* Wipe one (audited by the caller) or all; return how many were wiped. */
void vault_wipe(struct vault *v, struct cred *c);
size_t vault_wipe_all(struct vault *v);
size_t vault_count(const struct vault *v);
/* The latest unlock or use of what is unlocked (CLOCK_BOOTTIME ms); 0 if
 * nothing is unlocked. */
int64_t vault_last_use_ms(const struct vault *v);
struct vault_slot *vault_first(const struct vault *v);

#endif
