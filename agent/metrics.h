/* metrics_file: who holds which credential until when, for node_exporter's textfile collector. */
#ifndef JIT_METRICS_H
#define JIT_METRICS_H

#include <stddef.h>

struct agent;
struct event_rec;

#define METRICS_FILE_MAX (256 * 1024)

/* The event bus's listener: count the event, rewrite the file soon. */
void metrics_event(struct agent *ag, const struct event_rec *e, void *arg);
/* At start-up (and after a reload): write the file now. */
void metrics_start(struct agent *ag);
/* At exit: close the timer. */
void metrics_stop(struct agent *ag);
/* The text, for the file and the tests; malloc'd. */
int metrics_render(struct agent *ag, char **ret, size_t *ret_len);

#endif
