/* Command-line options taken as declared: no abbreviations, no secrets. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "optcheck.h"

#define NAME_MAX_SHOWN 64 /* an option's name in a sentence */

/* Names a person uses for a secret, alone or at the end: --db-password. */
static const char *const secret_words[] = {
	"pin",
	"pincode",
	"password",
	"passwd",
	"passphrase",
	"pass",
	"pw",
	"pwd",
	"secret",
	"key",
};

/* The name up to '=' or its end, lower case, '_' as '-'; false if long. */
static bool
norm_name(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] != '\0' && s[i] != '='; i++) {
		if (i + 1 >= outlen)
			return false;
		out[i] = s[i] == '_' ? '-' : (char)tolower((unsigned char)s[i]);
	}
	out[i] = '\0';
	return true;
}

static bool
looks_secret(const char *arg)
{
	char name[NAME_MAX_SHOWN + 1];
	size_t i, n, w;

	if (!norm_name(arg, name, sizeof(name)))
		return false;
	n = strlen(name);
	/* --no-pin says there is none. */
	if (strncmp(name, "no-", 3) == 0)
		return false;
	for (i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++) {
		w = strlen(secret_words[i]);
		if (strcmp(name, secret_words[i]) == 0)
			return true;
		if (n > w && name[n - w - 1] == '-' &&
		    strcmp(name + n - w, secret_words[i]) == 0)
			return true;
	}
	return false;
}

/* The name of "--name=value" for a sentence: never the value. */
static void
shown_name(const char *arg, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; arg[i] != '\0' && arg[i] != '=' && i + 1 < outlen &&
	     i < NAME_MAX_SHOWN;
	     i++)
		out[i] = isprint((unsigned char)arg[i]) ? arg[i] : '?';
	out[i] = '\0';
}

static const struct option *
find_long(const struct option *longopts, const char *name, size_t len)
{
	const struct option *o;

	for (o = longopts; o != NULL && o->name != NULL; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* The declared option that name abbreviates, if exactly one does. */
static const struct option *
abbreviated(const struct option *longopts, const char *name, size_t len)
{
	const struct option *o, *found = NULL;

	for (o = longopts; o != NULL && o->name != NULL; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = o;
	}
	return found;
}

/* Does short option c take a value: 0 no, 1 required, 2 optional. */
static int
short_arg(const char *shortopts, char c)
{
	const char *p;

	if (c == ':' || c == '+' || c == '-' ||
	    (p = strchr(shortopts, c)) == NULL)
		return 0;
	if (p[1] != ':')
		return 0;
	return p[2] == ':' ? 2 : 1;
}

static int
refuse_secret(const char *arg, char *why, size_t whylen)
{
	char name[NAME_MAX_SHOWN + 1];

	shown_name(arg, name, sizeof(name));
	snprintf(why, whylen,
	    "%s looks like a PIN or secret: " OPTCHECK_SECRETS_FROM, name);
	return JIT_E_DENIED;
}

static int
refuse_unknown(const struct option *longopts, const char *arg, size_t len,
    char *why, size_t whylen)
{
	const struct option *o;
	char name[NAME_MAX_SHOWN + 1];

	shown_name(arg, name, sizeof(name));
	if (len > 0 && (o = abbreviated(longopts, arg + 2, len)) != NULL)
		snprintf(why, whylen,
		    "unknown option %s (options are never abbreviated: did you mean --%s?)",
		    name, o->name);
	else
		snprintf(why, whylen, "unknown option %s", name);
	return JIT_E_ARG;
}

int
optcheck(int argc, char *const argv[], const char *shortopts,
    const struct option *longopts, char *why, size_t whylen)
{
	const struct option *o;
	const char *a, *eq, *p;
	bool in_order;
	size_t len;
	int i, k;

	if (whylen > 0)
		why[0] = '\0';
	in_order = shortopts[0] == '+' || getenv("POSIXLY_CORRECT") != NULL;
	for (i = 1; i < argc && argv[i] != NULL; i++) {
		a = argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (a[0] != '-' || a[1] == '\0') {
			if (in_order)
				break;
			continue; /* an operand; getopt_long permutes */
		}
		if (a[1] == '-') {
			eq = strchr(a + 2, '=');
			len = eq != NULL ? (size_t)(eq - (a + 2)) :
					   strlen(a + 2);
			o = find_long(longopts, a + 2, len);
			if (looks_secret(a + 2) && o == NULL)
				return refuse_secret(a, why, whylen);
			if (o == NULL)
				return refuse_unknown(
				    longopts, a, len, why, whylen);
			if (o->has_arg == required_argument && eq == NULL)
				i++; /* its value */
			continue;
		}
		/* "-pin 1234": a long name with one dash, or -p with "in". */
		if (a[2] != '\0' && looks_secret(a + 1))
			return refuse_secret(a, why, whylen);
		for (p = a + 1; *p != '\0'; p++) {
			if ((k = short_arg(shortopts, *p)) == 0)
				continue;
			/* The rest of the word is the value, or the next. */
			if (p[1] == '\0' && k == 1)
				i++;
			break;
		}
	}
	return JIT_OK;
}
