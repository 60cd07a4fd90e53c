/* jitctl approve: show a request, ask, and sign it with the approver's own SSH key. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fsutil.h"
#include "jitctl.h"
#include "ssh-key.h"
#include "sshagent.h"
#include "sshsig.h"
#include "wire.h"

/* The agent's request text (agent/approval.h says the same). */
#define REQ_BEGIN "-----BEGIN JIT ACCESS REQUEST-----"
#define REQ_END "-----END JIT ACCESS REQUEST-----"
#define REQ_INPUT_MAX (64 * 1024)
#define REQ_TEXT_MAX 4096
#define REQ_VALUE_MAX 1024

static const char approve_help[] =
    "usage: jitctl approve [FILE|-] [--key PUBKEY] [--yes] [--output FILE]\n"
    "\n"
    "Show the access request in FILE (or on stdin: the text 'jitctl\n"
    "request' printed, as the requester passed it on), ask whether to\n"
    "approve it, and sign it with your own SSH key through your SSH agent\n"
    "(SSH_AUTH_SOCK): a security key asks for its touch.  The approval is\n"
    "an OpenSSH signature in namespace jit-approval@jit-agent, the same as\n"
    "'ssh-keygen -Y sign -n jit-approval@jit-agent -f KEY FILE' makes; the\n"
    "requester hands it to their agent with 'jitctl request --approval'.\n"
    "\n"
    "  -k, --key PUBKEY    the public key (a .pub or -cert.pub file) to sign\n"
    "                      with; needed when the SSH agent holds several\n"
    "  -y, --yes           do not ask (the request is still shown)\n"
    "  -o, --output FILE   write the approval there (default: stdout)\n"
    "  -h, --help          this text\n";

struct req_view {
	char text[REQ_TEXT_MAX + 1];
	size_t len;
	char id[64], profile[REQ_VALUE_MAX], name[REQ_VALUE_MAX],
	    reason[REQ_VALUE_MAX], ttl[32], requester[REQ_VALUE_MAX],
	    expires[64], approvals[16];
};

static void
field(const uint8_t *p, size_t n, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);

	if (n > klen + 2 && memcmp(p, key, klen) == 0 && p[klen] == ':' &&
	    p[klen + 1] == ' ')
		snprintf(out, outlen, "%.*s", (int)(n - klen - 2),
		    (const char *)p + klen + 2);
}

/* The block from its BEGIN line to its END line, as the agent wrote it
 * (a \r before a newline, from a mail, is dropped); its fields. */
static int
parse_request(const char *in, size_t inlen, struct req_view *v)
{
	struct wire_reader r;
	const uint8_t *p;
	size_t n;
	bool began = false, ended = false;

	memset(v, 0, sizeof(*v));
	wire_reader_init(&r, in, inlen);
	while (!ended && wire_left(&r) > 0) {
		if (wire_get_line(&r, REQ_TEXT_MAX, &p, &n, NULL) != 0)
			return JIT_E_FORMAT;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (!began && n == strlen(REQ_BEGIN) &&
		    memcmp(p, REQ_BEGIN, n) == 0)
			began = true;
		if (!began)
			continue;
		if (v->len + n + 1 > REQ_TEXT_MAX)
			return JIT_E_LIMIT;
		memcpy(v->text + v->len, p, n);
		v->len += n;
		v->text[v->len++] = '\n';
		ended = n == strlen(REQ_END) && memcmp(p, REQ_END, n) == 0;
		field(p, n, "id", v->id, sizeof(v->id));
		field(p, n, "profile", v->profile, sizeof(v->profile));
		field(p, n, "name", v->name, sizeof(v->name));
		field(p, n, "reason", v->reason, sizeof(v->reason));
		field(p, n, "ttl", v->ttl, sizeof(v->ttl));
		field(p, n, "requester", v->requester, sizeof(v->requester));
		field(p, n, "expires", v->expires, sizeof(v->expires));
		field(p, n, "approvals", v->approvals, sizeof(v->approvals));
	}
	v->text[v->len] = '\0';
	if (!ended || v->id[0] == '\0' || v->profile[0] == '\0')
		return JIT_E_FORMAT;
	return JIT_OK;
}

/* y or yes on the terminal. */
static int
confirm(void)
{
	char buf[16];
	ssize_t k;
	int fd;

	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		return JIT_E_PIN_REQUIRED;
	(void)!write(fd, "Approve this request? [y/N] ", 28);
	k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return JIT_E_CANCELLED;
	buf[k] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return strcmp(buf, "y") == 0 || strcmp(buf, "yes") == 0 ?
	    JIT_OK :
	    JIT_E_CANCELLED;
}

/* The identity to sign with: --key's, or the agent's only one. */
static int
pick_key(
    const struct sshagent_id *ids, size_t n, const char *keyfile, size_t *ret)
{
	uint8_t *blob = NULL;
	char *line = NULL;
	size_t len, bloblen, i;
	int r;

	if (keyfile == NULL) {
		if (n == 1) {
			*ret = 0;
			return JIT_OK;
		}
		return cli_fail_code(JIT_E_ARG,
		    n == 0 ?
			"your SSH agent holds no key: add yours with ssh-add" :
			"your SSH agent holds %zu keys: choose one with --key PUBKEY",
		    n);
	}
	if ((r = fs_read_file(keyfile, SSH_CERT_LINE_MAX, &line, &len)) != 0)
		return cli_fail_code(r, "cannot read %s", keyfile);
	r = ssh_key_line_blob(line, len, &blob, &bloblen);
	free(line);
	if (r != 0)
		return cli_fail_code(
		    r, "%s is not an OpenSSH public key line", keyfile);
	for (i = 0; i < n; i++)
		if (ids[i].len == bloblen &&
		    memcmp(ids[i].blob, blob, bloblen) == 0)
			break;
	free(blob);
	if (i == n)
		return cli_fail_code(JIT_E_NOENT,
		    "your SSH agent does not hold the key of %s: add it with ssh-add",
		    keyfile);
	*ret = i;
	return JIT_OK;
}

static int
write_out(const char *path, const char *armored)
{
	if (path == NULL)
		return cli_write_all(STDOUT_FILENO, armored, strlen(armored));
	return fs_write_atomic(path, armored, strlen(armored), 0644);
}

int
approve_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "yes", no_argument, NULL, 'y' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sshagent_id *ids = NULL;
	struct sshsig_signer sg;
	struct sshsig s;
	struct req_view *v = NULL;
	const char *path = "-", *keyfile = NULL, *outpath = NULL;
	char *in = NULL, *armored = NULL, why[256];
	uint8_t *data = NULL, *sig = NULL, *blob = NULL;
	size_t inlen, nids = 0, k, datalen, siglen, bloblen;
	bool yes = false;
	int c, r, fd = -1, ex = JITCTL_EXIT_FAIL;

	memset(&sg, 0, sizeof(sg));
	while ((c = cli_getopt(argc, argv, ":k:yo:h", opts)) != -1) {
		switch (c) {
		case 'k': keyfile = optarg; break;
		case 'y': yes = true; break;
		case 'o': outpath = optarg; break;
		case 'h': return cli_help(approve_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("expected one request file (or -)");
	if (argc - optind == 1)
		path = argv[optind];
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return cli_fail_code(JIT_E_NOMEM, NULL);
	if ((r = cli_read_text(path, REQ_INPUT_MAX, &in, &inlen)) != 0) {
		ex = cli_fail_code(r, "cannot read the request from %s",
		    strcmp(path, "-") == 0 ? "stdin" : path);
		goto out;
	}
	if ((r = parse_request(in, inlen, v)) != 0) {
		ex = cli_fail_code(r,
		    "no access request in %s: pass the whole text from %s to %s",
		    strcmp(path, "-") == 0 ? "stdin" : path, REQ_BEGIN,
		    REQ_END);
		goto out;
	}
	cli_note("request %s", v->id);
	cli_note("  who:     %s", v->requester);
	cli_note("  what:    profile %s (credential %s)", v->profile, v->name);
	cli_note("  why:     %s", v->reason);
	cli_note("  for:     %s seconds once issued", v->ttl);
	cli_note("  waits:   until %s, for %s approval(s)", v->expires,
	    v->approvals);
	if (!yes && (r = confirm()) != 0) {
		ex = cli_fail_code(r,
		    r == JIT_E_PIN_REQUIRED ?
			"no terminal to ask on: read the request and pass --yes" :
			"not approved");
		goto out;
	}
	if ((r = sshagent_connect(&fd, why, sizeof(why))) != 0) {
		ex = cli_fail_code(r, "%s", why);
		goto out;
	}
	if ((r = sshagent_identities(fd, &ids, &nids)) != 0) {
		ex = cli_fail_code(r, "your SSH agent's keys cannot be listed");
		goto out;
	}
	if ((ex = pick_key(ids, nids, keyfile, &k)) != JITCTL_EXIT_OK)
		goto out;
	ex = JITCTL_EXIT_FAIL;
	if ((r = sshsig_signed_data(SSHSIG_NS_APPROVAL, SSHSIG_HASH,
		 (const uint8_t *)v->text, v->len, &data, &datalen)) != 0) {
		ex = cli_fail_code(r, NULL);
		goto out;
	}
	cli_notice_open("Signing with your SSH key (touch it if it asks)...");
	if ((r = sshagent_sign(fd, ids[k].blob, ids[k].len, data, datalen,
		 SSH_AGENT_RSA_SHA2_512, &sig, &siglen)) != 0) {
		cli_close_line();
		ex = cli_fail_code(r,
		    "your SSH agent did not sign (refused, no touch, or a key it cannot use)");
		goto out;
	}
	cli_close_line();
	/* What the agent gave must verify, as the requester's agent will. */
	if ((r = sshsig_build(ids[k].blob, ids[k].len, SSHSIG_NS_APPROVAL,
		 SSHSIG_HASH, sig, siglen, &blob, &bloblen)) != 0 ||
	    (r = sshsig_parse(blob, bloblen, &s)) != 0 ||
	    (r = sshsig_verify(&s, SSHSIG_NS_APPROVAL, (const uint8_t *)v->text,
		 v->len, &sg)) != 0 ||
	    (r = sshsig_armor(blob, bloblen, &armored)) != 0) {
		ex = cli_fail_code(
		    r, "the signature your SSH agent made does not verify");
		goto out;
	}
	if ((r = write_out(outpath, armored)) != 0) {
		ex = cli_fail_code(r, "cannot write %s", outpath);
		goto out;
	}
	cli_note(
	    "approved as key %s: pass the approval to the requester ('jitctl request --approval FILE %s')",
	    sg.fp, v->id);
	ex = JITCTL_EXIT_OK;
out:
	sshsig_signer_reset(&sg);
	if (fd >= 0)
		close(fd);
	sshagent_ids_free(ids, nids);
	free(in);
	free(v);
	free(data);
	free(sig);
	free(blob);
	free(armored);
	return ex;
}
