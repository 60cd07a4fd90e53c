/* Shell-like words of a command line, read through lib/wire.c. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"
#include "words.h"

enum quote { PLAIN, SINGLE, DOUBLE };

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

void
words_free(struct words *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->v[i]);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

int
words_push(struct words *w, const void *p, size_t len)
{
	char **nv, *s;

	if (len == SIZE_MAX || (s = malloc(len + 1)) == NULL)
		return JIT_E_NOMEM;
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	if ((nv = reallocarray(w->v, w->n + 2, sizeof(*nv))) == NULL) {
		free(s);
		return JIT_E_NOMEM;
	}
	w->v = nv;
	w->v[w->n++] = s;
	w->v[w->n] = NULL;
	return JIT_OK;
}

int
words_dup(const struct words *w, struct words *ret)
{
	struct words d = { NULL, 0 };
	size_t i;
	int r;

	for (i = 0; i < w->n; i++) {
		if ((r = words_push(&d, w->v[i], strlen(w->v[i]))) != 0) {
			words_free(&d);
			return r;
		}
	}
	*ret = d;
	return JIT_OK;
}

/* One word, from a byte that is not a blank up to a blank outside quotes
 * or the end, unquoted into word. */
static int
next_word(
    struct wire_reader *r, struct wire_writer *word, char *why, size_t whylen)
{
	enum quote q = PLAIN;
	uint8_t c, next;
	int rc;

	while (wire_peek_u8(r, &c) == 0) {
		if (q == PLAIN && (c == ' ' || c == '\t'))
			break;
		(void)wire_skip(r, 1);
		if (q == PLAIN) {
			if (c == '\'' || c == '"') {
				q = c == '\'' ? SINGLE : DOUBLE;
				continue;
			}
			if (c == '\\' && wire_get_u8(r, &c) != 0) {
				say(why, whylen, "a backslash ends the value");
				return JIT_E_FORMAT;
			}
		} else if (q == SINGLE) {
			if (c == '\'') {
				q = PLAIN;
				continue;
			}
		} else {
			if (c == '"') {
				q = PLAIN;
				continue;
			}
			if (c == '\\' && wire_peek_u8(r, &next) == 0 &&
			    (next == '"' || next == '\\'))
				(void)wire_get_u8(r, &c);
		}
		if (c < 0x20 && c != '\t') {
			say(why, whylen, "a control character");
			return JIT_E_FORMAT;
		}
		if ((rc = wire_put_u8(word, c)) != 0) {
			if (rc == JIT_E_LIMIT)
				say(why, whylen,
				    "a word is longer than %d bytes",
				    WORDS_WORD_MAX);
			else
				say(why, whylen, "%s", jit_strerror(rc));
			return rc;
		}
	}
	if (q != PLAIN) {
		say(why, whylen, "a %s quote is not closed",
		    q == SINGLE ? "single" : "double");
		return JIT_E_FORMAT;
	}
	return JIT_OK;
}

int
words_split(const void *s, size_t len, size_t max, struct words *w, char *why,
    size_t whylen)
{
	struct wire_reader r;
	struct wire_writer word;
	int rc;

	wire_reader_init(&r, s, len);
	wire_writer_init(&word, WORDS_WORD_MAX, false);
	for (;;) {
		(void)wire_skip_span(&r, " \t");
		if (wire_left(&r) == 0) {
			rc = JIT_OK;
			break;
		}
		wire_writer_truncate(&word, 0);
		if ((rc = next_word(&r, &word, why, whylen)) != 0)
			break;
		if (w->n >= max) {
			say(why, whylen, "more than %zu words", max);
			rc = JIT_E_LIMIT;
			break;
		}
		if ((rc = words_push(w, wire_writer_data(&word),
			 wire_writer_len(&word))) != 0) {
			say(why, whylen, "%s", jit_strerror(rc));
			break;
		}
	}
	wire_writer_reset(&word);
	return rc;
}
