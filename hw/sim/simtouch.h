/* Scripted touch, shared by the simulators (jit-sim-fido2, jit-sim-piv). */
#ifndef JIT_SIM_TOUCH_H
#define JIT_SIM_TOUCH_H

#include <stdint.h>

/* Touch: how long "timeout" waits before giving up, and how long "ask"
 * waits for an answer. */
#define SIM_TOUCH_TIMEOUT_MS 3000
#define SIM_TOUCH_TIMEOUT_ENV "JIT_SIM_TOUCH_TIMEOUT_MS"
#define SIM_TOUCH_FILE_ENV "JIT_SIM_TOUCH_FILE"
#define SIM_TOUCH_ASK_TIMEOUT_MS 30000
#define SIM_TOUCH_DELAY_MAX_MS 600000

enum sim_touch_mode {
	SIM_TOUCH_APPROVE = 0,
	SIM_TOUCH_DENY,
	SIM_TOUCH_TIMEOUT,
	SIM_TOUCH_DELAY,
	SIM_TOUCH_ASK,
};

struct sim_touch {
	enum sim_touch_mode mode;
	int delay_ms; /* SIM_TOUCH_DELAY */
};

enum sim_wait_result {
	SIM_WAIT_ELAPSED = 0,
	SIM_WAIT_CANCEL,
	SIM_WAIT_FD,
};

enum sim_ask_result {
	SIM_ASK_TOUCHED = 0,
	SIM_ASK_DENIED,
	SIM_ASK_TIMEOUT,
	SIM_ASK_CANCELLED,
};

/* "approve", "deny", "timeout", "delay=MS" or "ask". */
int sim_touch_parse(const char *s, struct sim_touch *ret);
/* The mode for this touch: the control file named by JIT_SIM_TOUCH_FILE if
 * it holds a valid mode, else *dflt.  Non-zero when a control file is
 * named but unusable (the caller may log it). */
int sim_touch_current(const struct sim_touch *dflt, struct sim_touch *t);
/* The wait of "timeout": JIT_SIM_TOUCH_TIMEOUT_MS, else the default. */
int sim_touch_timeout_from_env(void);
/* Ask a person on /dev/tty (stderr/stdin without one) for up to
 * SIM_TOUCH_ASK_TIMEOUT_MS; wait(ctx, ms, fd) waits up to ms for fd while
 * the simulator keeps its transport served. */
enum sim_ask_result sim_touch_ask(
    enum sim_wait_result (*wait)(void *ctx, uint64_t ms, int fd), void *ctx);
/* Milliseconds on a monotonic clock. */
uint64_t sim_touch_now_ms(void);

#endif
