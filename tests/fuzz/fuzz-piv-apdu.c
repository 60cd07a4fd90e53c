/* libFuzzer harness: vpcd messages (APDUs and controls) into jit-sim-piv's card. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "simpiv.h"
#include "wire.h"

#define FUZZ_NAME "fuzz-piv-apdu"
#include "fuzz.h"

/*
 * Input: messages as vpcd sends them, each a 2-byte big-endian length and
 * its bytes; a 1-byte message is a control (power off, on, reset), longer
 * ones are command APDUs.  The card has no state file and approves every
 * touch at once, so nothing waits.  Every answer must fit the reply
 * buffer and end with a status word.
 */
#define FUZZ_MESSAGES_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct piv_card *card;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_reader r;
	struct piv_config cfg;
	uint8_t reply[PIV_REPLY_MAX];
	const uint8_t *p;
	uint16_t len;
	size_t n, count = 0;

	/* One card for the run (making its attestation CA is slow); every
	 * input starts with a reset, as a new connection would. */
	if (card == NULL) {
		if (sodium_init() < 0)
			fail("libsodium failed to start");
		memset(&cfg, 0, sizeof(cfg));
		cfg.touch.mode = SIM_TOUCH_APPROVE;
		if (piv_card_new(&cfg, &card) != 0)
			fail("cannot make a card");
	}
	piv_power(card, PIV_RESET);
	wire_reader_init(&r, data, size);
	while (count++ < FUZZ_MESSAGES_MAX && wire_get_u16(&r, &len) == 0 &&
	    wire_left(&r) >= len) {
		p = wire_cursor(&r);
		(void)wire_skip(&r, len);
		if (len == 1) {
			piv_power(card, p[0] % 3);
			continue;
		}
		n = piv_apdu(card, p, len, reply);
		CHECK(n >= 2 && n <= PIV_REPLY_MAX);
		CHECK(reply[n - 2] != 0x00);
	}
	return 0;
}
