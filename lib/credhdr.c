/* A credential's header as the AEAD's associated data. */
#include <string.h>

#include "credhdr.h"
#include "err.h"
#include "wire.h"

#define CRED_VERSION 1
#define CRED_AD_LABEL "jit-agent credential v1"
#define CRED_AD_MAX (64 * 1024)

static int
put_tagged(struct wire_writer *w, const char *tag, const char *v)
{
	int r;

	if (v == NULL)
		return JIT_OK;
	if ((r = wire_put_cstring(w, tag)) != 0)
		return r;
	return wire_put_cstring(w, v);
}

int
credhdr_ad(const struct credhdr *h, uint8_t **ret, size_t *ret_len)
{
	struct wire_writer w;
	size_t i;
	int r;

	wire_writer_init(&w, CRED_AD_MAX, false);
	if ((r = wire_put_cstring(&w, CRED_AD_LABEL)) != 0 ||
	    (r = wire_put_u32(&w, CRED_VERSION)) != 0 ||
	    (r = wire_put_cstring(&w, h->name)) != 0 ||
	    (r = wire_put_cstring(&w, h->kind)) != 0 ||
	    (r = wire_put_u32(&w, (uint32_t)h->nfields)) != 0)
		goto out;
	for (i = 0; i < h->nfields; i++)
		if ((r = wire_put_cstring(&w, h->field_names[i])) != 0)
			goto out;
	if ((r = wire_put_u64(&w, (uint64_t)h->created)) != 0 ||
	    (r = wire_put_u64(&w, (uint64_t)h->not_after)) != 0 ||
	    (r = wire_put_cstring(&w, h->stepup)) != 0 ||
	    (r = put_tagged(&w, "profile", h->profile)) != 0 ||
	    (r = put_tagged(&w, "reason", h->reason)) != 0)
		goto out;
	if (h->npub > 0 &&
	    ((r = wire_put_cstring(&w, "public")) != 0 ||
		(r = wire_put_u32(&w, (uint32_t)h->npub)) != 0))
		goto out;
	for (i = 0; i < h->npub; i++)
		if ((r = wire_put_cstring(&w, h->pub[i].name)) != 0 ||
		    (r = wire_put_cstring(&w, h->pub[i].value)) != 0)
			goto out;
	/* A tag alone: a file edited to add it opens nothing. */
	if (h->unlock_on_use &&
	    (r = wire_put_cstring(&w, "unlock_on_use")) != 0)
		goto out;
	/* Last, so that every header written before it is unchanged. */
	if ((r = put_tagged(&w, "sealed_by", h->sealed_by)) != 0)
		goto out;
	/* After it, for the same reason: older headers stay as they were. */
	if (h->ssh_certlen > 0 &&
	    ((r = wire_put_cstring(&w, "ssh_cert")) != 0 ||
		(r = wire_put_string(&w, h->ssh_cert, h->ssh_certlen)) != 0))
		goto out;
	r = wire_writer_take(&w, ret, ret_len);
out:
	wire_writer_reset(&w);
	return r;
}

int
credhdr_sealed_by_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > CREDHDR_SEALED_BY_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}
