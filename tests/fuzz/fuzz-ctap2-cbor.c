/* libFuzzer harness: CTAP2 requests into jit-sim-fido2's CBOR dispatcher. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t resp[SIM_MSG_MAX];

static void
run(const uint8_t *data, size_t size, const char *pin)
{
	struct sim_config cfg;
	struct sim_dev *d = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.touch.mode = SIM_TOUCH_APPROVE;
	if (pin != NULL) {
		cfg.pin = (const uint8_t *)pin;
		cfg.pin_len = strlen(pin);
	}
	if (sim_dev_new(&cfg, &d) != 0)
		return;
	/* No transport: a touch is approved at once, nothing is sent. */
	(void)ctap2_handle(d, data, size, resp, sizeof(resp));
	sim_dev_free(d);
}

/* Each input is one request, served by a token without a PIN and by one
 * with a PIN, whose paths differ (PIN_REQUIRED, clientPIN checks). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SIM_MSG_MAX)
		return 0;
	run(data, size, NULL);
	run(data, size, "1234");
	return 0;
}
