/* Shell-like words of a command line, split without a shell. */
#ifndef JIT_WORDS_H
#define JIT_WORDS_H

#include <stddef.h>

/*
 * The rules of jit-agent.conf(5) for issuer, revoke and notify commands:
 * blanks (space, tab) separate words; '...' is literal; "..." is literal
 * but for \" and \\; outside quotes a backslash takes the next byte
 * literally.  Nothing is expanded ($, ~, *, ; and | are plain bytes).  A
 * control byte other than tab is refused, even quoted, and so is NUL.
 */
#define WORDS_WORD_MAX 1024 /* bytes of one word */

struct words {
	char **v; /* NULL-terminated; NULL while there is none */
	size_t n;
};

/*
 * Split len bytes at s and append the words to w, which may then hold at
 * most max words in all.  On error (JIT_E_FORMAT: bad syntax; JIT_E_LIMIT:
 * too many words, or a word over WORDS_WORD_MAX; JIT_E_NOMEM) why holds
 * what is wrong, as a phrase to follow "KEY: ", and w keeps the words
 * appended before it, for words_free.
 */
int words_split(const void *s, size_t len, size_t max, struct words *w,
    char *why, size_t whylen);
/* Append a copy of len bytes at p as one word. */
int words_push(struct words *w, const void *p, size_t len);
/* A deep copy, for work that outlives the original. */
int words_dup(const struct words *w, struct words *ret);
void words_free(struct words *w); /* NULL ok; leaves it empty */

#endif
