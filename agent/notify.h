/* Telling the person that a touch is awaited: [agent] notify. */
#ifndef JIT_NOTIFY_H
#define JIT_NOTIFY_H

#include <stdint.h>

#include "agent.h"

#define NOTIFY_AFTER_MS 2000
#define NOTIFY_DEFAULT "/usr/bin/notify-send"

struct notify;

/*
 * A touch is awaited for peer p: if it still is after NOTIFY_AFTER_MS,
 * the notify command runs with JIT_NOTIFY_EVENT=show, and again with
 * JIT_NOTIFY_EVENT=withdraw when the wait ends (notify_disarm), so that
 * it can take its notice back.  Its environment names the credentials
 * (JIT_NOTIFY_CREDENTIAL), the token (JIT_NOTIFY_TOKEN), the window
 * (JIT_NOTIFY_WINDOW, seconds), the client (JIT_NOTIFY_PID, JIT_NOTIFY_EXE,
 * JIT_NOTIFY_CHAIN: its process chain) and the sentence to show
 * (JIT_NOTIFY_TEXT).  Without [agent] notify, notify-send shows the
 * sentence when it is installed (it cannot withdraw).  NULL when there
 * is nothing to run.
 */
struct notify *notify_arm(struct agent *ag, const char *names,
    const char *token, int64_t window_s, const struct peer *p);
/* The wait ended: withdraw what was shown, or show nothing (NULL ok). */
void notify_disarm(struct notify *n);

#endif
