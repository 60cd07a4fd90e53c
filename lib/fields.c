/* A credential's plaintext: named fields, wire-encoded in guarded memory. */
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "fields.h"
#include "secret.h"

int
fields_valid_name(const uint8_t *name, size_t len)
{
	size_t i;

	if (len == 0 || len > FIELD_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		uint8_t c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '.' ||
			c == '-'))
			return 0;
	}
	return 1;
}

int
fields_env_name(const uint8_t *name, size_t len)
{
	size_t i;

	if (len == 0 || len > FIELD_NAME_MAX ||
	    (name[0] >= '0' && name[0] <= '9'))
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
			(name[i] >= 'a' && name[i] <= 'z') ||
			(name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return 0;
	return 1;
}

int
fields_begin(struct fields_builder *b)
{
	wire_writer_init(&b->w, FIELDS_TOTAL_MAX, true);
	b->n = 0;
	return wire_put_u32(&b->w, 0);
}

int
fields_add(struct fields_builder *b, const char *name, size_t namelen,
    const uint8_t *val, size_t vallen)
{
	int r;

	size_t save;

	if (b->n >= FIELDS_MAX)
		return JIT_E_LIMIT;
	if (!fields_valid_name((const uint8_t *)name, namelen) ||
	    vallen > FIELD_VALUE_MAX)
		return JIT_E_FORMAT;
	save = wire_writer_len(&b->w);
	if ((r = wire_put_string(&b->w, name, namelen)) != 0 ||
	    (r = wire_put_string(&b->w, val, vallen)) != 0) {
		/* Leave no half pair behind: the encoding stays valid. */
		wire_writer_truncate(&b->w, save);
		return r;
	}
	b->n++;
	return wire_patch_u32(&b->w, 0, b->n);
}

void
fields_abort(struct fields_builder *b)
{
	wire_writer_reset(&b->w);
	b->n = 0;
}

int
fields_finish(struct fields_builder *b, struct secret **ret)
{
	struct secret *f = NULL;
	int r;

	if ((r = wire_writer_take_secret(&b->w, &f)) != 0)
		goto out;
	if ((r = fields_validate(f, NULL)) != 0)
		goto out;
	*ret = f;
	f = NULL;
out:
	secret_free(f);
	fields_abort(b);
	return r;
}

int
fields_iter_init(struct fields_iter *it, const struct secret *f)
{
	wire_reader_init(&it->r, secret_ptr(f), secret_len(f));
	return wire_get_u32(&it->r, &it->left);
}

int
fields_next(struct fields_iter *it, struct field *f)
{
	if (it->left == 0)
		return 0;
	if (wire_get_string(&it->r, FIELD_NAME_MAX, &f->name, &f->namelen) ||
	    wire_get_string(&it->r, FIELD_VALUE_MAX, &f->val, &f->vallen))
		return JIT_E_FORMAT;
	it->left--;
	return 1;
}

int
fields_validate(const struct secret *f, uint32_t *ret_count)
{
	struct fields_iter it, it2;
	struct field a, b;
	uint32_t n, i;
	int r;

	if (secret_len(f) > FIELDS_TOTAL_MAX)
		return JIT_E_LIMIT;
	if ((r = fields_iter_init(&it, f)) != 0)
		return r;
	if ((n = it.left) == 0 || n > FIELDS_MAX)
		return n == 0 ? JIT_E_FORMAT : JIT_E_LIMIT;
	for (i = 0; i < n; i++) {
		if ((r = fields_next(&it, &a)) != 1)
			return r == 0 ? JIT_E_FORMAT : r;
		if (!fields_valid_name(a.name, a.namelen) ||
		    memchr(a.val, '\0', a.vallen) != NULL)
			return JIT_E_FORMAT;
		/* Names are unique; n is small. */
		if ((r = fields_iter_init(&it2, f)) != 0)
			return r;
		for (uint32_t j = 0; j < i; j++) {
			if (fields_next(&it2, &b) != 1)
				return JIT_E_FORMAT;
			if (a.namelen == b.namelen &&
			    memcmp(a.name, b.name, a.namelen) == 0)
				return JIT_E_EXISTS;
		}
	}
	if ((r = wire_end(&it.r)) != 0)
		return r;
	if (ret_count != NULL)
		*ret_count = n;
	return JIT_OK;
}

int
fields_get(const struct secret *f, const char *name, struct field *ret)
{
	struct fields_iter it;
	struct field x;
	size_t len = strlen(name);
	int r;

	if ((r = fields_iter_init(&it, f)) != 0)
		return r;
	while ((r = fields_next(&it, &x)) == 1) {
		if (x.namelen == len && memcmp(x.name, name, len) == 0) {
			*ret = x;
			return JIT_OK;
		}
	}
	return r == 0 ? JIT_E_NOENT : r;
}
