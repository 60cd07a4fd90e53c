/* The FIDO2 transport (hw/fido2-io.c): the device I/O seam the backend and the tests use. */
#ifndef JIT_HW_FIDO2_IO_H
#define JIT_HW_FIDO2_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fido.h>

/*
 * libfido2 reaches every device through fido2_io (fido_dev_set_io_functions):
 *   /dev/hidrawN   a USB token (64-byte CTAPHID reports, the FIDO HID size)
 *   sim:SOCKET     jit-sim-fido2: a Unix stream socket carrying raw 64-byte
 *                  reports without report id, in both directions
 *   fake:NAME      an in-process fake installed by a test or fuzz harness
 * Owning the hooks gives us CLOEXEC descriptors, a cancel flag checked
 * while waiting for a touch, and the reason behind libfido2's bare
 * FIDO_ERR_RX/TX (timeout, device gone, cancelled).
 *
 * libfido2 calls the hooks synchronously on the caller's thread, so the
 * cancel flag and the last failure are per thread: fido2_io_begin() before
 * each libfido2 call, fido2_io_failure() after it fails.
 */

#define FIDO2_REPORT_LEN 64
#define FIDO2_FAKE_PREFIX "fake:"

enum fido2_io_fail {
	FIDO2_IO_OK = 0,
	FIDO2_IO_TIMEOUT, /* nothing arrived in time */
	FIDO2_IO_GONE, /* token removed, simulator exited */
	FIDO2_IO_CANCELLED, /* the caller's cancel flag was set */
	FIDO2_IO_NOENT, /* open: no such device or socket */
	FIDO2_IO_BUSY, /* open: another program holds the token */
	FIDO2_IO_ACCESS, /* open: permission denied */
	FIDO2_IO_ERROR, /* any other I/O error */
};

extern const fido_dev_io_t fido2_io;

/* Arm this thread's cancel flag (NULL: none) and clear its last failure. */
void fido2_io_begin(const volatile int *cancel);
/* The first I/O failure on this thread since fido2_io_begin(), with errno. */
enum fido2_io_fail fido2_io_failure(int *ret_errno);
/* Whether a device string names a simulated (sim:) or fake device. */
bool fido2_io_is_simulated(const char *path);
/* The monotonic clock, in ms, that the I/O deadlines run on. */
int64_t fido2_io_now_ms(void);

/* Tests and fuzzing only: serve fake:NAME devices with these callbacks.
 * read returns one 64-byte report (or -1), write takes one report without
 * its report id.  NULL uninstalls; fake: paths then fail to open. */
struct fido2_io_fake {
	int (*read)(void *arg, unsigned char *buf, size_t len, int ms);
	int (*write)(void *arg, const unsigned char *buf, size_t len);
	void *arg;
};
void fido2_io_set_fake(const struct fido2_io_fake *fake);

#endif
