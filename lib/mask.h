/* Concealing known values in a stream of output (jitctl exec's filter). */
#ifndef JIT_MASK_H
#define JIT_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secret;

/* What stands in for a value in the output. */
#define MASK_REPLACEMENT "<concealed by jit-agent>"
/* Shorter values are not concealed: they would hide every such word. */
#define MASK_MIN_LEN 3
/* At most this many values, and this many bytes of them in all. */
#define MASK_VALUES_MAX 1024
#define MASK_TOTAL_MAX (1024 * 1024)
/* What one read hands the filter. */
#define MASK_CHUNK (16 * 1024)

/*
 * The values, copied from credentials' fields encodings (lib/fields.h)
 * into guarded memory, longest first: where two values start at one place
 * the longer wins, so a value's tail never shows behind a shorter one.
 */
struct mask_set;
int mask_set_new(
    const struct secret *const *fields, size_t nfields, struct mask_set **ret);
size_t mask_set_count(const struct mask_set *ms);
void mask_set_free(struct mask_set *ms);

/*
 * One stream (the child's stdout or its stderr).  What could still be the
 * start of a value is held back (at most the longest value's length less
 * one byte) until the next bytes decide or mask_flush() gives it up (the
 * stream went idle or ended).  Bytes go to out() as they are decided: the
 * text between values straight from guarded memory, MASK_REPLACEMENT for
 * each value.
 */
typedef int (*mask_out_fn)(void *ctx, const void *p, size_t n);
struct mask_stream;
int mask_stream_new(const struct mask_set *ms, mask_out_fn out, void *ctx,
    struct mask_stream **ret);
/* Where to read up to *room bytes into (guarded memory), then ... */
uint8_t *mask_stream_space(struct mask_stream *st, size_t *room);
/* ... how many were read: filtered and passed on. */
int mask_stream_commit(struct mask_stream *st, size_t n);
/* Copy n bytes in and filter them (tests; n at most MASK_CHUNK). */
int mask_stream_feed(struct mask_stream *st, const void *p, size_t n);
/* Give up what is held: values whole in it are still concealed. */
int mask_stream_flush(struct mask_stream *st);
/* Bytes held back now. */
size_t mask_stream_held(const struct mask_stream *st);
void mask_stream_free(struct mask_stream *st);

#endif
