// SPDX-License-Identifier: GPL-2.0-only
/*
 * penstock key-id: the id penstockd gives an API key an operator holds,
 * computed here from the key on standard input and penstockd's secret, so
 * that the key itself never has to be given to penstockd or typed on a
 * command line.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "common/keyid.h"
#include "common/units.h"
#include "count/state.h"

#define KEY_MAX		4096	/* bytes of a key read from standard input */

static const char keyid_usage[] =
	"usage: penstock key-id [--secret FILE] < KEYFILE\n"
	"\n"
	"Print the id penstockd counts an API key under (\"key:\" and 16 hex digits):\n"
	"SipHash-2-4 of the key under penstockd's secret. The key is read from\n"
	"standard input, one line (its newline, and a CR before it, are not part\n"
	"of it), so that it never appears in a command line or a shell history.\n"
	"\n"
	"  -k, --secret FILE  the secret (default " PS_STATE_DIR "/" PS_KEY_SECRET_FILE ",\n"
	"                     which penstockd makes at its first start)\n"
	PS_HELP_HELP
	"\n"
	"examples:\n"
	"  penstock key-id < ~/.config/openai/key\n"
	"  printf '%s\\n' \"$OPENAI_API_KEY\" | penstock key-id\n"
	"  penstock block \"$(penstock key-id < leaked.key)\" --for 1d\n"
	"\n"
	"exit status: 0 ok, 1 the secret cannot be read, 2 bad input\n";

struct keyid_opts {
	struct ps_opts_common c;
	const char *secret;
};

const struct ps_cmd_opts ps_cmd_key_id_opts = {
	"key-id", keyid_usage, 0,
	(const struct ps_opt[]){
		{ .name = "secret", .key = 'k', .type = PS_OPT_STRING,
		  .off = offsetof(struct keyid_opts, secret) },
		{},
	},
};

int ps_cmd_key_id(int argc, char **argv)
{
	const char *path = PS_STATE_DIR "/" PS_KEY_SECRET_FILE;
	struct keyid_opts o = {};
	uint8_t secret[PS_KEY_SECRET_LEN];
	char key[KEY_MAX + 2], err[4300], text[PS_KEY_STRLEN];
	int ret = ps_opts_parse(&ps_cmd_key_id_opts, argc, argv, &o);
	size_t n;
	int c;

	if (ret >= 0)
		return ret;
	if (o.secret)
		path = o.secret;
	n = fread(key, 1, sizeof(key) - 1, stdin);
	if (ferror(stdin)) {
		fprintf(stderr, "penstock key-id: standard input: %s\n", strerror(errno));
		return PS_EXIT_INPUT;
	}
	if (n > 0 && key[n - 1] == '\n')
		n--;
	if (n > 0 && key[n - 1] == '\r')
		n--;
	if (n > KEY_MAX || (c = getchar()) != EOF) {
		fprintf(stderr, "penstock key-id: a key of more than %d bytes, expected one line "
			"of at most %d\n", KEY_MAX, KEY_MAX);
		memset(key, 0, sizeof(key));
		return PS_EXIT_INPUT;
	}
	if (!n || memchr(key, '\n', n) || memchr(key, ' ', n) || memchr(key, '\t', n)) {
		fprintf(stderr, "penstock key-id: got %s, expected a key: one line, no blanks\n",
			!n ? "nothing" : "blanks or several lines");
		memset(key, 0, sizeof(key));
		return PS_EXIT_INPUT;
	}
	if (ps_key_secret_read(path, secret, err, sizeof(err))) {
		fprintf(stderr, "penstock key-id: %s\n", err);
		memset(key, 0, sizeof(key));
		return PS_EXIT_FAIL;
	}
	printf("%s\n", ps_key_str(ps_siphash24(secret, key, n), text, sizeof(text)));
	memset(key, 0, sizeof(key));
	memset(secret, 0, sizeof(secret));
	return PS_EXIT_OK;
}
