/* Unit tests of lib/log.c: escaping forges no line and never overruns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assert.h"
#include "log.h"

#define GUARD 0x5a

static void
check_escape(const char *in, size_t inlen, const char *want)
{
	char out[256];

	log_escape(in, inlen, out, sizeof(out));
	ASSERT_EQ_STR(out, want);
}

/* Control bytes, backslash, DEL and non-ASCII become \xNN. */
TEST(escapes)
{
	check_escape("plain text 123 ~!", 17, "plain text 123 ~!");
	ASSERT_PASSING();
	check_escape("a\nb", 3, "a\\x0ab");
	ASSERT_PASSING();
	check_escape("\r\t\x1b[31m", 7, "\\x0d\\x09\\x1b[31m");
	ASSERT_PASSING();
	check_escape("caf\xc3\xa9", 5, "caf\\xc3\\xa9");
	ASSERT_PASSING();
	check_escape("\\x41", 4, "\\x5cx41"); /* a literal \x is not */
	ASSERT_PASSING();
	check_escape("\x7f\x80\xff", 3, "\\x7f\\x80\\xff");
	ASSERT_PASSING();
	check_escape("", 0, "");
	ASSERT_PASSING();
	/* inlen is respected: the input need not be terminated. */
	check_escape("abcdef", 3, "abc");
	ASSERT_PASSING();
}

/* Every byte value: the output is printable ASCII and decodes back. */
TEST(every_byte)
{
	char in[255], out[255 * 4 + 1], back[255];
	size_t i, o = 0, n = 0;
	unsigned int v;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(i + 1);
	log_escape(in, sizeof(in), out, sizeof(out));
	for (i = 0; out[i] != '\0'; i++)
		ASSERT_MSG(out[i] >= 0x20 && out[i] < 0x7f,
		    "byte 0x%02x reached the output", (unsigned char)out[i]);
	/* Decode it again: nothing lost, nothing ambiguous. */
	while (out[o] != '\0') {
		ASSERT(n < sizeof(back));
		if (out[o] == '\\') {
			ASSERT(out[o + 1] == 'x');
			ASSERT(sscanf(out + o + 2, "%2x", &v) == 1);
			back[n++] = (char)v;
			o += 4;
		} else
			back[n++] = out[o++];
	}
	ASSERT_EQ_UINT(n, sizeof(in));
	ASSERT_EQ_MEM(back, in, sizeof(in));
}

/* Any output size: terminated, within bounds, escapes never cut. */
TEST(never_overruns)
{
	static const char in[] = "ab\ncd\xff"
				 "efgh\\ij\x01"
				 "klmnop";
	char out[64];
	size_t outlen, i, len;

	for (outlen = 0; outlen <= 48; outlen++) {
		memset(out, GUARD, sizeof(out));
		log_escape(in, sizeof(in) - 1, out, outlen);
		for (i = outlen; i < sizeof(out); i++)
			ASSERT_MSG((unsigned char)out[i] == GUARD,
			    "outlen %zu: byte %zu written", outlen, i);
		if (outlen == 0)
			continue;
		len = strnlen(out, outlen);
		ASSERT_MSG(len < outlen, "outlen %zu: not terminated", outlen);
		/* A cut never leaves half an escape. */
		for (i = 0; i < len; i++) {
			if (out[i] != '\\')
				continue;
			ASSERT_MSG(i + 3 < len, "outlen %zu: escape cut at %zu",
			    outlen, i);
			i += 3;
		}
		/* And what fits is a prefix of the whole escape. */
		{
			char whole[64];

			log_escape(in, sizeof(in) - 1, whole, sizeof(whole));
			ASSERT_EQ_MEM(out, whole, len);
		}
	}
}

/* Log lines go through the escape: a client's newline cannot forge one. */
TEST(log_lines_escaped)
{
	char path[] = "/tmp/jit-test-log-XXXXXX", buf[512];
	FILE *f;
	int fd, saved;
	size_t n;

	ASSERT((fd = mkstemp(path)) >= 0);
	unlink(path);
	fflush(stderr);
	ASSERT((saved = dup(2)) >= 0);
	ASSERT(dup2(fd, 2) == 2);
	log_init("test-log", 1, LOG_LVL_INFO);
	log_info("name=%s", "evil\nfake: error: forged");
	log_debug("not at this level");
	log_set_level(LOG_LVL_DEBUG);
	log_debug("now %d", 1);
	log_set_level(LOG_LVL_WARN);
	log_info("filtered");
	log_warn("warned");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ASSERT((f = fdopen(fd, "r")) != NULL);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	ASSERT_EQ_STR(buf,
	    "test-log: info: name=evil\\x0afake: error: forged\n"
	    "test-log: debug: now 1\n"
	    "test-log: warning: warned\n");
	log_set_level(LOG_LVL_INFO);
}

static const struct test_case tests[] = {
	TEST_ENTRY(escapes),
	TEST_ENTRY(every_byte),
	TEST_ENTRY(never_overruns),
	TEST_ENTRY(log_lines_escaped),
};

TEST_MAIN(tests)
