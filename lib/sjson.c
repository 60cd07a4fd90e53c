/* JSON that carries secrets, parsed and written inside guarded memory. */
#include <string.h>

#include "err.h"
#include "fields.h"
#include "secret.h"
#include "sjson.h"
#include "wire.h"

struct sjson_ctx {
	struct wire_reader r;
	struct fields_builder b;
	char path[FIELD_NAME_MAX + 1];
	size_t pathlen;
	struct wire_writer val; /* the value being decoded (secure) */
};

static void
skip_ws(struct wire_reader *r)
{
	uint8_t c;

	while (wire_peek_u8(r, &c) == 0 &&
	    (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
		(void)wire_skip(r, 1);
}

static int
expect(struct wire_reader *r, uint8_t want)
{
	uint8_t c;

	skip_ws(r);
	if (wire_get_u8(r, &c) != 0 || c != want)
		return JIT_E_FORMAT;
	return JIT_OK;
}

static int
hex4(struct wire_reader *r, uint32_t *ret)
{
	uint32_t v = 0;
	uint8_t c;
	int i;

	for (i = 0; i < 4; i++) {
		if (wire_get_u8(r, &c) != 0)
			return JIT_E_FORMAT;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return JIT_E_FORMAT;
	}
	*ret = v;
	return JIT_OK;
}

static int
put_utf8(struct wire_writer *w, uint32_t cp)
{
	uint8_t b[4];
	size_t n;

	if (cp == 0)
		return JIT_E_FORMAT; /* no NUL inside values */
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | (uint8_t)(cp >> 6);
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | (uint8_t)(cp >> 12);
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (uint8_t)(cp >> 18);
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	return wire_put_bytes(w, b, n);
}

/* A string literal (opening quote already read) into w. */
static int
string_body(struct wire_reader *r, struct wire_writer *w)
{
	uint32_t cp, lo;
	uint8_t c;
	int rc;

	for (;;) {
		if (wire_get_u8(r, &c) != 0)
			return JIT_E_FORMAT;
		if (c == '"')
			return JIT_OK;
		if (c < 0x20)
			return JIT_E_FORMAT;
		if (c != '\\') {
			if ((rc = wire_put_u8(w, c)) != 0)
				return rc;
			continue;
		}
		if (wire_get_u8(r, &c) != 0)
			return JIT_E_FORMAT;
		switch (c) {
		case '"':
		case '\\':
		case '/': rc = wire_put_u8(w, c); break;
		case 'b': rc = wire_put_u8(w, '\b'); break;
		case 'f': rc = wire_put_u8(w, '\f'); break;
		case 'n': rc = wire_put_u8(w, '\n'); break;
		case 'r': rc = wire_put_u8(w, '\r'); break;
		case 't': rc = wire_put_u8(w, '\t'); break;
		case 'u':
			if ((rc = hex4(r, &cp)) != 0)
				return rc;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (wire_get_u8(r, &c) != 0 || c != '\\' ||
				    wire_get_u8(r, &c) != 0 || c != 'u' ||
				    hex4(r, &lo) != 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return JIT_E_FORMAT;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff)
				return JIT_E_FORMAT;
			rc = put_utf8(w, cp);
			break;
		default: return JIT_E_FORMAT;
		}
		if (rc != 0)
			return rc;
	}
}

/* Copy one byte of a number if it is in set; how many were copied. */
static int
take_if(struct wire_reader *r, struct wire_writer *w, const char *set, int *rc)
{
	uint8_t c;

	if (*rc != 0 || wire_peek_u8(r, &c) != 0 || c == '\0' ||
	    strchr(set, c) == NULL)
		return 0;
	(void)wire_skip(r, 1);
	*rc = wire_put_u8(w, c);
	return 1;
}

static int
take_digits(struct wire_reader *r, struct wire_writer *w, int *rc)
{
	int n = 0;

	while (take_if(r, w, "0123456789", rc))
		n++;
	return n;
}

/* A bare literal: a JSON number, true, false or null; kept as its text. */
static int
bare_literal(struct wire_reader *r, struct wire_writer *w)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i, n;
	int rc = 0;
	uint8_t c;

	for (i = 0; i < 3; i++) {
		n = strlen(words[i]);
		if (wire_expect(r, words[i], n) == 0) {
			if ((rc = wire_put_bytes(w, words[i], n)) != 0)
				return rc;
			goto end;
		}
	}
	(void)take_if(r, w, "-", &rc);
	/* int = 0 | [1-9][0-9]* */
	if (take_if(r, w, "0", &rc) == 0) {
		if (take_if(r, w, "123456789", &rc) == 0)
			return rc != 0 ? rc : JIT_E_FORMAT;
		(void)take_digits(r, w, &rc);
	}
	if (take_if(r, w, ".", &rc) && take_digits(r, w, &rc) == 0)
		return rc != 0 ? rc : JIT_E_FORMAT;
	if (take_if(r, w, "eE", &rc)) {
		(void)take_if(r, w, "+-", &rc);
		if (take_digits(r, w, &rc) == 0)
			return rc != 0 ? rc : JIT_E_FORMAT;
	}
	if (rc != 0)
		return rc;
end:
	/* What follows a value is a separator, never more of a token. */
	if (wire_peek_u8(r, &c) == 0 && c != ',' && c != '}' && c != ' ' &&
	    c != '\t' && c != '\n' && c != '\r')
		return JIT_E_FORMAT;
	return JIT_OK;
}

static int parse_object(struct sjson_ctx *cx, int depth);

static int
parse_member(struct sjson_ctx *cx, int depth)
{
	struct wire_writer key;
	size_t save = cx->pathlen, klen;
	uint8_t c;
	int r;

	wire_writer_init(&key, FIELD_NAME_MAX, false);
	if ((r = expect(&cx->r, '"')) != 0 ||
	    (r = string_body(&cx->r, &key)) != 0)
		goto out;
	klen = wire_writer_len(&key);
	if (!fields_valid_name(wire_writer_data(&key), klen) ||
	    cx->pathlen + (cx->pathlen ? 1 : 0) + klen > FIELD_NAME_MAX) {
		r = JIT_E_FORMAT;
		goto out;
	}
	if (cx->pathlen > 0)
		cx->path[cx->pathlen++] = '.';
	memcpy(cx->path + cx->pathlen, wire_writer_data(&key), klen);
	cx->pathlen += klen;
	cx->path[cx->pathlen] = '\0';
	if ((r = expect(&cx->r, ':')) != 0)
		goto out;
	skip_ws(&cx->r);
	if ((r = wire_peek_u8(&cx->r, &c)) != 0)
		goto out;
	if (c == '{') {
		r = parse_object(cx, depth + 1);
		goto out;
	}
	if (c == '[') {
		r = JIT_E_FORMAT;
		goto out;
	}
	wire_writer_reset(&cx->val);
	if (c == '"') {
		(void)wire_skip(&cx->r, 1);
		r = string_body(&cx->r, &cx->val);
	} else
		r = bare_literal(&cx->r, &cx->val);
	if (r != 0)
		goto out;
	r = fields_add(&cx->b, cx->path, cx->pathlen,
	    wire_writer_data(&cx->val), wire_writer_len(&cx->val));
	wire_writer_reset(&cx->val);
out:
	cx->pathlen = save;
	cx->path[save] = '\0';
	wire_writer_reset(&key);
	return r;
}

static int
parse_object(struct sjson_ctx *cx, int depth)
{
	uint8_t c;
	int r;

	if (depth > SJSON_DEPTH_MAX)
		return JIT_E_LIMIT;
	if ((r = expect(&cx->r, '{')) != 0)
		return r;
	skip_ws(&cx->r);
	if (wire_peek_u8(&cx->r, &c) == 0 && c == '}') {
		(void)wire_skip(&cx->r, 1);
		return JIT_OK;
	}
	for (;;) {
		if ((r = parse_member(cx, depth)) != 0)
			return r;
		skip_ws(&cx->r);
		if (wire_get_u8(&cx->r, &c) != 0)
			return JIT_E_FORMAT;
		if (c == '}')
			return JIT_OK;
		if (c != ',')
			return JIT_E_FORMAT;
	}
}

int
sjson_to_fields(const struct secret *json, struct secret **ret_fields)
{
	struct sjson_ctx cx;
	int r;

	memset(&cx, 0, sizeof(cx));
	wire_reader_init(&cx.r, secret_ptr(json), secret_len(json));
	wire_writer_init(&cx.val, FIELD_VALUE_MAX, true);
	if ((r = fields_begin(&cx.b)) != 0)
		goto out;
	if ((r = parse_object(&cx, 1)) != 0)
		goto out;
	skip_ws(&cx.r);
	if ((r = wire_end(&cx.r)) != 0)
		goto out;
	r = fields_finish(&cx.b, ret_fields);
out:
	if (r != 0)
		fields_abort(&cx.b);
	wire_writer_reset(&cx.val);
	return r;
}

int
sjson_put_string(struct wire_writer *w, const void *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	struct wire_reader r;
	uint8_t c, esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	int rc;

	wire_reader_init(&r, s, len);
	if ((rc = wire_put_u8(w, '"')) != 0)
		return rc;
	while (wire_get_u8(&r, &c) == 0) {
		if (c == '"' || c == '\\') {
			uint8_t e[2] = { '\\', c };

			rc = wire_put_bytes(w, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			rc = wire_put_bytes(w, esc, sizeof(esc));
		} else
			rc = wire_put_u8(w, c);
		if (rc != 0)
			return rc;
	}
	return wire_put_u8(w, '"');
}
