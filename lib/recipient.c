/* A token's public recipient as one line of text, for a team's repository. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fsutil.h"
#include "recipient.h"
#include "wire.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define RECIPIENT_FILE_MAX (RECIPIENTS_MAX * RECIPIENT_LINE_MAX / 4)

void
recipient_reset(struct recipient *rc)
{
	free(rc->attest);
	memset(rc, 0, sizeof(*rc));
}

void
recipient_list_free(struct recipient *list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		recipient_reset(&list[i]);
	free(list);
}

static int
word_ok(const uint8_t *p, size_t n, size_t max, const char *set)
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] == '\0' || strchr(set, p[i]) == NULL)
			return 0;
	return 1;
}

#define LABEL_SET \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
#define B64_SET \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

/* The next word and the one space after it (none after the last). */
static int
next_word(struct wire_reader *r, const uint8_t **ret, size_t *ret_len)
{
	*ret_len = wire_get_until(r, " ", ret);
	if (wire_left(r) > 0 && wire_skip(r, 1) != 0)
		return JIT_E_FORMAT;
	return *ret_len > 0 ? JIT_OK : JIT_E_FORMAT;
}

static int
b64_decode(
    const uint8_t *p, size_t n, uint8_t *out, size_t max, size_t *ret_len)
{
	if (sodium_base642bin(
		out, max, (const char *)p, n, NULL, ret_len, NULL, B64) != 0)
		return JIT_E_FORMAT;
	return JIT_OK;
}

int
recipient_parse(const uint8_t *line, size_t len, struct recipient *ret,
    char *why, size_t whylen)
{
	struct recipient rc;
	struct wire_reader r;
	const uint8_t *w;
	size_t n, klen;
	int e = JIT_E_FORMAT;

	memset(&rc, 0, sizeof(rc));
	if (len > RECIPIENT_LINE_MAX || memchr(line, '\0', len) != NULL ||
	    (len > 0 && line[len - 1] == ' ')) {
		snprintf(why, whylen,
		    "a recipient line is words separated by one space, at most %d bytes of text",
		    RECIPIENT_LINE_MAX);
		return JIT_E_FORMAT;
	}
	wire_reader_init(&r, line, len);
	if (next_word(&r, &w, &n) != 0 || n != strlen(RECIPIENT_PREFIX) ||
	    memcmp(w, RECIPIENT_PREFIX, n) != 0) {
		snprintf(
		    why, whylen, "it does not start with %s", RECIPIENT_PREFIX);
		goto out;
	}
	if (next_word(&r, &w, &n) != 0 ||
	    !word_ok(w, n, RECIPIENT_TYPE_MAX,
		"abcdefghijklmnopqrstuvwxyz0123456789")) {
		snprintf(
		    why, whylen, "its token type is missing or not a word");
		goto out;
	}
	memcpy(rc.type, w, n);
	if (next_word(&r, &w, &n) != 0 || n != RECIPIENT_ID_LEN ||
	    !word_ok(w, n, RECIPIENT_ID_LEN, "0123456789abcdef")) {
		snprintf(why, whylen, "its token id is not %d hex digits",
		    RECIPIENT_ID_LEN);
		goto out;
	}
	memcpy(rc.id, w, n);
	if (next_word(&r, &w, &n) != 0 ||
	    !word_ok(w, n, RECIPIENT_LABEL_MAX, LABEL_SET)) {
		snprintf(why, whylen,
		    "its label is missing or has characters other than letters, digits, '-', '_' and '.'");
		goto out;
	}
	memcpy(rc.label, w, n);
	if (next_word(&r, &w, &n) != 0 || !word_ok(w, n, 64, B64_SET) ||
	    b64_decode(w, n, rc.key, sizeof(rc.key), &klen) != 0 ||
	    klen != sizeof(rc.key)) {
		snprintf(why, whylen, "its key is not %d bytes of base64",
		    RECIPIENT_KEY_LEN);
		goto out;
	}
	if (wire_left(&r) > 0) {
		if (next_word(&r, &w, &n) != 0 ||
		    !word_ok(w, n, RECIPIENT_LINE_MAX, B64_SET) ||
		    (rc.attest = malloc(RECIPIENT_ATTEST_MAX)) == NULL ||
		    b64_decode(w, n, rc.attest, RECIPIENT_ATTEST_MAX,
			&rc.attestlen) != 0 ||
		    wire_end(&r) != 0) {
			snprintf(why, whylen,
			    "its attestation is not base64 of at most %d bytes, or words follow it",
			    RECIPIENT_ATTEST_MAX);
			goto out;
		}
	}
	*ret = rc;
	memset(&rc, 0, sizeof(rc));
	e = JIT_OK;
out:
	recipient_reset(&rc);
	return e;
}

int
recipient_format(const struct recipient *rc, char **ret)
{
	char key[sodium_base64_ENCODED_LEN(RECIPIENT_KEY_LEN, B64)];
	char *att = NULL;
	size_t alen;
	int r = JIT_E_NOMEM;

	sodium_bin2base64(key, sizeof(key), rc->key, sizeof(rc->key), B64);
	if (rc->attest != NULL) {
		if (rc->attestlen > RECIPIENT_ATTEST_MAX)
			return JIT_E_LIMIT;
		alen = sodium_base64_ENCODED_LEN(rc->attestlen, B64);
		if ((att = malloc(alen)) == NULL)
			return JIT_E_NOMEM;
		sodium_bin2base64(att, alen, rc->attest, rc->attestlen, B64);
	}
	if (asprintf(ret, "%s %s %s %s %s%s%s", RECIPIENT_PREFIX, rc->type,
		rc->id, rc->label, key, att != NULL ? " " : "",
		att != NULL ? att : "") >= 0)
		r = JIT_OK;
	free(att);
	return r;
}

static int
append(struct recipient **list, size_t *n, const struct recipient *rc)
{
	struct recipient *nl;

	if (*n >= RECIPIENTS_MAX)
		return JIT_E_LIMIT;
	if ((nl = reallocarray(*list, *n + 1, sizeof(*nl))) == NULL)
		return JIT_E_NOMEM;
	*list = nl;
	nl[(*n)++] = *rc;
	return JIT_OK;
}

int
recipient_load(const char *arg, struct recipient **list, size_t *n, char *why,
    size_t whylen)
{
	struct recipient rc;
	struct wire_reader r;
	const uint8_t *line;
	char *buf = NULL;
	size_t len, buflen, lineno = 0;
	char lwhy[RECIPIENT_WHY_MAX];
	int e;

	memset(&rc, 0, sizeof(rc));
	if (strncmp(arg, RECIPIENT_PREFIX " ", strlen(RECIPIENT_PREFIX) + 1) ==
	    0) {
		if ((e = recipient_parse((const uint8_t *)arg, strlen(arg), &rc,
			 lwhy, sizeof(lwhy))) != 0) {
			snprintf(why, whylen,
			    "the recipient given is not one: %s", lwhy);
			return e;
		}
		if ((e = append(list, n, &rc)) != 0) {
			snprintf(why, whylen, "more than %d recipients",
			    RECIPIENTS_MAX);
			recipient_reset(&rc);
		}
		return e;
	}
	if ((e = fs_read_file(arg, RECIPIENT_FILE_MAX, &buf, &buflen)) != 0) {
		snprintf(why, whylen, "cannot read the recipients file %s: %s",
		    arg, jit_strerror(e));
		return e;
	}
	wire_reader_init(&r, buf, buflen);
	while (wire_left(&r) > 0) {
		lineno++;
		if ((e = wire_get_line(
			 &r, RECIPIENT_LINE_MAX, &line, &len, NULL)) != 0) {
			snprintf(why, whylen,
			    "%s, line %zu: a recipient line is text of at most %d bytes",
			    arg, lineno, RECIPIENT_LINE_MAX);
			goto out;
		}
		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == 0 || line[0] == '#')
			continue;
		if ((e = recipient_parse(line, len, &rc, lwhy, sizeof(lwhy))) !=
		    0) {
			snprintf(
			    why, whylen, "%s, line %zu: %s", arg, lineno, lwhy);
			goto out;
		}
		if ((e = append(list, n, &rc)) != 0) {
			snprintf(why, whylen, "%s: more than %d recipients",
			    arg, RECIPIENTS_MAX);
			recipient_reset(&rc);
			goto out;
		}
	}
	e = JIT_OK;
out:
	free(buf);
	return e;
}
