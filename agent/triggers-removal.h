/* A token removed locks: FIDO2 keys through udev, simulators' sockets. */
#ifndef JIT_TRIGGERS_REMOVAL_H
#define JIT_TRIGGERS_REMOVAL_H

#include "agent.h"

/*
 * Watches every enrolled token's device: a hidraw FIDO2 key through a
 * libudev monitor (its "remove" event), a simulator (sim:SOCKET) through
 * its socket file going away.  When a token that opened something now
 * unlocked goes away, the agent locks ("token LABEL removed (HOW)"), and
 * profiles with revoke_on_lock are revoked, unless lock_on_removal = no
 * (read at each removal, so SIGHUP applies it).
 */
void removal_trigger_start(struct agent *ag);
/* Tokens enrolled since: watch them too (after each unlock). */
void removal_trigger_rescan(struct agent *ag);
void removal_trigger_stop(struct agent *ag);
/* SIGHUP: status says what lock_on_removal now says. */
void removal_trigger_note(struct agent *ag);

/*
 * The one way a removal is reported: device is a token's device string
 * (a hidraw path, sim:SOCKET, and for PIV the PC/SC reader name that the
 * reader-events watcher of hw/piv passes here).  Returns true if it
 * locked.
 */
bool removal_device_gone(struct agent *ag, const char *device, const char *how);
/* A udev event as libudev gives it (the monitor's handler, and the unit
 * test's seam): action "remove" of subsystem "hidraw" with devnode. */
bool removal_udev_event(struct agent *ag, const char *action,
    const char *subsystem, const char *devnode);

#endif
