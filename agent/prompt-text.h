/* The words of a prompt: who asks (the process chain), for what, how long. */
#ifndef JIT_PROMPT_TEXT_H
#define JIT_PROMPT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define PROMPT_TEXT_MAX 1024
#define PROMPT_CHAIN_MAX 640

/* "EXE (pid N) < PARENT (pid M) < ... " up to the session leader, each
 * name escaped; an unverified first one says so. */
void prompt_chain(const struct peer *p, char *out, size_t outlen);
/*
 * A confirm question: "Allow CHAIN (uid U) to use WHAT (unlocked with
 * TOKEN, WINDOW left)?"; token NULL or window_s < 0 leave that out.
 */
void prompt_confirm(const struct peer *p, const char *what, const char *token,
    int64_t window_s, char *out, size_t outlen);
/* A touch notice: "Touch TOKEN: CHAIN asks to open NAMES for WINDOW". */
void prompt_touch(const struct peer *p, const char *names, const char *token,
    int64_t window_s, char *out, size_t outlen);

#endif
