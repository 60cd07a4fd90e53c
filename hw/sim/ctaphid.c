/* CTAPHID for the simulator: reports in, messages assembled, answers framed. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "err.h"
#include "sim.h"
#include "wire.h"

/* BCNT, the length of a message, is a u16 on the wire. */
_Static_assert(SIM_MSG_MAX <= UINT16_MAX, "a CTAPHID message fits a u16");

/* One report, its header read. */
struct hid_pkt {
	uint32_t cid;
	bool init;
	uint8_t cmd; /* init packet */
	uint8_t seq; /* continuation packet */
	size_t bcnt; /* init packet */
	struct wire_reader r; /* at the data */
};

int
ctaphid_new(struct ctaphid *h)
{
	memset(h, 0, sizeof(*h));
	h->next_cid = 1;
	if ((h->msg = malloc(SIM_MSG_MAX)) == NULL ||
	    (h->resp = malloc(SIM_MSG_MAX)) == NULL) {
		ctaphid_free(h);
		return JIT_E_NOMEM;
	}
	return JIT_OK;
}

void
ctaphid_free(struct ctaphid *h)
{
	if (h->msg != NULL)
		sodium_memzero(h->msg, SIM_MSG_MAX);
	if (h->resp != NULL)
		sodium_memzero(h->resp, SIM_MSG_MAX);
	free(h->msg);
	free(h->resp);
	h->msg = h->resp = NULL;
}

static int
parse_pkt(const uint8_t pkt[CTAPHID_REPORT_LEN], struct hid_pkt *p)
{
	uint16_t bcnt;
	uint8_t b;

	memset(p, 0, sizeof(*p));
	wire_reader_init(&p->r, pkt, CTAPHID_REPORT_LEN);
	if (wire_get_u32(&p->r, &p->cid) != 0 || wire_get_u8(&p->r, &b) != 0)
		return JIT_E_FORMAT;
	if ((b & 0x80) == 0) {
		p->seq = b;
		return JIT_OK;
	}
	p->init = true;
	p->cmd = b;
	if (wire_get_u16(&p->r, &bcnt) != 0)
		return JIT_E_FORMAT;
	p->bcnt = bcnt;
	return JIT_OK;
}

static bool
cid_allocated(const struct ctaphid *h, uint32_t cid)
{
	return cid != 0 && cid != CTAPHID_BROADCAST_CID && cid < h->next_cid;
}

/* Pad the report to 64 bytes, hand it over, start the next one. */
static void
emit(struct sim_dev *d, struct wire_writer *w)
{
	uint8_t pkt[CTAPHID_REPORT_LEN];

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, wire_writer_data(w), wire_writer_len(w));
	d->io->send(d->io->ctx, pkt);
	wire_writer_reset(w);
}

static void
send_msg(struct sim_dev *d, uint32_t cid, uint8_t cmd, const uint8_t *data,
    size_t len)
{
	struct wire_writer w;
	size_t off, n;
	uint8_t seq = 0;

	if (d->io == NULL || d->io->send == NULL || len > SIM_MSG_MAX)
		return;
	wire_writer_init(&w, CTAPHID_REPORT_LEN, false);
	n = len < CTAPHID_INIT_DATA_LEN ? len : CTAPHID_INIT_DATA_LEN;
	if (wire_put_u32(&w, cid) != 0 || wire_put_u8(&w, cmd) != 0 ||
	    wire_put_u16(&w, (uint16_t)len) != 0 ||
	    wire_put_bytes(&w, data, n) != 0)
		goto out;
	emit(d, &w);
	for (off = n; off < len; off += n) {
		n = len - off;
		if (n > CTAPHID_CONT_DATA_LEN)
			n = CTAPHID_CONT_DATA_LEN;
		if (wire_put_u32(&w, cid) != 0 || wire_put_u8(&w, seq++) != 0 ||
		    wire_put_bytes(&w, data + off, n) != 0)
			goto out;
		emit(d, &w);
	}
out:
	wire_writer_reset(&w);
}

static void
send_error(struct sim_dev *d, uint32_t cid, uint8_t code)
{
	sim_debug(d, "ctaphid: channel %08x: error 0x%02x", cid, code);
	send_msg(d, cid, CTAPHID_ERROR, &code, 1);
}

static uint32_t
allocate_cid(struct ctaphid *h)
{
	if (h->next_cid == CTAPHID_BROADCAST_CID)
		h->next_cid = 1;
	return h->next_cid++;
}

/* INIT: on the broadcast channel a new channel, on an allocated one a
 * resynchronisation that drops whatever that channel had under way. */
static void
cmd_init(struct sim_dev *d, struct hid_pkt *p)
{
	struct ctaphid *h = &d->hid;
	struct wire_writer w;
	uint8_t nonce[CTAPHID_NONCE_LEN];
	uint32_t cid;

	if (p->cid == 0) {
		send_error(d, p->cid, CTAPHID_ERR_INVALID_CHANNEL);
		return;
	}
	if (p->bcnt != CTAPHID_NONCE_LEN) {
		send_error(d, p->cid, CTAPHID_ERR_INVALID_LEN);
		return;
	}
	if (wire_get_bytes(&p->r, nonce, sizeof(nonce)) != 0)
		return;
	if (p->cid == CTAPHID_BROADCAST_CID)
		cid = allocate_cid(h);
	else if (cid_allocated(h, p->cid)) {
		cid = p->cid;
		if (h->assembling && h->cid == cid)
			h->assembling = false;
	} else {
		send_error(d, p->cid, CTAPHID_ERR_INVALID_CHANNEL);
		return;
	}
	wire_writer_init(&w, CTAPHID_INIT_RESP_LEN, false);
	if (wire_put_bytes(&w, nonce, sizeof(nonce)) == 0 &&
	    wire_put_u32(&w, cid) == 0 &&
	    wire_put_u8(&w, SIM_PROTOCOL_VERSION) == 0 &&
	    wire_put_u8(&w, SIM_VERSION_MAJOR) == 0 &&
	    wire_put_u8(&w, SIM_VERSION_MINOR) == 0 &&
	    wire_put_u8(&w, SIM_VERSION_BUILD) == 0 &&
	    wire_put_u8(&w, SIM_CAPABILITIES) == 0) {
		sim_debug(d, "ctaphid: init: channel %08x", cid);
		send_msg(d, p->cid, CTAPHID_INIT, wire_writer_data(&w),
		    wire_writer_len(&w));
	}
	wire_writer_reset(&w);
}

static void
run_cbor(struct sim_dev *d)
{
	struct ctaphid *h = &d->hid;
	size_t n;

	h->busy = true;
	h->busy_cid = h->cid;
	h->cancelled = false;
	h->aborted = false;
	n = ctap2_handle(d, h->msg, h->want, h->resp, SIM_MSG_MAX);
	h->busy = false;
	if (h->aborted) {
		sim_debug(
		    d, "ctaphid: channel %08x: answer dropped", h->busy_cid);
		return;
	}
	send_msg(d, h->busy_cid, CTAPHID_CBOR, h->resp, n);
}

static void
complete(struct sim_dev *d)
{
	struct ctaphid *h = &d->hid;

	h->assembling = false;
	switch (h->cmd) {
	case CTAPHID_PING:
		send_msg(d, h->cid, CTAPHID_PING, h->msg, h->want);
		break;
	case CTAPHID_WINK:
		if (h->want != 0) {
			send_error(d, h->cid, CTAPHID_ERR_INVALID_LEN);
			break;
		}
		sim_debug(d, "ctaphid: wink");
		send_msg(d, h->cid, CTAPHID_WINK, NULL, 0);
		break;
	case CTAPHID_CBOR:
		if (h->want == 0) {
			send_error(d, h->cid, CTAPHID_ERR_INVALID_LEN);
			break;
		}
		run_cbor(d);
		break;
	default:
		/* MSG (U2F), LOCK and vendor commands are not served. */
		send_error(d, h->cid, CTAPHID_ERR_INVALID_CMD);
		break;
	}
}

static void
take_data(struct ctaphid *h, struct hid_pkt *p)
{
	size_t n = h->want - h->have;

	if (n > wire_left(&p->r))
		n = wire_left(&p->r);
	if (wire_get_bytes(&p->r, h->msg + h->have, n) == 0)
		h->have += n;
}

static void
cont_packet(struct sim_dev *d, struct hid_pkt *p)
{
	struct ctaphid *h = &d->hid;

	/* Continuations that belong to no message are ignored. */
	if (!h->assembling || p->cid != h->cid)
		return;
	if (p->seq != h->seq) {
		h->assembling = false;
		send_error(d, p->cid, CTAPHID_ERR_INVALID_SEQ);
		return;
	}
	h->seq++;
	take_data(h, p);
	if (h->have == h->want)
		complete(d);
}

/* A report that arrives while a command waits for a touch. */
static void
busy_packet(struct sim_dev *d, struct hid_pkt *p)
{
	struct ctaphid *h = &d->hid;

	if (!p->init)
		return;
	if (p->cmd == CTAPHID_INIT) {
		if (p->cid == h->busy_cid && p->bcnt == CTAPHID_NONCE_LEN)
			h->cancelled = h->aborted = true;
		cmd_init(d, p);
		return;
	}
	if (!cid_allocated(h, p->cid)) {
		send_error(d, p->cid, CTAPHID_ERR_INVALID_CHANNEL);
		return;
	}
	if (p->cid == h->busy_cid && p->cmd == CTAPHID_CANCEL) {
		sim_debug(d, "ctaphid: cancel");
		h->cancelled = true;
		return;
	}
	send_error(d, p->cid, CTAPHID_ERR_CHANNEL_BUSY);
}

void
ctaphid_packet(struct sim_dev *d, const uint8_t pkt[CTAPHID_REPORT_LEN])
{
	struct ctaphid *h = &d->hid;
	struct hid_pkt p;

	if (parse_pkt(pkt, &p) != 0)
		return;
	if (h->busy) {
		busy_packet(d, &p);
		return;
	}
	if (!p.init) {
		cont_packet(d, &p);
		return;
	}
	if (p.cmd == CTAPHID_INIT) {
		cmd_init(d, &p);
		return;
	}
	if (!cid_allocated(h, p.cid)) {
		send_error(d, p.cid, CTAPHID_ERR_INVALID_CHANNEL);
		return;
	}
	if (h->assembling) {
		if (h->cid != p.cid) {
			send_error(d, p.cid, CTAPHID_ERR_CHANNEL_BUSY);
			return;
		}
		/* A new message on the channel mid-message: the old one is
		 * dropped; CANCEL drops it silently. */
		h->assembling = false;
		if (p.cmd != CTAPHID_CANCEL)
			send_error(d, p.cid, CTAPHID_ERR_INVALID_SEQ);
		return;
	}
	if (p.cmd == CTAPHID_CANCEL)
		return; /* nothing under way: no answer */
	if (p.bcnt > SIM_MSG_MAX) {
		send_error(d, p.cid, CTAPHID_ERR_INVALID_LEN);
		return;
	}
	h->assembling = true;
	h->cid = p.cid;
	h->cmd = p.cmd;
	h->want = p.bcnt;
	h->have = 0;
	h->seq = 0;
	h->deadline_ms = sim_now_ms() + (uint64_t)d->hid_timeout_ms;
	take_data(h, &p);
	if (h->have == h->want)
		complete(d);
}

void
ctaphid_tick(struct sim_dev *d)
{
	struct ctaphid *h = &d->hid;

	if (h->assembling && !h->busy && sim_now_ms() >= h->deadline_ms) {
		h->assembling = false;
		send_error(d, h->cid, CTAPHID_ERR_MSG_TIMEOUT);
	}
}

int
ctaphid_timeout_ms(const struct sim_dev *d)
{
	const struct ctaphid *h = &d->hid;
	uint64_t now;

	if (!h->assembling)
		return -1;
	if ((now = sim_now_ms()) >= h->deadline_ms)
		return 0;
	return (int)(h->deadline_ms - now);
}

void
ctaphid_link_reset(struct sim_dev *d)
{
	d->hid.assembling = false;
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

enum sim_wait_result
ctaphid_wait(struct sim_dev *d, int ms, int watch_fd)
{
	struct ctaphid *h = &d->hid;
	struct hid_pkt p;
	uint8_t pkt[CTAPHID_REPORT_LEN];
	uint64_t deadline, now;

	deadline = sim_now_ms() + (uint64_t)(ms > 0 ? ms : 0);
	for (;;) {
		if (h->cancelled || h->stop)
			return SIM_WAIT_CANCEL;
		if ((now = sim_now_ms()) >= deadline)
			return SIM_WAIT_ELAPSED;
		if (d->io == NULL || d->io->recv == NULL) {
			sleep_ms(deadline - now);
			continue;
		}
		switch (d->io->recv(
		    d->io->ctx, pkt, (int)(deadline - now), watch_fd)) {
		case SIM_IO_PACKET:
			/* Never a new command from here: no nesting. */
			if (parse_pkt(pkt, &p) == 0)
				busy_packet(d, &p);
			break;
		case SIM_IO_FD: return SIM_WAIT_FD;
		case SIM_IO_TIMEOUT: break;
		case SIM_IO_CLOSED:
			h->cancelled = h->aborted = true;
			return SIM_WAIT_CANCEL;
		case SIM_IO_STOP:
			h->stop = h->cancelled = true;
			return SIM_WAIT_CANCEL;
		}
	}
}

void
ctaphid_keepalive(struct sim_dev *d, uint8_t status)
{
	struct ctaphid *h = &d->hid;

	if (h->busy && !h->aborted)
		send_msg(d, h->busy_cid, CTAPHID_KEEPALIVE, &status, 1);
}
