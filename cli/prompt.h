/* Secrets from a person or a pipe, read straight into guarded memory. */
#ifndef JITCTL_PROMPT_H
#define JITCTL_PROMPT_H

#include <stddef.h>

struct secret;

/* Longest PIN accepted (FIDO2 allows 63 bytes, a TPM auth value 64). */
#define PROMPT_PIN_MAX 128

/*
 * None of these go through stdio: bytes move with read(2) into a struct
 * secret and nowhere else.  Errors: JIT_E_LIMIT (longer than max),
 * JIT_E_IO, JIT_E_PIN_REQUIRED (no terminal to ask on), JIT_E_CANCELLED,
 * JIT_E_INTERNAL (called before cli_seal(): the process is dumpable).
 */

/* One line from fd: up to a newline (dropped) or end of file. */
int prompt_line_fd(int fd, size_t max, struct secret **ret);
/* Ask on /dev/tty with echo off, read one line. */
int prompt_tty(const char *prompt, size_t max, struct secret **ret);
/* A PIN from pin_fd when it is >= 0, else asked on the terminal. */
int prompt_pin(int pin_fd, const char *prompt, struct secret **ret);
/* Everything up to end of file, at most max bytes. */
int prompt_read_all(int fd, size_t max, struct secret **ret);
/* Parse the N of --pin-fd N (a small non-negative integer); -1 if bad. */
int prompt_parse_fd(const char *s);

#endif
