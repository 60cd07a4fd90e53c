/* A PIV card pulled out locks: PC/SC reader events from pcscd. */
#ifndef JIT_TRIGGERS_PCSC_H
#define JIT_TRIGGERS_PCSC_H

#include "agent.h"
#include "config.h"

#if HAVE_PIV
/*
 * Once a PIV token is enrolled, a thread waits in SCardGetStatusChange on
 * every reader (and on readers appearing); a card going from present to
 * absent, or its reader going away, is handed to the loop, which reports
 * each PIV token whose device names that reader to removal_device_gone().
 * Without pcscd it says so once and tries again at the next unlock.
 */
void pcsc_trigger_start(struct agent *ag);
/* After each unlock: start watching if not yet (a PIV token enrolled
 * since, pcscd started since). */
void pcsc_trigger_rescan(struct agent *ag);
/* SIGHUP: status says what lock_on_removal now says. */
void pcsc_trigger_note(struct agent *ag);
void pcsc_trigger_stop(struct agent *ag);
#else
static inline void
pcsc_trigger_start(struct agent *ag)
{
	(void)ag;
}
static inline void
pcsc_trigger_rescan(struct agent *ag)
{
	(void)ag;
}
static inline void
pcsc_trigger_note(struct agent *ag)
{
	(void)ag;
}
static inline void
pcsc_trigger_stop(struct agent *ag)
{
	(void)ag;
}
#endif

#endif
