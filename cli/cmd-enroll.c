/* jitctl enroll: bind a hardware token (its PIN, its touch) to the agent. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "jitctl.h"
#include "jsonx.h"
#include "prompt.h"
#include "proto-names.h"
#include "secret.h"

static const char enroll_help[] =
    "usage: jitctl enroll TYPE --label LABEL [--device DEVICE] [--uv]\n"
    "                     [--slot SLOT] [--touch always|cached|never]\n"
    "                     [--allow-simulated] [--pin-fd N | --no-pin]\n"
    "                     [--token LABEL] [--auth-pin-fd N]\n"
    "\n"
    "Bind a token to the agent.  TYPE is tpm2, fido2 or piv.  Every credential\n"
    "added later is wrapped to every enrolled token: enroll a backup.\n"
    "Once a token is enrolled, every further enrollment is approved with\n"
    "a fresh touch or PIN on an enrolled token.\n"
    "\n"
    "  -l, --label LABEL      a name for the token (required)\n"
    "  -d, --device DEVICE    tpm2: a TCTI (device:/dev/tpmrm0,\n"
    "                         swtpm:port=2321); fido2: a hidraw path or\n"
    "                         sim:SOCKET (the simulator); piv: a reader\n"
    "                         name (or part of it) or the card's serial\n"
    "  -u, --uv               fido2: ask for the PIN (user verification)\n"
    "                         on every unlock, not only a touch\n"
    "      --slot SLOT        piv: the key slot, 9d unless given\n"
    "      --touch POLICY     piv: touch always (default), cached (15 s)\n"
    "                         or never\n"
    "      --allow-simulated  accept a simulated token: the FIDO2 or PIV\n"
    "                         simulator or a software TPM (swtpm:,\n"
    "                         mssim:); tests and demos only\n"
    "  -p, --pin-fd N         read the PIN from file descriptor N\n"
    "      --no-pin           tpm2: no PIN (its only step-up: avoid)\n"
    "  -t, --token LABEL      the enrolled token that approves (default:\n"
    "                         the first that answers)\n"
    "      --auth-pin-fd N    read the approving token's PIN from N\n"
    "      --rewrap           then wrap the existing credentials to it\n"
    "                         too (jitctl rewrap: another touch or PIN of\n"
    "                         the approving token)\n"
    "  -h, --help             this text\n"
    "\n"
    "tpm2: the PIN chosen here guards the key (asked twice on the\n"
    "terminal unless --pin-fd).  fido2: the key's own PIN, needed with\n"
    "--uv or when the key has one set.  piv: the card's PIN (always);\n"
    "a card with the default management key gets a random one, stored\n"
    "on the card behind the PIN.\n";

enum {
	OPT_ALLOW_SIM = 256,
	OPT_NO_PIN,
	OPT_AUTH_PIN_FD,
	OPT_REWRAP,
	OPT_SLOT,
	OPT_TOUCH,
};

/* Credentials stored before this token came are not wrapped to it: offer
 * the rewrap, or do it (--rewrap).  Returns an exit code. */
static int
offer_rewrap(const char *label, const struct stepup_opts *o, bool now)
{
	struct client_reply st = { .retries = -1 };
	struct stepup_opts ro = *o;
	int64_t n;

	if (cli_request(JP_VERB_STATUS, NULL, NULL, &st) != 0) {
		client_reply_reset(&st);
		return JITCTL_EXIT_OK;
	}
	n = cli_jint(st.result, JP_RES_STATUS_TOTAL, 0);
	client_reply_reset(&st);
	if (n <= 0)
		return JITCTL_EXIT_OK;
	/* A PIN from a file is read again from its start. */
	if (now && (ro.pin_fd < 0 || lseek(ro.pin_fd, 0, SEEK_SET) == 0))
		return rewrap_run(label, &ro, NULL, 0);
	cli_note(
	    "%lld credential(s) are not wrapped to %s yet: 'jitctl rewrap --to %s' wraps them (one touch or PIN of a token they are wrapped to)",
	    (long long)n, label, label);
	return JITCTL_EXIT_OK;
}

/* The agent refuses a shorter new TPM PIN (hw/hw.h HW_TPM2_PIN_MIN). */
#define TPM2_PIN_MIN 6

/* A new TPM PIN, typed twice, or from the fd; its rules said first. */
static int
new_pin(const char *label, int pin_fd, struct secret **ret)
{
	struct secret *a = NULL, *b = NULL;
	char prompt[160], safe[80];
	int r;

	cli_note(
	    "the TPM PIN has at least %d characters; the TPM counts wrong PINs for everything that uses it (disk unlocking, other keys) and locks out after a few in a row; a correct PIN does not reset that count: it forgets one failure per interval (see 'tpm2_getcap properties-variable')",
	    TPM2_PIN_MIN);
	if (pin_fd >= 0)
		return prompt_pin(pin_fd, NULL, ret);
	cli_sanitize(label, safe, sizeof(safe));
	snprintf(prompt, sizeof(prompt), "New PIN for TPM token %s: ", safe);
	if ((r = prompt_tty(prompt, PROMPT_PIN_MAX, &a)) != 0)
		goto out;
	if ((r = prompt_tty("Repeat the PIN: ", PROMPT_PIN_MAX, &b)) != 0)
		goto out;
	if (!secret_equal(a, b)) {
		r = JIT_E_PIN;
		goto out;
	}
	if (secret_len(a) > 0 && secret_len(a) < TPM2_PIN_MIN) {
		r = JIT_E_ARG;
		goto out;
	}
	*ret = a;
	a = NULL;
out:
	secret_free(a);
	secret_free(b);
	return r;
}

static int
read_pin(const char *type, const char *label, int pin_fd, bool uv, bool no_pin,
    struct secret **ret)
{
	char prompt[160], safe[80];
	int r;

	*ret = NULL;
	if (no_pin)
		return JIT_OK;
	if (strcmp(type, "tpm2") == 0) {
		if ((r = new_pin(label, pin_fd, ret)) != 0)
			return r;
	} else if (pin_fd >= 0 || uv || strcmp(type, "piv") == 0) {
		cli_sanitize(label, safe, sizeof(safe));
		snprintf(prompt, sizeof(prompt),
		    strcmp(type, "piv") == 0 ? "PIN of PIV card %s: " :
					       "PIN for security key %s: ",
		    safe);
		if ((r = prompt_pin(pin_fd, prompt, ret)) != 0)
			return r;
	} else
		return JIT_OK;
	if (secret_len(*ret) == 0) {
		secret_free(*ret);
		*ret = NULL;
		if (strcmp(type, "tpm2") == 0)
			return JIT_E_PIN_REQUIRED;
	}
	return JIT_OK;
}

static void
pin_error(int r, int pin_fd)
{
	switch (r) {
	case JIT_E_PIN: cli_err("the two PINs differ"); break;
	case JIT_E_ARG:
		cli_err(
		    "the PIN is shorter than %d characters: choose a longer one",
		    TPM2_PIN_MIN);
		break;
	case JIT_E_PIN_REQUIRED:
		if (pin_fd >= 0)
			cli_err(
			    "the PIN from --pin-fd is empty: give one, or pass --no-pin");
		else
			cli_err(
			    "no PIN: type one, pass --pin-fd N, or pass --no-pin");
		break;
	case JIT_E_LIMIT:
		cli_err("the PIN is longer than %d bytes", PROMPT_PIN_MAX);
		break;
	case JIT_E_CANCELLED: cli_err("cancelled"); break;
	default:
		if (pin_fd >= 0)
			cli_err("cannot read the PIN from --pin-fd %d", pin_fd);
		else
			cli_err("cannot read the PIN: %s", jit_strerror(r));
	}
}

int
enroll_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "device", required_argument, NULL, 'd' },
		{ "uv", no_argument, NULL, 'u' },
		{ "allow-simulated", no_argument, NULL, OPT_ALLOW_SIM },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "no-pin", no_argument, NULL, OPT_NO_PIN },
		{ "token", required_argument, NULL, 't' },
		{ "auth-pin-fd", required_argument, NULL, OPT_AUTH_PIN_FD },
		{ "rewrap", no_argument, NULL, OPT_REWRAP },
		{ "slot", required_argument, NULL, OPT_SLOT },
		{ "touch", required_argument, NULL, OPT_TOUCH },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct client_reply rep = { .retries = -1 }, toks = { .retries = -1 };
	struct json_object *args = NULL, *tok = NULL, *enrolled;
	struct secret *pin = NULL;
	struct stepup_opts so = { .pin_fd = -1 };
	const char *type, *label = NULL, *device = NULL, *id;
	const char *slot = NULL, *touch = NULL;
	char purpose[256], safe[80];
	bool uv = false, allow_sim = false, no_pin = false, rewrap = false;
	bool new_touch;
	int c, r, ex, pin_fd = -1;

	while ((c = cli_getopt(argc, argv, ":l:d:up:t:h", opts)) != -1) {
		switch (c) {
		case 'l': label = optarg; break;
		case 'd': device = optarg; break;
		case 'u': uv = true; break;
		case OPT_ALLOW_SIM: allow_sim = true; break;
		case OPT_REWRAP: rewrap = true; break;
		case 'p':
			if (cli_pin_fd("--pin-fd", optarg, &pin_fd) != 0)
				return JITCTL_EXIT_USAGE;
			break;
		case OPT_NO_PIN: no_pin = true; break;
		case 't': so.token = optarg; break;
		case OPT_AUTH_PIN_FD:
			if (cli_pin_fd("--auth-pin-fd", optarg, &so.pin_fd) !=
			    0)
				return JITCTL_EXIT_USAGE;
			break;
		case OPT_SLOT: slot = optarg; break;
		case OPT_TOUCH: touch = optarg; break;
		case 'h': return cli_help(enroll_help);
		default: return cli_getopt_error(c, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(
		    "expected the token type: tpm2, fido2 or piv");
	type = argv[optind];
	if (strcmp(type, "tpm2") != 0 && strcmp(type, "fido2") != 0 &&
	    strcmp(type, "piv") != 0)
		return cli_usage_error(
		    "unknown token type '%s': tpm2, fido2 or piv", type);
	if (label == NULL)
		return cli_usage_error("--label is required");
	if (no_pin && pin_fd >= 0)
		return cli_usage_error(
		    "--no-pin and --pin-fd exclude each other");
	if (uv && strcmp(type, "fido2") != 0)
		return cli_usage_error("--uv is for fido2 tokens");
	if ((slot != NULL || touch != NULL) && strcmp(type, "piv") != 0)
		return cli_usage_error("--slot and --touch are for piv tokens");
	if (touch != NULL && strcmp(touch, "always") != 0 &&
	    strcmp(touch, "cached") != 0 && strcmp(touch, "never") != 0)
		return cli_usage_error("--touch takes always, cached or never");

	if ((r = stepup_tokens(&toks)) != 0) {
		ex = cli_fail(r, &toks);
		goto out;
	}
	enrolled = cli_jarray(toks.result, JP_RES_TOKENS_TOKENS);
	if ((r = read_pin(type, label, pin_fd, uv, no_pin, &pin)) != 0) {
		pin_error(r, pin_fd);
		ex = r == JIT_E_PIN_REQUIRED ? JITCTL_EXIT_USAGE :
					       JITCTL_EXIT_FAIL;
		goto out;
	}
	if ((args = json_object_new_object()) == NULL ||
	    jsonx_add_str(args, JP_ARG_ENROLL_TYPE, type) != 0 ||
	    jsonx_add_str(args, JP_ARG_ENROLL_LABEL, label) != 0 ||
	    (device != NULL &&
		jsonx_add_str(args, JP_ARG_ENROLL_DEVICE, device) != 0) ||
	    (uv && jsonx_add_bool(args, JP_ARG_ENROLL_UV, true) != 0) ||
	    (slot != NULL &&
		jsonx_add_str(args, JP_ARG_ENROLL_SLOT, slot) != 0) ||
	    (touch != NULL &&
		jsonx_add_str(args, JP_ARG_ENROLL_TOUCH, touch) != 0) ||
	    (allow_sim &&
		jsonx_add_bool(args, JP_ARG_ENROLL_ALLOW_SIMULATED, true) !=
		    0) ||
	    (so.token != NULL &&
		jsonx_add_str(args, JP_ARG_ENROLL_TOKEN, so.token) != 0)) {
		ex = cli_fail_code(JIT_E_NOMEM, NULL);
		goto out;
	}
	/* An enrolled token approves; then the new one is touched (not a
	 * TPM, nor a PIV slot whose touch policy is never). */
	new_touch = strcmp(type, "fido2") == 0 ||
	    (strcmp(type, "piv") == 0 &&
		(touch == NULL || strcmp(touch, "never") != 0));
	cli_sanitize(label, safe, sizeof(safe));
	snprintf(purpose, sizeof(purpose), "to approve enrolling %s%s%s", safe,
	    new_touch ? ", then the new key " : "", new_touch ? safe : "");
	so.purpose = purpose;
	so.pin_fields = true;
	so.new_pin = pin;
	if (enrolled != NULL && json_object_array_length(enrolled) > 0)
		r = stepup_request(
		    JP_VERB_ENROLL, args, enrolled, NULL, &so, &rep);
	else {
		if (new_touch)
			cli_notice_open(
			    "Touch your security key (%s)...", label);
		r = stepup_request(JP_VERB_ENROLL, args, NULL, NULL, &so, &rep);
	}
	if (r != 0) {
		ex = cli_fail(r, &rep);
		goto out;
	}
	if (json_object_object_get_ex(rep.result, JP_RES_ENROLL_TOKEN, &tok) &&
	    (id = cli_jstr(tok, JP_TOKEN_ID)) != NULL)
		cli_note("enrolled %s token %s (id %s)", type, label, id);
	else
		cli_note("enrolled %s token %s", type, label);
	if (cli_jstr(rep.result, JP_RES_ENROLL_APPROVED_BY) != NULL)
		cli_note("approved with %s",
		    cli_jstr(rep.result, JP_RES_ENROLL_APPROVED_BY));
	if (cli_jbool(tok, JP_TOKEN_SIMULATED))
		cli_note(
		    "warning: %s is a SIMULATED token: for tests and demos, never for real secrets",
		    label);
	ex = JITCTL_EXIT_OK;
	if (enrolled != NULL && json_object_array_length(enrolled) > 0) {
		so.pin_fields = false;
		so.new_pin = NULL;
		ex = offer_rewrap(label, &so, rewrap);
	}
out:
	json_object_put(args);
	secret_free(pin);
	client_reply_reset(&rep);
	client_reply_reset(&toks);
	return ex;
}
