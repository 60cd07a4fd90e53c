/* libFuzzer harness: raw CTAPHID reports into jit-sim-fido2's framing. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sim.h"

/* Inputs longer than this many reports are cut: a message is at most
 * 129 reports, so this leaves room for several. */
#define FUZZ_REPORTS_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_send(void *ctx, const uint8_t pkt[CTAPHID_REPORT_LEN])
{
	(void)ctx;
	(void)pkt;
}

/* Nothing more arrives while a command runs: the link is gone. */
static enum sim_io_result
fuzz_recv(
    void *ctx, uint8_t pkt[CTAPHID_REPORT_LEN], int timeout_ms, int watch_fd)
{
	(void)ctx;
	(void)pkt;
	(void)timeout_ms;
	(void)watch_fd;
	return SIM_IO_CLOSED;
}

static const struct sim_io fuzz_io = { NULL, fuzz_send, fuzz_recv };

/*
 * The input is cut into 64-byte reports (the last one zero-padded) and
 * fed in order; every eighth report the transaction timer is looked at
 * too.  The touch is approved at once, so nothing waits.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_config cfg;
	struct sim_dev *d = NULL;
	uint8_t pkt[CTAPHID_REPORT_LEN];
	size_t off, n, count = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.touch.mode = SIM_TOUCH_APPROVE;
	if (sim_dev_new(&cfg, &d) != 0)
		return 0;
	sim_dev_set_io(d, &fuzz_io);
	for (off = 0; off < size && count < FUZZ_REPORTS_MAX; off += n) {
		n = size - off < sizeof(pkt) ? size - off : sizeof(pkt);
		memset(pkt, 0, sizeof(pkt));
		memcpy(pkt, data + off, n);
		ctaphid_packet(d, pkt);
		if (++count % 8 == 0)
			ctaphid_tick(d);
	}
	ctaphid_tick(d);
	(void)ctaphid_timeout_ms(d);
	ctaphid_link_reset(d);
	sim_dev_free(d);
	return 0;
}
