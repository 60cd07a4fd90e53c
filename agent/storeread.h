/* The background pass that reads the credential files start-up only named. */
#ifndef JIT_STOREREAD_H
#define JIT_STOREREAD_H

struct agent;

/* Start reading, a bounded batch per loop turn, once the agent serves. */
void storeread_start(struct agent *ag);
void storeread_stop(struct agent *ag);

#endif
