/* What the fuzz harnesses share: failing loudly on a broken property. */
#ifndef JIT_FUZZ_H
#define JIT_FUZZ_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including fuzz.h"
#endif

/* A property the harness checks does not hold: report it and abort, so
 * libFuzzer keeps the input and the corpus replay fails. */
static void __attribute__((noreturn, format(printf, 1, 2), unused))
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, FUZZ_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			fail("%s:%d: %s", __FILE__, __LINE__, #cond); \
	} while (0)

#endif
