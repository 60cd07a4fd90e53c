/* The one bounds-checked reader and capped writer for every parser. */
#ifndef JIT_WIRE_H
#define JIT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct secret;

/*
 * Nothing else in the tree does pointer arithmetic on input.  Integers are
 * big-endian, strings are a u32 length then bytes (RFC 4251).  Every getter
 * takes a maximum, C strings with an embedded NUL are refused, and
 * wire_end() refuses trailing bytes.  On error the cursor is unchanged.
 *
 * The structs are opaque: their size is public so that readers and
 * writers live on the stack and inside other structs, but their members
 * (named with a leading underscore) are wire.c's alone; everything else
 * goes through the functions below (tests/meson.build checks it).
 */
struct wire_reader {
	const uint8_t *_p;
	size_t _len;
	size_t _off;
};

void wire_reader_init(struct wire_reader *r, const void *p, size_t len);
size_t wire_left(const struct wire_reader *r);
const uint8_t *wire_cursor(const struct wire_reader *r);
int wire_peek_u8(const struct wire_reader *r, uint8_t *ret);
int wire_get_u8(struct wire_reader *r, uint8_t *ret);
int wire_get_u16(struct wire_reader *r, uint16_t *ret);
int wire_get_u32(struct wire_reader *r, uint32_t *ret);
int wire_get_u64(struct wire_reader *r, uint64_t *ret);
int wire_get_bool(struct wire_reader *r, bool *ret);
int wire_get_bytes(struct wire_reader *r, void *out, size_t n);
int wire_skip(struct wire_reader *r, size_t n);
/* A string as a pointer into the input (no copy). */
int wire_get_string(
    struct wire_reader *r, size_t max, const uint8_t **ret, size_t *ret_len);
/* A string that must not contain NUL, copied into a malloc'd C string. */
int wire_get_cstring(struct wire_reader *r, size_t max, char **ret);
/* A string copied into guarded memory. */
int wire_get_secret(struct wire_reader *r, size_t max, struct secret **ret);
/* A string as a nested reader. */
int wire_get_sub(struct wire_reader *r, size_t max, struct wire_reader *ret);
/*
 * A line of text: the bytes before the next '\n', at most max of them, as
 * a pointer into the input.  The '\n' is consumed and not returned;
 * *ret_ended (may be NULL) says whether there was one, false for a last
 * line that runs to the end of the input.  A line with a NUL is refused
 * (JIT_E_FORMAT), one longer than max is JIT_E_LIMIT, and with nothing
 * left there is no line (JIT_E_FORMAT).
 */
int wire_get_line(struct wire_reader *r, size_t max, const uint8_t **ret,
    size_t *ret_len, bool *ret_ended);
/* The same for lines whose bytes the caller judges: NUL is let through
 * (a log whose torn last line may hold the zeros a crash left). */
int wire_get_line_bytes(struct wire_reader *r, size_t max, const uint8_t **ret,
    size_t *ret_len, bool *ret_ended);
/* Consume n bytes if they are exactly p's; else JIT_E_FORMAT. */
int wire_expect(struct wire_reader *r, const void *p, size_t n);
/* Skip the bytes at the cursor that are in set (a C string); returns how
 * many. */
size_t wire_skip_span(struct wire_reader *r, const char *set);
/* The bytes before the first one that is in stop (all that is left if
 * none is), perhaps none, as a pointer into the input; returns how many. */
size_t wire_get_until(
    struct wire_reader *r, const char *stop, const uint8_t **ret);
/* Drop up to max bytes that are in set from the end of what is left (the
 * input is not touched; the reader ends earlier); returns how many. */
size_t wire_trim_end(struct wire_reader *r, const char *set, size_t max);
int wire_end(const struct wire_reader *r);

/*
 * A writer with a hard cap.  A secure writer keeps its bytes in guarded
 * memory and, when it grows, copies into a fresh guarded region and wipes
 * the old one, so no stray copy of a secret is left on the heap.
 */
struct wire_writer {
	uint8_t *_d;
	size_t _len;
	size_t _cap;
	size_t _max;
	struct secret *_sec; /* backing store when secure */
	bool _secure;
};

void wire_writer_init(struct wire_writer *w, size_t max, bool secure);
void wire_writer_reset(struct wire_writer *w); /* frees, wipes */
int wire_put_u8(struct wire_writer *w, uint8_t v);
int wire_put_u16(struct wire_writer *w, uint16_t v);
int wire_put_u32(struct wire_writer *w, uint32_t v);
int wire_put_u64(struct wire_writer *w, uint64_t v);
int wire_put_bool(struct wire_writer *w, bool v);
int wire_put_bytes(struct wire_writer *w, const void *p, size_t n);
int wire_put_string(struct wire_writer *w, const void *p, size_t n);
int wire_put_cstring(struct wire_writer *w, const char *s);
/* Reserve n bytes, return where to write them. */
int wire_reserve(struct wire_writer *w, size_t n, uint8_t **ret);
/* Overwrite a u32 already written at offset off (frame lengths). */
int wire_patch_u32(struct wire_writer *w, size_t off, uint32_t v);
/* Drop n bytes from the front (consumed input). */
void wire_writer_consume(struct wire_writer *w, size_t n);
/* The bytes written so far: valid until the next write or reset, never
 * NULL (an empty writer gives a pointer to no bytes). */
const uint8_t *wire_writer_data(const struct wire_writer *w);
size_t wire_writer_len(const struct wire_writer *w);
/* Keep only the first len bytes and wipe the rest (to undo a write that
 * failed halfway); a writer no longer than len is left alone. */
void wire_writer_truncate(struct wire_writer *w, size_t len);
/* Hand the bytes over: plain writers give malloc'd memory, secure ones a
 * struct secret (exactly len bytes visible).  The writer is reset. */
int wire_writer_take(struct wire_writer *w, uint8_t **ret, size_t *ret_len);
int wire_writer_take_secret(struct wire_writer *w, struct secret **ret);

#endif
