/* Command-line options taken as declared: no abbreviations, no secrets. */
#ifndef JIT_OPTCHECK_H
#define JIT_OPTCHECK_H

#include <getopt.h>
#include <stddef.h>

/* Where secrets come from: the end of the refusal of one in argv. */
#define OPTCHECK_SECRETS_FROM \
	"PINs and secrets come from --pin-fd N, standard input or the terminal prompt, never from the command line"

#define OPTCHECK_WHY_MAX 256

/*
 * Read argv[1..argc-1] as getopt_long(argc, argv, shortopts, longopts) is
 * about to, before it does: a "--name" must be a declared long option
 * exactly (getopt_long takes any unambiguous prefix: --pin for --pin-fd),
 * and an option that looks like a PIN or secret (--pin, --password=X,
 * --api-key, -pin) is refused whether declared elsewhere or not.  Values
 * of options that take one are skipped as getopt_long skips them; the scan
 * stops at "--", and at the first operand when shortopts starts with '+'
 * (or POSIXLY_CORRECT is set).  Unknown short options are left to
 * getopt_long.
 *
 * Returns JIT_OK; JIT_E_ARG for an undeclared long option; JIT_E_DENIED
 * for one that looks like a secret.  why gets one sentence naming the
 * option (never its value).
 */
int optcheck(int argc, char *const argv[], const char *shortopts,
    const struct option *longopts, char *why, size_t whylen);

#endif
