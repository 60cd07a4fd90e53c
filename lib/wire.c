/* The bounds-checked reader and capped writer behind every parser. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "secret.h"
#include "wire.h"

void
wire_reader_init(struct wire_reader *r, const void *p, size_t len)
{
	r->_p = p;
	r->_len = p == NULL ? 0 : len;
	r->_off = 0;
}

size_t
wire_left(const struct wire_reader *r)
{
	return r->_len - r->_off;
}

const uint8_t *
wire_cursor(const struct wire_reader *r)
{
	/* A reader over nothing has no buffer: no arithmetic on NULL. */
	return r->_p == NULL ? NULL : r->_p + r->_off;
}

int
wire_get_bytes(struct wire_reader *r, void *out, size_t n)
{
	if (wire_left(r) < n)
		return JIT_E_FORMAT;
	if (n > 0)
		memcpy(out, r->_p + r->_off, n);
	r->_off += n;
	return JIT_OK;
}

int
wire_skip(struct wire_reader *r, size_t n)
{
	if (wire_left(r) < n)
		return JIT_E_FORMAT;
	r->_off += n;
	return JIT_OK;
}

int
wire_peek_u8(const struct wire_reader *r, uint8_t *ret)
{
	if (wire_left(r) < 1)
		return JIT_E_FORMAT;
	*ret = r->_p[r->_off];
	return JIT_OK;
}

int
wire_get_u8(struct wire_reader *r, uint8_t *ret)
{
	return wire_get_bytes(r, ret, 1);
}

int
wire_get_u16(struct wire_reader *r, uint16_t *ret)
{
	uint8_t b[2];
	int rc;

	if ((rc = wire_get_bytes(r, b, sizeof(b))) != 0)
		return rc;
	*ret = (uint16_t)(b[0] << 8 | b[1]);
	return JIT_OK;
}

int
wire_get_u32(struct wire_reader *r, uint32_t *ret)
{
	uint8_t b[4];
	int rc;

	if ((rc = wire_get_bytes(r, b, sizeof(b))) != 0)
		return rc;
	*ret = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
	return JIT_OK;
}

int
wire_get_u64(struct wire_reader *r, uint64_t *ret)
{
	uint32_t hi, lo;
	size_t save = r->_off;
	int rc;

	if ((rc = wire_get_u32(r, &hi)) != 0 ||
	    (rc = wire_get_u32(r, &lo)) != 0) {
		r->_off = save;
		return rc;
	}
	*ret = (uint64_t)hi << 32 | lo;
	return JIT_OK;
}

int
wire_get_bool(struct wire_reader *r, bool *ret)
{
	uint8_t v;
	int rc;

	if ((rc = wire_get_u8(r, &v)) != 0)
		return rc;
	if (v > 1) {
		r->_off--;
		return JIT_E_FORMAT;
	}
	*ret = v == 1;
	return JIT_OK;
}

int
wire_get_string(
    struct wire_reader *r, size_t max, const uint8_t **ret, size_t *ret_len)
{
	size_t save = r->_off;
	uint32_t n;
	int rc;

	if ((rc = wire_get_u32(r, &n)) != 0)
		return rc;
	if (n > max) {
		r->_off = save;
		return JIT_E_LIMIT;
	}
	if (wire_left(r) < n) {
		r->_off = save;
		return JIT_E_FORMAT;
	}
	*ret = r->_p + r->_off;
	*ret_len = n;
	r->_off += n;
	return JIT_OK;
}

int
wire_get_cstring(struct wire_reader *r, size_t max, char **ret)
{
	size_t save = r->_off, n;
	const uint8_t *p;
	char *s;
	int rc;

	if ((rc = wire_get_string(r, max, &p, &n)) != 0)
		return rc;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		r->_off = save;
		return JIT_E_FORMAT;
	}
	if ((s = malloc(n + 1)) == NULL) {
		r->_off = save;
		return JIT_E_NOMEM;
	}
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	*ret = s;
	return JIT_OK;
}

int
wire_get_secret(struct wire_reader *r, size_t max, struct secret **ret)
{
	size_t save = r->_off, n;
	const uint8_t *p;
	int rc;

	if ((rc = wire_get_string(r, max, &p, &n)) != 0)
		return rc;
	if ((rc = secret_from(p, n, ret)) != 0)
		r->_off = save;
	return rc;
}

int
wire_get_sub(struct wire_reader *r, size_t max, struct wire_reader *ret)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if ((rc = wire_get_string(r, max, &p, &n)) != 0)
		return rc;
	wire_reader_init(ret, p, n);
	return JIT_OK;
}

static int
get_line(struct wire_reader *r, size_t max, bool nul_ok, const uint8_t **ret,
    size_t *ret_len, bool *ret_ended)
{
	const uint8_t *p, *nl;
	size_t left = wire_left(r), n;

	if (left == 0)
		return JIT_E_FORMAT;
	p = r->_p + r->_off;
	/* Look no further than a line of max bytes and its newline. */
	if ((nl = memchr(p, '\n', max < left ? max + 1 : left)) != NULL)
		n = (size_t)(nl - p);
	else if (left <= max)
		n = left;
	else
		return JIT_E_LIMIT;
	if (!nul_ok && n > 0 && memchr(p, '\0', n) != NULL)
		return JIT_E_FORMAT;
	*ret = p;
	*ret_len = n;
	if (ret_ended != NULL)
		*ret_ended = nl != NULL;
	r->_off += n + (nl != NULL ? 1 : 0);
	return JIT_OK;
}

int
wire_get_line(struct wire_reader *r, size_t max, const uint8_t **ret,
    size_t *ret_len, bool *ret_ended)
{
	return get_line(r, max, false, ret, ret_len, ret_ended);
}

int
wire_get_line_bytes(struct wire_reader *r, size_t max, const uint8_t **ret,
    size_t *ret_len, bool *ret_ended)
{
	return get_line(r, max, true, ret, ret_len, ret_ended);
}

int
wire_expect(struct wire_reader *r, const void *p, size_t n)
{
	if (wire_left(r) < n)
		return JIT_E_FORMAT;
	if (n > 0 && memcmp(r->_p + r->_off, p, n) != 0)
		return JIT_E_FORMAT;
	r->_off += n;
	return JIT_OK;
}

/* Is c one of set's bytes?  (strchr alone would find NUL in any set.) */
static bool
in_set(const char *set, uint8_t c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

size_t
wire_skip_span(struct wire_reader *r, const char *set)
{
	size_t n = 0;

	while (wire_left(r) > 0 && in_set(set, r->_p[r->_off])) {
		r->_off++;
		n++;
	}
	return n;
}

size_t
wire_get_until(struct wire_reader *r, const char *stop, const uint8_t **ret)
{
	size_t n = 0;

	*ret = wire_cursor(r);
	while (n < wire_left(r) && !in_set(stop, r->_p[r->_off + n]))
		n++;
	r->_off += n;
	return n;
}

size_t
wire_trim_end(struct wire_reader *r, const char *set, size_t max)
{
	size_t n = 0;

	while (n < max && wire_left(r) > 0 && in_set(set, r->_p[r->_len - 1])) {
		r->_len--;
		n++;
	}
	return n;
}

int
wire_end(const struct wire_reader *r)
{
	return wire_left(r) == 0 ? JIT_OK : JIT_E_FORMAT;
}

void
wire_writer_init(struct wire_writer *w, size_t max, bool secure)
{
	memset(w, 0, sizeof(*w));
	w->_max = max;
	w->_secure = secure;
}

void
wire_writer_reset(struct wire_writer *w)
{
	if (w->_secure)
		secret_free(w->_sec);
	else
		free(w->_d);
	wire_writer_init(w, w->_max, w->_secure);
}

static int
grow(struct wire_writer *w, size_t need)
{
	size_t ncap;
	struct secret *ns;
	uint8_t *nd;
	int rc;

	if (need > w->_max || w->_len > w->_max - need)
		return JIT_E_LIMIT;
	if (w->_len + need <= w->_cap)
		return JIT_OK;
	ncap = w->_cap < 256 ? 256 : w->_cap;
	while (ncap < w->_len + need)
		ncap *= 2;
	if (ncap > w->_max)
		ncap = w->_max;
	if (w->_secure) {
		/* Copy into a fresh guarded region; freeing the old one wipes it. */
		if ((rc = secret_new(ncap, &ns)) != 0)
			return rc;
		if (w->_len > 0)
			memcpy(secret_ptr(ns), w->_d, w->_len);
		secret_free(w->_sec);
		w->_sec = ns;
		w->_d = secret_ptr(ns);
	} else {
		if ((nd = realloc(w->_d, ncap)) == NULL)
			return JIT_E_NOMEM;
		w->_d = nd;
	}
	w->_cap = ncap;
	return JIT_OK;
}

int
wire_reserve(struct wire_writer *w, size_t n, uint8_t **ret)
{
	int rc;

	if ((rc = grow(w, n)) != 0)
		return rc;
	/* An empty writer has no buffer yet: no arithmetic on NULL. */
	*ret = n == 0 ? w->_d : w->_d + w->_len;
	w->_len += n;
	return JIT_OK;
}

int
wire_put_bytes(struct wire_writer *w, const void *p, size_t n)
{
	uint8_t *d;
	int rc;

	if ((rc = wire_reserve(w, n, &d)) != 0)
		return rc;
	if (n > 0)
		memcpy(d, p, n);
	return JIT_OK;
}

int
wire_put_u8(struct wire_writer *w, uint8_t v)
{
	return wire_put_bytes(w, &v, 1);
}

int
wire_put_bool(struct wire_writer *w, bool v)
{
	return wire_put_u8(w, v ? 1 : 0);
}

int
wire_put_u16(struct wire_writer *w, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v };

	return wire_put_bytes(w, b, sizeof(b));
}

int
wire_put_u32(struct wire_writer *w, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	return wire_put_bytes(w, b, sizeof(b));
}

int
wire_put_u64(struct wire_writer *w, uint64_t v)
{
	int rc;

	if ((rc = grow(w, 8)) != 0)
		return rc;
	(void)wire_put_u32(w, (uint32_t)(v >> 32));
	return wire_put_u32(w, (uint32_t)v);
}

int
wire_put_string(struct wire_writer *w, const void *p, size_t n)
{
	int rc;

	if (n > UINT32_MAX)
		return JIT_E_LIMIT;
	if ((rc = grow(w, 4 + n)) != 0)
		return rc;
	(void)wire_put_u32(w, (uint32_t)n);
	return wire_put_bytes(w, p, n);
}

int
wire_put_cstring(struct wire_writer *w, const char *s)
{
	return wire_put_string(w, s, s == NULL ? 0 : strlen(s));
}

int
wire_patch_u32(struct wire_writer *w, size_t off, uint32_t v)
{
	if (off > w->_len || w->_len - off < 4)
		return JIT_E_ARG;
	w->_d[off] = v >> 24;
	w->_d[off + 1] = v >> 16;
	w->_d[off + 2] = v >> 8;
	w->_d[off + 3] = v;
	return JIT_OK;
}

void
wire_writer_consume(struct wire_writer *w, size_t n)
{
	if (n >= w->_len) {
		if (w->_len > 0)
			sodium_memzero(w->_d, w->_len);
		w->_len = 0;
		return;
	}
	memmove(w->_d, w->_d + n, w->_len - n);
	sodium_memzero(w->_d + w->_len - n, n);
	w->_len -= n;
}

const uint8_t *
wire_writer_data(const struct wire_writer *w)
{
	static const uint8_t none[1];

	return w->_d != NULL ? w->_d : none;
}

size_t
wire_writer_len(const struct wire_writer *w)
{
	return w->_len;
}

void
wire_writer_truncate(struct wire_writer *w, size_t len)
{
	if (len >= w->_len)
		return;
	sodium_memzero(w->_d + len, w->_len - len);
	w->_len = len;
}

int
wire_writer_take(struct wire_writer *w, uint8_t **ret, size_t *ret_len)
{
	uint8_t *d;

	if (w->_secure)
		return JIT_E_ARG;
	if ((d = w->_d) == NULL && (d = malloc(1)) == NULL)
		return JIT_E_NOMEM;
	*ret = d;
	*ret_len = w->_len;
	wire_writer_init(w, w->_max, w->_secure);
	return JIT_OK;
}

int
wire_writer_take_secret(struct wire_writer *w, struct secret **ret)
{
	int rc;

	if (!w->_secure)
		return JIT_E_ARG;
	if (w->_sec == NULL) {
		if ((rc = secret_new(0, &w->_sec)) != 0)
			return rc;
	}
	secret_shrink(w->_sec, w->_len);
	*ret = w->_sec;
	wire_writer_init(w, w->_max, w->_secure);
	return JIT_OK;
}
