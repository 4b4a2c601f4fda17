// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the YAML config loader (userspace/common/config.c).
 *
 * Each case writes a YAML snippet to a file in a private temporary
 * directory and loads it. Error cases check the return code, the exact
 * "file:line:column: message" text (lines and columns worked out from the
 * snippet, not copied from the loader) and that the target config was not
 * touched. Output: one line per case, "PASS name" or "FAIL name: why";
 * the exit status is 1 if any case failed.
 *
 * The annotated example etc/penstock.yaml is found from this file's path
 * (or $PS_SRCDIR, the top of the source tree), so the example and the
 * loader can't drift apart.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "../check.h"

static char tmpdir[] = "/tmp/penstock-unit-config-XXXXXX";

/* Write text (len bytes, so NULs and bad UTF-8 can be tested) to tmpdir/name.yaml. */
static int write_yaml(const char *name, const char *text, size_t len, char *path, size_t pathlen)
{
	FILE *f;

	snprintf(path, pathlen, "%s/%s.yaml", tmpdir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* A config full of garbage, to see that a failed load leaves it alone. */
static void poison(struct ps_config *cfg)
{
	memset(cfg, 0xa5, sizeof(*cfg));
}

static bool is_poisoned(const struct ps_config *cfg)
{
	const unsigned char *p = (const unsigned char *)cfg;
	size_t i;

	for (i = 0; i < sizeof(*cfg); i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

struct err_case {
	const char *name;
	const char *yaml;
	int rc;
	const char *msg;	/* what follows "FILE:" */
};

/* Beginnings of snippets, and the longer expectations they share. */
#define LIMITS		"endpoints: [{port: 1}]\nlimits:\n  default:\n"
#define CLASSES		"endpoints: [{port: 1}]\nlimits:\n  classes:\n"
#define CLASS_A		CLASSES "    - name: a\n      clients: [10.0.0.0/8]\n"
#define DEFAULT_KEYS	"requests_per_minute, burst, requests_per_day, egress_bytes_per_minute, " \
			"egress_bytes_per_day, max_connections, on_exceed, shape_rate, tokens_per_minute, token_burst, tokens_per_day, " \
			"token_reserve"
#define CLASS_KEYS	"name, clients, keys, " DEFAULT_KEYS ", unlimited, dry_run, exempt, alert_only, " \
			"thresholds"
#define SIZE_WANT	"a size such as 50MiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
#define RATE_WANT	"a rate such as 2mbit (units bit, kbit, mbit, gbit, tbit, kibit, mibit, " \
			"gibit; bps, kbps, mbps, gbps for bytes)"
#define PREFIX_WANT	"an IPv4 or IPv6 address or prefix such as 203.0.113.0/24 or 2001:db8::/32"
#define ROOT_KEYS	"interfaces, endpoints, max_clients, reclaim_idle, limits, dry_run, xdp, " \
			"alerts, detection, metrics, fleet, fleet_limits"
#define ALERTS		"endpoints: [{port: 1}]\nalerts:\n"
#define ALERTS_KEYS	"stderr, jsonl, webhook, keep_in_memory"
#define ABS_WANT	"a string of 1..1023 characters, an absolute path"
#define URL_WANT	"a string of 1..1023 characters, an http:// or https:// URL"
#define DURATION_WANT	"a duration such as 30s, 10m, 2h or 1d"
/* A webhook with its url: the next key starts in column 30. */
#define WEBHOOK		ALERTS "  webhook: {url: \"http://a\", "
/* A JSON-lines file with its path: the next key starts in column 21. */
#define JSONL		ALERTS "  jsonl: {path: /a, "
#define DETECTION	"endpoints: [{port: 1}]\ndetection:\n"
#define DETECTION_KEYS	"enabled, interval, min_population, zscore, high_rate, prefix, low_and_slow, " \
			"surge, ratio, shared_key, key_hydra, thresholds, escalation"
#define THRESHOLD_KEYS	"requests_per_minute, requests_per_hour, requests_per_day, " \
			"tx_payload_per_hour, tx_payload_per_day"
#define STEP_KEYS	"action, for, cooldown, rate, requests_per_minute"
#define ZSCORE_WANT	"a decimal number in 1..1000"
/* A detector's flow mapping, opened on line 3: its first key starts in the column given. */
#define HIGH_RATE	DETECTION "  high_rate: {"		/* 15 */
#define PREFIX_DET	DETECTION "  prefix: {"		/* 12 */
#define LOW_SLOW	DETECTION "  low_and_slow: {"	/* 18 */
#define SURGE		DETECTION "  surge: {"		/* 11 */
#define RATIO		DETECTION "  ratio: {"		/* 11 */
#define THRESHOLDS	DETECTION "  thresholds: {"	/* 16 */
/* escalation's keys start on line 4, in column 5; steps' entries on line 5, '{' in column 9. */
#define ESCALATION	DETECTION "  escalation:\n"
#define STEPS		ESCALATION "    steps:\n"

static const struct err_case err_cases[] = {
	/* YAML syntax */
	{ "syntax_bad_indent", "endpoints:\n  - port: 8000\n   name: x\n", -EINVAL,
	  "3:4: YAML syntax error while parsing a block collection (line 2, column 3): did not find expected '-' indicator" },
	{ "syntax_unclosed_flow", "interfaces: [eth0\nendpoints: []\n", -EINVAL,
	  "2:10: YAML syntax error while parsing a flow sequence (line 1, column 13): did not find expected ',' or ']'" },
	{ "syntax_tab_indent", "endpoints:\n\t- port: 1\n", -EINVAL,
	  "2:1: YAML syntax error while scanning for the next token (line 2, column 1): found character that cannot start any token" },
	{ "syntax_undefined_alias", "endpoints:\n  - port: 1\n    paths: *p\n", -EINVAL,
	  "3:12: YAML syntax error: found undefined alias" },
	{ "syntax_invalid_utf8", "endpoints: [{port: 1}]\n# \xff\n", -EINVAL,
	  "2:3: invalid input: invalid leading UTF-8 octet #xFF, expected UTF-8 text" },
	/* columns count characters, as editors do, not bytes: "é" is one */
	{ "syntax_invalid_utf8_after_multibyte", "endpoints: [{name: \"h\xc3\xa9\xff\", port: 1}]\n",
	  -EINVAL,
	  "1:23: invalid input: invalid leading UTF-8 octet #xFF, expected UTF-8 text" },
	{ "syntax_second_document", "endpoints: [{port: 1}]\n---\nfoo: 1\n", -EINVAL,
	  "2:1: a second YAML document, expected one document per file" },

	/* client slots and their reclaiming */
	{ "max_clients_low", "endpoints: [{port: 1}]\nmax_clients: 8\n", -EINVAL,
	  "2:14: max_clients: 8 is out of range, expected an integer in 16..16777216" },
	{ "max_clients_word", "endpoints: [{port: 1}]\nmax_clients: lots\n", -EINVAL,
	  "2:14: max_clients: got 'lots', expected an integer in 16..16777216" },
	{ "reclaim_idle_zero", "endpoints: [{port: 1}]\nreclaim_idle: 0\n", -EINVAL,
	  "2:15: reclaim_idle: 0 is out of range, expected an integer in 1..31536000" },

	/* the file as a whole */
	{ "empty_file", "", -EINVAL,
	  "1:1: the file is empty, expected a mapping with keys " ROOT_KEYS },
	{ "comments_only", "# nothing\n# here\n", -EINVAL,
	  "1:1: the file is empty, expected a mapping with keys " ROOT_KEYS },
	{ "root_is_list", "- port: 1\n", -EINVAL,
	  "1:1: got a list, expected a mapping with keys " ROOT_KEYS },
	{ "root_is_scalar", "hello\n", -EINVAL,
	  "1:1: got 'hello', expected a mapping with keys " ROOT_KEYS },
	{ "unknown_root_key", "interfaces: [eth0]\nendpoint:\n  - port: 1\n", -EINVAL,
	  "2:1: unknown key 'endpoint', expected one of " ROOT_KEYS },
	{ "non_scalar_key", "endpoints: [{port: 1}]\n[a]: 1\n", -EINVAL,
	  "2:1: got a list as a key, expected one of " ROOT_KEYS },
	{ "xdp_maybe", "endpoints: [{port: 1}]\nxdp: maybe\n", -EINVAL,
	  "2:6: xdp: got 'maybe', expected one of auto, on, off" },
	{ "xdp_bool", "endpoints: [{port: 1}]\nxdp: true\n", -EINVAL,
	  "2:6: xdp: got 'true', expected one of auto, on, off" },
	{ "duplicate_root_key", "endpoints: [{port: 1}]\ninterfaces: []\nendpoints: [{port: 2}]\n",
	  -EINVAL,
	  "3:1: key 'endpoints' appears twice (first at line 1), expected each key once" },

	/* endpoints */
	{ "missing_endpoints", "interfaces: [eth0]\n", -EINVAL,
	  "1:1: missing key 'endpoints', expected a list of 1..16 endpoints" },
	{ "endpoints_null", "interfaces: [eth0]\nendpoints:\n", -EINVAL,
	  "2:11: endpoints: got an empty value, expected a list of 1..16 endpoints" },
	{ "endpoints_empty_list", "endpoints: []\n", -EINVAL,
	  "1:12: endpoints: got an empty list, expected a list of 1..16 endpoints" },
	{ "endpoints_is_mapping", "endpoints:\n  port: 8000\n", -EINVAL,
	  "2:3: endpoints: got a mapping, expected a list of 1..16 endpoints" },
	{ "endpoint_is_scalar", "endpoints:\n  - 8000\n", -EINVAL,
	  "2:5: endpoints[0]: got '8000', expected a mapping with keys name, port, paths, "
	  "proxy_protocol, forwarded_for, identity, trusted_proxies" },
	{ "endpoint_is_null", "endpoints:\n  - port: 1\n  -\n", -EINVAL,
	  "3:4: endpoints[1]: got an empty value, expected a mapping with keys name, port, paths, "
	  "proxy_protocol, forwarded_for, identity, trusted_proxies" },
	{ "unknown_endpoint_key", "endpoints:\n  - port: 1\n    prot: 2\n", -EINVAL,
	  "3:5: endpoints[0]: unknown key 'prot', expected one of name, port, paths, "
	  "proxy_protocol, forwarded_for, identity, trusted_proxies" },
	{ "proxy_without_trusted", "endpoints:\n  - port: 1\n    proxy_protocol: true\n",
	  -EINVAL, "3:5: endpoints[0].proxy_protocol: true without trusted_proxies, expected "
	  "trusted_proxies: the prefixes of the proxies whose headers count" },
	{ "trusted_without_proxy", "endpoints:\n  - port: 1\n    trusted_proxies: [10.0.0.0/8]\n",
	  -EINVAL, "3:5: endpoints[0].trusted_proxies: given without proxy_protocol: true or "
	  "forwarded_for, expected one of them (or no trusted_proxies)" },
	{ "forwarded_without_trusted", "endpoints:\n  - port: 1\n    forwarded_for: true\n",
	  -EINVAL, "3:5: endpoints[0].forwarded_for: set without trusted_proxies, expected "
	  "trusted_proxies: the prefixes of the proxies whose headers count" },
	{ "forwarded_for_bad", "endpoints:\n  - port: 1\n    forwarded_for: x-real-ip\n"
	  "    trusted_proxies: [10.0.0.0/8]\n", -EINVAL,
	  "3:20: endpoints[0].forwarded_for: got 'x-real-ip', expected one of false, true, "
	  "x-forwarded-for, forwarded" },
	{ "trusted_bad_prefix", "endpoints:\n  - port: 1\n    proxy_protocol: true\n"
	  "    trusted_proxies: [10.0.0.1/8]\n", -EINVAL,
	  "4:23: endpoints[0].trusted_proxies[0]: got '10.0.0.1/8', expected a prefix without "
	  "host bits, such as 10.0.0.0/8" },
	{ "trusted_twice", "endpoints:\n  - port: 1\n    proxy_protocol: true\n"
	  "    trusted_proxies: [10.0.0.0/8, 10.0.0.0/8]\n", -EINVAL,
	  "4:35: endpoints[0].trusted_proxies[1]: duplicate 10.0.0.0/8 (first at line 4), "
	  "expected unique values" },
	{ "identity_bad", "endpoints:\n  - port: 1\n    identity: key\n", -EINVAL,
	  "3:15: endpoints[0].identity: got 'key', expected one of address, api_key" },
	{ "class_key_bad", "endpoints:\n  - port: 1\nlimits:\n  classes:\n"
	  "    - {name: a, keys: [key:12]}\n", -EINVAL,
	  "5:24: limits.classes[0].keys[0]: got 'key:12', expected an API key id: key: and 16 "
	  "hex digits, as penstock key-id prints it" },
	{ "class_key_is_address", "endpoints:\n  - port: 1\nlimits:\n  classes:\n"
	  "    - {name: a, keys: [10.0.0.1]}\n", -EINVAL,
	  "5:24: limits.classes[0].keys[0]: got '10.0.0.1', expected an API key id: key: and 16 "
	  "hex digits, as penstock key-id prints it" },
	{ "class_key_as_client", "endpoints:\n  - port: 1\nlimits:\n  classes:\n"
	  "    - {name: a, clients: [key:0123456789abcdef]}\n", -EINVAL,
	  "5:27: limits.classes[0].clients[0]: got 'key:0123456789abcdef', expected an IPv4 or "
	  "IPv6 address or prefix such as 203.0.113.0/24 or 2001:db8::/32" },
	{ "class_key_twice", "endpoints:\n  - port: 1\nlimits:\n  classes:\n"
	  "    - {name: a, keys: [key:0123456789abcdef]}\n"
	  "    - {name: b, clients: [10.0.0.0/8], keys: [key:0123456789ABCDEF]}\n", -EINVAL,
	  "6:47: limits.classes[1].keys[0]: key:0123456789abcdef is already in class 'a' (line 5), "
	  "expected each key in one class only" },
	{ "class_neither", "endpoints:\n  - port: 1\nlimits:\n  classes:\n"
	  "    - {name: a, requests_per_minute: 5}\n", -EINVAL,
	  "5:7: limits.classes[0]: missing key 'clients', expected a list of 1..256 prefixes "
	  "(or keys: a list of API key ids)" },
	{ "proxy_protocol_not_bool", "endpoints:\n  - port: 1\n    proxy_protocol: 2\n"
	  "    trusted_proxies: [10.0.0.0/8]\n", -EINVAL,
	  "3:21: endpoints[0].proxy_protocol: got '2', expected true or false" },
	{ "duplicate_endpoint_key", "endpoints:\n  - \"port\": 8000\n    'port': 9000\n", -EINVAL,
	  "3:5: endpoints[0]: key 'port' appears twice (first at line 2), expected each key once" },

	/* port */
	{ "missing_port", "endpoints:\n  - name: a\n    paths: [/x]\n", -EINVAL,
	  "2:5: endpoints[0]: missing key 'port', expected an integer in 1..65535" },
	{ "port_null", "endpoints:\n  - port:\n", -EINVAL,
	  "2:10: endpoints[0].port: got an empty value, expected an integer in 1..65535" },
	{ "port_not_integer", "endpoints:\n  - port: http\n", -EINVAL,
	  "2:11: endpoints[0].port: got 'http', expected an integer in 1..65535" },
	{ "port_quoted", "endpoints:\n  - port: \"8000\"\n", -EINVAL,
	  "2:11: endpoints[0].port: got the quoted string '8000', expected an integer in 1..65535" },
	{ "port_float", "endpoints:\n  - port: 8000.5\n", -EINVAL,
	  "2:11: endpoints[0].port: got '8000.5', expected an integer in 1..65535" },
	{ "port_list", "endpoints:\n  - port: [8000]\n", -EINVAL,
	  "2:11: endpoints[0].port: got a list, expected an integer in 1..65535" },
	{ "port_zero", "endpoints: [{port: 0}]\n", -EINVAL,
	  "1:20: endpoints[0].port: 0 is out of range, expected an integer in 1..65535" },
	{ "port_too_big", "endpoints:\n  - port: 8000\n  - port: 65536\n", -EINVAL,
	  "3:11: endpoints[1].port: 65536 is out of range, expected an integer in 1..65535" },
	{ "port_negative", "endpoints:\n  - port: -1\n", -EINVAL,
	  "2:11: endpoints[0].port: -1 is out of range, expected an integer in 1..65535" },
	{ "port_overflow", "endpoints:\n  - port: 99999999999999999999999\n", -EINVAL,
	  "2:11: endpoints[0].port: 99999999999999999999999 is out of range, expected an integer in 1..65535" },
	/* 2^64 + 8000: twenty digits that wrap to 8000 in 64 bits. */
	{ "port_wraps_2_64", "endpoints:\n  - port: 18446744073709559616\n", -EINVAL,
	  "2:11: endpoints[0].port: 18446744073709559616 is out of range, expected an integer in 1..65535" },
	{ "port_leading_zero", "endpoints:\n  - port: 0800\n", -EINVAL,
	  "2:11: endpoints[0].port: 0800 has a leading zero (octal in YAML 1.1), expected an integer in 1..65535 without one" },
	{ "port_duplicate", "endpoints:\n  - port: 8000\n  - {port: 9000}\n  - port: 8000\n", -EINVAL,
	  "4:11: endpoints[2].port: duplicate 8000 (first at line 2), expected unique values" },

	/* name */
	{ "name_too_long", "endpoints:\n  - port: 1\n    name: abcdefghijklmnopqrstuvwxyz012345\n",
	  -EINVAL,
	  "3:11: endpoints[0].name: 'abcdefghijklmnopqrstuvwxyz012345' is 32 characters long, expected a string of 1..31 characters, printable ASCII" },
	{ "name_empty", "endpoints:\n  - port: 1\n    name: ''\n", -EINVAL,
	  "3:11: endpoints[0].name: got an empty string, expected a string of 1..31 characters, printable ASCII" },
	{ "name_control_char", "endpoints:\n  - port: 1\n    name: \"a\\tb\"\n", -EINVAL,
	  "3:11: endpoints[0].name: 'a\\x09b' contains a control character, expected a string of 1..31 characters, printable ASCII" },
	{ "name_nul", "endpoints:\n  - port: 1\n    name: \"a\\0b\"\n", -EINVAL,
	  "3:11: endpoints[0].name: 'a\\x00b' contains a control character, expected a string of 1..31 characters, printable ASCII" },
	{ "name_non_ascii", "endpoints:\n  - port: 1\n    name: \"caf\xc3\xa9\"\n", -EINVAL,
	  "3:11: endpoints[0].name: 'caf\\xc3\\xa9' contains a character that is not printable ASCII, expected a string of 1..31 characters, printable ASCII" },
	{ "name_is_mapping", "endpoints:\n  - port: 1\n    name: {a: b}\n", -EINVAL,
	  "3:11: endpoints[0].name: got a mapping, expected a string of 1..31 characters, printable ASCII" },

	/* interfaces */
	{ "interfaces_scalar", "interfaces: eth0\nendpoints: [{port: 1}]\n", -EINVAL,
	  "1:13: interfaces: got 'eth0', expected a list of 0..16 interface names" },
	{ "interface_too_long", "interfaces: [eth0, abcdefghijklmnop]\nendpoints: [{port: 1}]\n",
	  -EINVAL,
	  "1:20: interfaces[1]: 'abcdefghijklmnop' is 16 characters long, expected a string of 1..15 characters, visible ASCII other than '/' and ':'" },
	{ "interface_slash", "interfaces: [eth/0]\nendpoints: [{port: 1}]\n", -EINVAL,
	  "1:14: interfaces[0]: 'eth/0' contains '/' or ':', expected a string of 1..15 characters, visible ASCII other than '/' and ':'" },
	{ "interface_space", "interfaces: ['eth 0']\nendpoints: [{port: 1}]\n", -EINVAL,
	  "1:14: interfaces[0]: 'eth 0' contains a space or a character that is not visible ASCII, expected a string of 1..15 characters, visible ASCII other than '/' and ':'" },
	{ "interface_duplicate", "interfaces:\n  - eth0\n  - eth1\n  - eth0\nendpoints: [{port: 1}]\n",
	  -EINVAL,
	  "4:5: interfaces[2]: duplicate 'eth0' (first at line 2), expected unique values" },
	{ "interfaces_too_many",
	  "interfaces: [e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15, e16]\n"
	  "endpoints: [{port: 1}]\n", -EINVAL,
	  "1:84: interfaces: got 17 entries, expected a list of 0..16 interface names" },

	/* paths */
	{ "paths_scalar", "endpoints:\n  - port: 1\n    paths: /v1/x\n", -EINVAL,
	  "3:12: endpoints[0].paths: got '/v1/x', expected a list of 1..8 paths" },
	{ "paths_empty_list", "endpoints:\n  - port: 1\n    paths: []\n", -EINVAL,
	  "3:12: endpoints[0].paths: got an empty list, expected a list of 1..8 paths" },
	{ "paths_too_many",
	  "endpoints:\n  - port: 1\n    paths: [/a, /b, /c, /d, /e, /f, /g, /h, /i]\n", -EINVAL,
	  "3:45: endpoints[0].paths: got 9 entries, expected a list of 1..8 paths" },
	{ "path_no_slash", "endpoints:\n  - port: 1\n    paths:\n      - /v1/a\n      - v1/b\n",
	  -EINVAL,
	  "5:9: endpoints[0].paths[1]: 'v1/b' does not start with '/', expected a string of 1..64 characters, starting with '/', visible ASCII" },
	{ "path_space", "endpoints:\n  - port: 1\n    paths: [\"/v1 a\"]\n", -EINVAL,
	  "3:13: endpoints[0].paths[0]: '/v1 a' contains a space or a character that is not visible ASCII, expected a string of 1..64 characters, starting with '/', visible ASCII" },
	{ "path_too_long",
	  "endpoints:\n  - port: 1\n    paths:\n"
	  "      - /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", -EINVAL,
	  "4:9: endpoints[0].paths[0]: '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is 65 characters long, expected a string of 1..64 characters, starting with '/', visible ASCII" },
	{ "path_duplicate",
	  "endpoints:\n  - port: 1\n    paths: [/v1/a, /v1/b]\n  - port: 2\n"
	  "    paths: [/v1/a, /v1/b, /v1/a]\n", -EINVAL,
	  "5:27: endpoints[1].paths[2]: duplicate '/v1/a' (first at line 5), expected unique values" },

	/* dry_run (global): true or false, plain, lower case */
	{ "dry_run_yes", "endpoints: [{port: 1}]\ndry_run: yes\n", -EINVAL,
	  "2:10: dry_run: got 'yes', expected true or false" },
	{ "dry_run_capital", "endpoints: [{port: 1}]\ndry_run: True\n", -EINVAL,
	  "2:10: dry_run: got 'True', expected true or false" },
	{ "dry_run_quoted", "endpoints: [{port: 1}]\ndry_run: \"true\"\n", -EINVAL,
	  "2:10: dry_run: got the quoted string 'true', expected true or false" },
	{ "dry_run_number", "endpoints: [{port: 1}]\ndry_run: 1\n", -EINVAL,
	  "2:10: dry_run: got '1', expected true or false" },
	{ "dry_run_list", "endpoints: [{port: 1}]\ndry_run: [true]\n", -EINVAL,
	  "2:10: dry_run: got a list, expected true or false" },

	/* limits */
	{ "limits_list", "endpoints: [{port: 1}]\nlimits: [1]\n", -EINVAL,
	  "2:9: limits: got a list, expected a mapping with keys default, classes" },
	{ "limits_unknown_key", "endpoints: [{port: 1}]\nlimits:\n  defaults:\n", -EINVAL,
	  "3:3: limits: unknown key 'defaults', expected one of default, classes" },
	{ "limits_default_scalar", "endpoints: [{port: 1}]\nlimits:\n  default: none\n", -EINVAL,
	  "3:12: limits.default: got 'none', expected a mapping with keys " DEFAULT_KEYS },
	{ "default_unknown_key", "endpoints: [{port: 1}]\nlimits:\n  default:\n    rpm: 5\n",
	  -EINVAL,
	  "4:5: limits.default: unknown key 'rpm', expected one of " DEFAULT_KEYS },
	/* unlimited and dry_run are class keys: the default has the global dry_run */
	{ "default_unlimited", "endpoints: [{port: 1}]\nlimits:\n  default:\n    unlimited: true\n",
	  -EINVAL,
	  "4:5: limits.default: unknown key 'unlimited', expected one of " DEFAULT_KEYS },
	{ "default_dry_run", "endpoints: [{port: 1}]\nlimits:\n  default:\n    dry_run: true\n",
	  -EINVAL,
	  "4:5: limits.default: unknown key 'dry_run', expected one of " DEFAULT_KEYS },

	/* requests_per_minute, burst, requests_per_day, max_connections: INT rules */
	{ "rpm_zero", LIMITS "    requests_per_minute: 0\n", -EINVAL,
	  "4:26: limits.default.requests_per_minute: 0 is out of range, expected an integer in 1..10000000" },
	{ "rpm_too_big", LIMITS "    requests_per_minute: 10000001\n", -EINVAL,
	  "4:26: limits.default.requests_per_minute: 10000001 is out of range, expected an integer in 1..10000000" },
	{ "rpm_quoted", LIMITS "    requests_per_minute: \"600\"\n", -EINVAL,
	  "4:26: limits.default.requests_per_minute: got the quoted string '600', expected an integer in 1..10000000" },
	{ "rpm_with_unit", LIMITS "    requests_per_minute: 1k\n", -EINVAL,
	  "4:26: limits.default.requests_per_minute: got '1k', expected an integer in 1..10000000" },
	{ "rpm_float", LIMITS "    requests_per_minute: 1.5\n", -EINVAL,
	  "4:26: limits.default.requests_per_minute: got '1.5', expected an integer in 1..10000000" },
	{ "rpm_leading_zero", LIMITS "    requests_per_minute: 060\n", -EINVAL,
	  "4:26: limits.default.requests_per_minute: 060 has a leading zero (octal in YAML 1.1), expected an integer in 1..10000000 without one" },
	{ "burst_zero", LIMITS "    requests_per_minute: 1\n    burst: 0\n", -EINVAL,
	  "5:12: limits.default.burst: 0 is out of range, expected an integer in 1..1000000" },
	{ "burst_too_big", LIMITS "    requests_per_minute: 1\n    burst: 1000001\n", -EINVAL,
	  "5:12: limits.default.burst: 1000001 is out of range, expected an integer in 1..1000000" },
	{ "rpd_too_big", LIMITS "    requests_per_day: 1000000000001\n", -EINVAL,
	  "4:23: limits.default.requests_per_day: 1000000000001 is out of range, expected an integer in 1..1000000000000" },
	{ "rpd_overflow", LIMITS "    requests_per_day: 18446744073709551615\n", -EINVAL,
	  "4:23: limits.default.requests_per_day: 18446744073709551615 is out of range, expected an integer in 1..1000000000000" },
	{ "max_connections_zero", LIMITS "    max_connections: 0\n", -EINVAL,
	  "4:22: limits.default.max_connections: 0 is out of range, expected an integer in 1..1000000" },
	{ "max_connections_negative", LIMITS "    max_connections: -5\n", -EINVAL,
	  "4:22: limits.default.max_connections: -5 is out of range, expected an integer in 1..1000000" },
	{ "max_connections_too_big", LIMITS "    max_connections: 1000001\n", -EINVAL,
	  "4:22: limits.default.max_connections: 1000001 is out of range, expected an integer in 1..1000000" },

	/* sizes */
	{ "egress_bad_unit", LIMITS "    egress_bytes_per_minute: 50MiBs\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got '50MiBs', expected " SIZE_WANT },
	{ "egress_unit_bits", LIMITS "    egress_bytes_per_minute: 50mbit\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got '50mbit', expected " SIZE_WANT },
	{ "egress_space", LIMITS "    egress_bytes_per_minute: 50 MiB\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got '50 MiB', expected " SIZE_WANT },
	{ "egress_decimal", LIMITS "    egress_bytes_per_minute: 1.5GiB\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got '1.5GiB', expected " SIZE_WANT },
	{ "egress_negative", LIMITS "    egress_bytes_per_minute: -1\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got '-1', expected " SIZE_WANT },
	{ "egress_quoted_bad", LIMITS "    egress_bytes_per_minute: '50 MiB'\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got the quoted string '50 MiB', expected " SIZE_WANT },
	{ "egress_nul", LIMITS "    egress_bytes_per_minute: \"50\\0MiB\"\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got the quoted string '50\\x00MiB', expected " SIZE_WANT },
	{ "egress_list", LIMITS "    egress_bytes_per_minute: [50MiB]\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: got a list, expected " SIZE_WANT },
	{ "egress_zero", LIMITS "    egress_bytes_per_minute: 0\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: 0 is out of range, expected a size in 1..18446744073709551614 bytes" },
	{ "egress_zero_unit", LIMITS "    egress_bytes_per_minute: 0MiB\n", -EINVAL,
	  "4:30: limits.default.egress_bytes_per_minute: 0MiB is out of range, expected a size in 1..18446744073709551614 bytes" },
	/* the largest uint64_t is the "not given" sentinel, never a size */
	{ "egress_all_ones", LIMITS "    egress_bytes_per_day: 18446744073709551615\n", -EINVAL,
	  "4:27: limits.default.egress_bytes_per_day: 18446744073709551615 is out of range, expected a size in 1..18446744073709551614 bytes" },
	{ "egress_overflow", LIMITS "    egress_bytes_per_day: 16777216TiB\n", -EINVAL,
	  "4:27: limits.default.egress_bytes_per_day: got '16777216TiB', expected a size of at most 18446744073709551615 bytes" },
	/* a plain integer is a YAML integer: same leading-zero rule */
	{ "egress_leading_zero", LIMITS "    egress_bytes_per_day: 0100\n", -EINVAL,
	  "4:27: limits.default.egress_bytes_per_day: 0100 has a leading zero (octal in YAML 1.1), expected " SIZE_WANT " without one" },

	/* on_exceed */
	{ "on_exceed_unknown", LIMITS "    on_exceed: throttle\n", -EINVAL,
	  "4:16: limits.default.on_exceed: got 'throttle', expected one of delay, shape, block" },
	{ "on_exceed_capital", LIMITS "    on_exceed: Delay\n", -EINVAL,
	  "4:16: limits.default.on_exceed: got 'Delay', expected one of delay, shape, block" },
	{ "on_exceed_number", LIMITS "    on_exceed: 1\n", -EINVAL,
	  "4:16: limits.default.on_exceed: got '1', expected one of delay, shape, block" },
	{ "on_exceed_mapping", LIMITS "    on_exceed: {delay: 1}\n", -EINVAL,
	  "4:16: limits.default.on_exceed: got a mapping, expected one of delay, shape, block" },

	/* shape_rate */
	{ "shape_rate_bad", LIMITS "    shape_rate: 2mbit/s\n", -EINVAL,
	  "4:17: limits.default.shape_rate: got '2mbit/s', expected " RATE_WANT },
	{ "shape_rate_no_unit", LIMITS "    shape_rate: 1000\n", -EINVAL,
	  "4:17: limits.default.shape_rate: got '1000', expected " RATE_WANT },
	{ "shape_rate_size", LIMITS "    shape_rate: 2MiB\n", -EINVAL,
	  "4:17: limits.default.shape_rate: got '2MiB', expected " RATE_WANT },
	{ "shape_rate_zero", LIMITS "    shape_rate: 0mbit\n", -EINVAL,
	  "4:17: limits.default.shape_rate: got '0mbit', expected a rate above zero, such as 2mbit" },
	{ "shape_rate_overflow", LIMITS "    shape_rate: 2305843010gbps\n", -EINVAL,
	  "4:17: limits.default.shape_rate: got '2305843010gbps', expected a rate of at most 18446744073709551615 bit/s" },
	{ "shape_rate_all_ones", LIMITS "    shape_rate: 18446744073709551615bit\n", -EINVAL,
	  "4:17: limits.default.shape_rate: 18446744073709551615bit is out of range, expected a rate in 1..18446744073709551614 bit/s" },

	/* cross-key checks in the default */
	{ "default_burst_without_rpm", LIMITS "    max_connections: 4\n    burst: 5\n", -EINVAL,
	  "5:5: limits.default.burst: burst without requests_per_minute, expected requests_per_minute as well" },
	{ "default_token_burst_without_tpm", LIMITS "    tokens_per_day: 9\n    token_burst: 5\n",
	  -EINVAL,
	  "5:5: limits.default.token_burst: token_burst without tokens_per_minute, expected tokens_per_minute as well" },
	{ "default_token_reserve_without_limit", LIMITS "    max_connections: 4\n    token_reserve: 500\n",
	  -EINVAL,
	  "5:5: limits.default.token_reserve: token_reserve without a token limit, expected tokens_per_minute or tokens_per_day as well" },
	{ "token_reserve_zero", LIMITS "    tokens_per_day: 9\n    token_reserve: 0\n", -EINVAL,
	  "5:20: limits.default.token_reserve: 0 is out of range, expected an integer in 1..1000000000" },
	{ "tokens_per_minute_zero", LIMITS "    tokens_per_minute: 0\n", -EINVAL,
	  "4:24: limits.default.tokens_per_minute: 0 is out of range, expected an integer in 1..1000000000000" },
	{ "tokens_per_day_text", LIMITS "    tokens_per_day: 1M\n", -EINVAL,
	  "4:21: limits.default.tokens_per_day: got '1M', expected an integer in 1..1000000000000000" },
	{ "token_burst_over", LIMITS "    tokens_per_minute: 5\n    token_burst: 1000000000001\n",
	  -EINVAL,
	  "5:18: limits.default.token_burst: 1000000000001 is out of range, expected an integer in 1..1000000000000" },
	{ "default_shape_without_rate", LIMITS "    on_exceed: shape\n    max_connections: 4\n",
	  -EINVAL,
	  "4:5: limits.default.on_exceed: shape without shape_rate, expected shape_rate as well" },

	/* classes */
	{ "classes_scalar", "endpoints: [{port: 1}]\nlimits:\n  classes: a\n", -EINVAL,
	  "3:12: limits.classes: got 'a', expected a list of 0..63 classes" },
	{ "class_scalar", CLASSES "    - partners\n", -EINVAL,
	  "4:7: limits.classes[0]: got 'partners', expected a mapping with keys " CLASS_KEYS },
	{ "class_missing_name", CLASSES "    - clients: [10.0.0.0/8]\n", -EINVAL,
	  "4:7: limits.classes[0]: missing key 'name', expected a string of 1..31 characters, printable ASCII" },
	{ "class_missing_clients", CLASSES "    - name: a\n      requests_per_minute: 5\n", -EINVAL,
	  "4:7: limits.classes[0]: missing key 'clients', expected a list of 1..256 prefixes (or keys: a list of API key ids)" },
	{ "class_unknown_key", CLASS_A "      rpm: 1\n", -EINVAL,
	  "6:7: limits.classes[0]: unknown key 'rpm', expected one of " CLASS_KEYS },
	{ "class_name_too_long",
	  CLASSES "    - name: abcdefghijklmnopqrstuvwxyz012345\n      clients: [10.0.0.0/8]\n",
	  -EINVAL,
	  "4:13: limits.classes[0].name: 'abcdefghijklmnopqrstuvwxyz012345' is 32 characters long, expected a string of 1..31 characters, printable ASCII" },
	{ "class_name_empty", CLASSES "    - name: \"\"\n      clients: [10.0.0.0/8]\n", -EINVAL,
	  "4:13: limits.classes[0].name: got an empty string, expected a string of 1..31 characters, printable ASCII" },
	{ "class_name_null", CLASSES "    - name:\n      clients: [10.0.0.0/8]\n", -EINVAL,
	  "4:12: limits.classes[0].name: got an empty value, expected a string of 1..31 characters, printable ASCII" },
	{ "class_name_duplicate",
	  CLASS_A "    - name: b\n      clients: [10.1.0.0/16]\n    - name: a\n      clients: [192.0.2.0/24]\n",
	  -EINVAL,
	  "8:13: limits.classes[2].name: duplicate 'a' (first at line 4), expected unique values" },
	{ "class_rpm_zero", CLASS_A "      requests_per_minute: 0\n", -EINVAL,
	  "6:28: limits.classes[0].requests_per_minute: 0 is out of range, expected an integer in 1..10000000" },
	{ "class_on_exceed_bad", CLASS_A "      on_exceed: drop\n", -EINVAL,
	  "6:18: limits.classes[0].on_exceed: got 'drop', expected one of delay, shape, block" },
	{ "class_size_bad", CLASS_A "      egress_bytes_per_day: 5GiBs\n", -EINVAL,
	  "6:29: limits.classes[0].egress_bytes_per_day: got '5GiBs', expected " SIZE_WANT },
	{ "class_rate_bad", CLASS_A "      shape_rate: fast\n", -EINVAL,
	  "6:19: limits.classes[0].shape_rate: got 'fast', expected " RATE_WANT },
	{ "class_unlimited_yes", CLASS_A "      unlimited: yes\n", -EINVAL,
	  "6:18: limits.classes[0].unlimited: got 'yes', expected true or false" },
	{ "class_dry_run_quoted", CLASS_A "      dry_run: 'false'\n", -EINVAL,
	  "6:16: limits.classes[0].dry_run: got the quoted string 'false', expected true or false" },

	/* clients */
	{ "clients_scalar", CLASSES "    - name: a\n      clients: 10.0.0.0/8\n", -EINVAL,
	  "5:16: limits.classes[0].clients: got '10.0.0.0/8', expected a list of 1..256 prefixes" },
	{ "clients_empty", CLASSES "    - name: a\n      clients: []\n", -EINVAL,
	  "5:16: limits.classes[0].clients: got an empty list, expected a list of 1..256 prefixes" },
	{ "clients_null", CLASSES "    - name: a\n      clients:\n", -EINVAL,
	  "5:15: limits.classes[0].clients: got an empty value, expected a list of 1..256 prefixes (or keys: a list of API key ids)" },
	{ "prefix_bad_length", CLASSES "    - name: a\n      clients: [10.0.0.1/33]\n", -EINVAL,
	  "5:17: limits.classes[0].clients[0]: got '10.0.0.1/33', expected " PREFIX_WANT },
	{ "prefix_hostname", CLASSES "    - name: a\n      clients: [10.0.0.0/8, example.com]\n",
	  -EINVAL,
	  "5:29: limits.classes[0].clients[1]: got 'example.com', expected " PREFIX_WANT },
	{ "prefix_number", CLASSES "    - name: a\n      clients: [10]\n", -EINVAL,
	  "5:17: limits.classes[0].clients[0]: got '10', expected " PREFIX_WANT },
	{ "prefix_list", CLASSES "    - name: a\n      clients: [[10.0.0.0/8]]\n", -EINVAL,
	  "5:17: limits.classes[0].clients[0]: got a list, expected " PREFIX_WANT },
	{ "prefix_nul", CLASSES "    - name: a\n      clients: [\"10.0.0.0\\0/8\"]\n", -EINVAL,
	  "5:17: limits.classes[0].clients[0]: got the quoted string '10.0.0.0\\x00/8', expected " PREFIX_WANT },
	{ "prefix_host_bits", CLASSES "    - name: a\n      clients: [10.0.0.1/8]\n", -EINVAL,
	  "5:17: limits.classes[0].clients[0]: got '10.0.0.1/8', expected a prefix without host bits, such as 10.0.0.0/8" },
	{ "prefix_host_bits_v6", CLASSES "    - name: a\n      clients: [\"fd00::1/64\"]\n", -EINVAL,
	  "5:17: limits.classes[0].clients[0]: got the quoted string 'fd00::1/64', expected a prefix without host bits, such as fd00::/64" },
	{ "prefix_duplicate",
	  CLASSES "    - name: a\n      clients: [10.0.0.0/8, 192.0.2.0/24, 10.0.0.0/8]\n", -EINVAL,
	  "5:43: limits.classes[0].clients[2]: duplicate 10.0.0.0/8 (first at line 5), expected unique values" },
	/* one address, two spellings */
	{ "prefix_duplicate_spelling",
	  CLASSES "    - name: a\n      clients:\n        - 192.0.2.1\n        - 192.0.2.1/32\n",
	  -EINVAL,
	  "7:11: limits.classes[0].clients[1]: duplicate 192.0.2.1 (first at line 6), expected unique values" },
	{ "prefix_in_two_classes",
	  CLASSES "    - name: partners\n      clients: [203.0.113.0/24]\n"
	  "    - name: others\n      clients: [198.51.100.0/24, 203.0.113.0/24]\n", -EINVAL,
	  "7:34: limits.classes[1].clients[1]: 203.0.113.0/24 is already in class 'partners' (line 5), expected each prefix in one class only" },
	{ "prefix_in_two_classes_v6",
	  CLASSES "    - name: a\n      clients: ['2001:db8::/32']\n"
	  "    - name: b\n      unlimited: true\n      clients:\n        - 2001:DB8:0::/32\n",
	  -EINVAL,
	  "9:11: limits.classes[1].clients[0]: 2001:db8::/32 is already in class 'a' (line 5), expected each prefix in one class only" },
	/*
	 * Of several prefixes seen again, the one seen again first in the file:
	 * 10.2.0.0/16 in c (line 9) before 10.1.0.0/16 in d (line 11), though
	 * 10.1.0.0/16 sorts first and d's a is the first class.
	 */
	{ "prefix_in_two_classes_first",
	  CLASSES "    - name: a\n      clients: [10.1.0.0/16, 10.2.0.0/16, 10.3.0.0/16]\n"
	  "    - name: b\n      clients: [10.4.0.0/16]\n"
	  "    - name: c\n      clients: [10.5.0.0/16, 10.2.0.0/16]\n"
	  "    - name: d\n      clients: [10.1.0.0/16, 10.2.0.0/16]\n", -EINVAL,
	  "9:30: limits.classes[2].clients[1]: 10.2.0.0/16 is already in class 'a' (line 5), expected each prefix in one class only" },

	/* cross-key checks in a class, against what it inherits */
	{ "class_burst_without_rpm", CLASS_A "      burst: 5\n", -EINVAL,
	  "6:7: limits.classes[0].burst: burst without requests_per_minute, expected requests_per_minute in the class or in limits.default" },
	/* the default may come after the classes: checked once both are read */
	{ "class_burst_without_rpm_default_after",
	  "endpoints: [{port: 1}]\nlimits:\n  classes:\n    - name: a\n      clients: [10.0.0.0/8]\n"
	  "      burst: 5\n  default:\n    max_connections: 3\n", -EINVAL,
	  "6:7: limits.classes[0].burst: burst without requests_per_minute, expected requests_per_minute in the class or in limits.default" },
	{ "class_token_burst_without_tpm", CLASS_A "      token_burst: 5\n", -EINVAL,
	  "6:7: limits.classes[0].token_burst: token_burst without tokens_per_minute, expected tokens_per_minute in the class or in limits.default" },
	{ "class_token_reserve_without_limit", CLASS_A "      token_reserve: 5\n", -EINVAL,
	  "6:7: limits.classes[0].token_reserve: token_reserve without a token limit, expected tokens_per_minute or tokens_per_day in the class or in limits.default" },
	{ "class_unlimited_with_tokens", CLASS_A "      unlimited: true\n      tokens_per_day: 5\n",
	  -EINVAL,
	  "7:7: limits.classes[0].tokens_per_day: a limit in a class with unlimited: true (line 6), expected either limits or unlimited: true, not both" },
	{ "class_shape_without_rate", CLASS_A "      on_exceed: shape\n", -EINVAL,
	  "6:7: limits.classes[0].on_exceed: shape without shape_rate, expected shape_rate in the class or in limits.default" },
	{ "class_unlimited_with_limit", CLASS_A "      unlimited: true\n      max_connections: 5\n",
	  -EINVAL,
	  "7:7: limits.classes[0].max_connections: a limit in a class with unlimited: true (line 6), expected either limits or unlimited: true, not both" },
	{ "class_limit_before_unlimited", CLASS_A "      on_exceed: block\n      unlimited: true\n",
	  -EINVAL,
	  "6:7: limits.classes[0].on_exceed: a limit in a class with unlimited: true (line 7), expected either limits or unlimited: true, not both" },
};

/* alerts: its sinks and their settings (userspace/alerts/). */
static const struct err_case alerts_err_cases[] = {
	{ "alerts_list", "endpoints: [{port: 1}]\nalerts: []\n", -EINVAL,
	  "2:9: alerts: got a list, expected a mapping with keys " ALERTS_KEYS },
	{ "alerts_unknown_key", ALERTS "  stdout: true\n", -EINVAL,
	  "3:3: alerts: unknown key 'stdout', expected one of " ALERTS_KEYS },
	{ "alerts_stderr_yes", ALERTS "  stderr: yes\n", -EINVAL,
	  "3:11: alerts.stderr: got 'yes', expected true or false" },
	{ "alerts_keep_in_memory_big", ALERTS "  keep_in_memory: 1000001\n", -EINVAL,
	  "3:19: alerts.keep_in_memory: 1000001 is out of range, expected an integer in 0..1000000" },
	{ "alerts_keep_in_memory_negative", ALERTS "  keep_in_memory: -1\n", -EINVAL,
	  "3:19: alerts.keep_in_memory: -1 is out of range, expected an integer in 0..1000000" },
	{ "alerts_jsonl_scalar", ALERTS "  jsonl: /var/log/a.jsonl\n", -EINVAL,
	  "3:10: alerts.jsonl: got '/var/log/a.jsonl', expected a mapping with keys path, max_bytes, keep" },
	{ "alerts_jsonl_no_path", ALERTS "  jsonl: {max_bytes: 1MiB}\n", -EINVAL,
	  "3:10: alerts.jsonl: missing key 'path', expected " ABS_WANT },
	{ "alerts_jsonl_empty_path", ALERTS "  jsonl: {path: \"\"}\n", -EINVAL,
	  "3:17: alerts.jsonl.path: got an empty string, expected " ABS_WANT },
	{ "alerts_jsonl_relative", ALERTS "  jsonl: {path: alerts.jsonl}\n", -EINVAL,
	  "3:17: alerts.jsonl.path: 'alerts.jsonl' does not start with '/', expected " ABS_WANT },
	{ "alerts_jsonl_unknown_key", JSONL "rotate: 5}\n", -EINVAL,
	  "3:21: alerts.jsonl: unknown key 'rotate', expected one of path, max_bytes, keep" },
	{ "alerts_jsonl_max_bytes_small", JSONL "max_bytes: 1000}\n", -EINVAL,
	  "3:32: alerts.jsonl.max_bytes: 1000 is out of range, expected a size in 1024..1099511627776 bytes" },
	{ "alerts_jsonl_max_bytes_big", JSONL "max_bytes: 2TiB}\n", -EINVAL,
	  "3:32: alerts.jsonl.max_bytes: 2TiB is out of range, expected a size in 1024..1099511627776 bytes" },
	{ "alerts_jsonl_max_bytes_word", JSONL "max_bytes: big}\n", -EINVAL,
	  "3:32: alerts.jsonl.max_bytes: got 'big', expected " SIZE_WANT },
	{ "alerts_jsonl_keep_negative", JSONL "keep: -1}\n", -EINVAL,
	  "3:27: alerts.jsonl.keep: -1 is out of range, expected an integer in 0..1000" },
	{ "alerts_jsonl_keep_big", JSONL "keep: 1001}\n", -EINVAL,
	  "3:27: alerts.jsonl.keep: 1001 is out of range, expected an integer in 0..1000" },
	{ "alerts_webhook_no_url", ALERTS "  webhook: {spool_dir: /s}\n", -EINVAL,
	  "3:12: alerts.webhook: missing key 'url', expected " URL_WANT },
	{ "alerts_webhook_ftp", ALERTS "  webhook: {url: ftp://x}\n", -EINVAL,
	  "3:18: alerts.webhook.url: 'ftp://x' does not start with http:// or https://, expected " URL_WANT },
	{ "alerts_webhook_no_host", ALERTS "  webhook: {url: \"https://\"}\n", -EINVAL,
	  "3:18: alerts.webhook.url: 'https://' has no host, expected " URL_WANT },
	{ "alerts_webhook_space", ALERTS "  webhook: {url: \"http://a b/\"}\n", -EINVAL,
	  "3:18: alerts.webhook.url: 'http://a b/' contains a space or a character that is not visible ASCII, expected " URL_WANT },
	{ "alerts_webhook_spool_relative", WEBHOOK "spool_dir: spool}\n", -EINVAL,
	  "3:41: alerts.webhook.spool_dir: 'spool' does not start with '/', expected " ABS_WANT },
	{ "alerts_webhook_timeout_zero", WEBHOOK "timeout: 0s}\n", -EINVAL,
	  "3:39: alerts.webhook.timeout: 0s is out of range, expected a duration in 1..300 seconds" },
	{ "alerts_webhook_timeout_long", WEBHOOK "timeout: 6m}\n", -EINVAL,
	  "3:39: alerts.webhook.timeout: 6m is out of range, expected a duration in 1..300 seconds" },
	{ "alerts_webhook_timeout_word", WEBHOOK "timeout: soon}\n", -EINVAL,
	  "3:39: alerts.webhook.timeout: got 'soon', expected " DURATION_WANT },
	{ "alerts_webhook_timeout_leading_zero", WEBHOOK "timeout: 05}\n", -EINVAL,
	  "3:39: alerts.webhook.timeout: 05 has a leading zero (octal in YAML 1.1), expected " DURATION_WANT " without one" },
	{ "alerts_webhook_max_spool_small", WEBHOOK "max_spool: 1KiB}\n", -EINVAL,
	  "3:41: alerts.webhook.max_spool: 1KiB is out of range, expected a size in 1048576..1099511627776 bytes" },
	{ "alerts_webhook_max_backoff_long", WEBHOOK "max_backoff: 2h}\n", -EINVAL,
	  "3:43: alerts.webhook.max_backoff: 2h is out of range, expected a duration in 1..3600 seconds" },
	{ "alerts_webhook_twice", ALERTS "  webhook: {url: \"http://a\"}\n  webhook: {url: \"http://b\"}\n",
	  -EINVAL,
	  "4:3: alerts: key 'webhook' appears twice (first at line 3), expected each key once" },
};

/* metrics: penstockd's /metrics (userspace/metrics/). */
#define METRICS		"endpoints: [{port: 1}]\nmetrics:\n"
#define LISTEN_WANT	"a string of 1..63 characters, ADDRESS:PORT, a numeric IPv4 address or a " \
			"bracketed IPv6 one and a port 1..65535, such as 127.0.0.1:9464 or [::1]:9464"
static const struct err_case metrics_err_cases[] = {
	{ "metrics_scalar", "endpoints: [{port: 1}]\nmetrics: off\n", -EINVAL,
	  "2:10: metrics: got 'off', expected a mapping with keys enabled, listen, top" },
	{ "metrics_unknown_key", METRICS "  port: 9464\n", -EINVAL,
	  "3:3: metrics: unknown key 'port', expected one of enabled, listen, top" },
	{ "metrics_enabled_word", METRICS "  enabled: no\n", -EINVAL,
	  "3:12: metrics.enabled: got 'no', expected true or false" },
	{ "metrics_listen_no_port", METRICS "  listen: 127.0.0.1\n", -EINVAL,
	  "3:11: metrics.listen: '127.0.0.1' has no ':' and port, expected " LISTEN_WANT },
	{ "metrics_listen_port_zero", METRICS "  listen: \"127.0.0.1:0\"\n", -EINVAL,
	  "3:11: metrics.listen: '127.0.0.1:0' has no port 1..65535 after the ':', expected " LISTEN_WANT },
	{ "metrics_listen_port_big", METRICS "  listen: \"127.0.0.1:65536\"\n", -EINVAL,
	  "3:11: metrics.listen: '127.0.0.1:65536' has no port 1..65535 after the ':', expected " LISTEN_WANT },
	{ "metrics_listen_name", METRICS "  listen: \"localhost:9464\"\n", -EINVAL,
	  "3:11: metrics.listen: 'localhost:9464' has no numeric IPv4 address before the port, expected " LISTEN_WANT },
	{ "metrics_listen_bare_v6", METRICS "  listen: \"::1:9464\"\n", -EINVAL,
	  "3:11: metrics.listen: '::1:9464' is an IPv6 address without brackets, expected " LISTEN_WANT },
	{ "metrics_listen_bad_v6", METRICS "  listen: \"[::g]:9464\"\n", -EINVAL,
	  "3:11: metrics.listen: '[::g]:9464' has no IPv6 address between the brackets, expected " LISTEN_WANT },
	{ "metrics_listen_v6_no_port", METRICS "  listen: \"[::1]\"\n", -EINVAL,
	  "3:11: metrics.listen: '[::1]' has no ':' and port after the ']', expected " LISTEN_WANT },
	{ "metrics_listen_empty", METRICS "  listen: \"\"\n", -EINVAL,
	  "3:11: metrics.listen: got an empty string, expected " LISTEN_WANT },
	{ "metrics_top_big", METRICS "  top: 1001\n", -EINVAL,
	  "3:8: metrics.top: 1001 is out of range, expected an integer in 0..1000" },
	{ "metrics_top_negative", METRICS "  top: -1\n", -EINVAL,
	  "3:8: metrics.top: -1 is out of range, expected an integer in 0..1000" },
};

static bool load_ok(const char *name, const char *yaml, struct ps_config *cfg, char *path,
		    size_t pathlen);

/* Defaults, and every key given. */
static void test_metrics(void)
{
	static struct ps_config cfg;
	char path[512];

	ps_config_init(&cfg);
	if (cfg.metrics.enabled != 1 || strcmp(cfg.metrics.listen, "127.0.0.1:9464") ||
	    cfg.metrics.top != 20) {
		fail("metrics", "ps_config_init: enabled %d listen '%s' top %d", cfg.metrics.enabled,
		     cfg.metrics.listen, cfg.metrics.top);
		return;
	}
	if (!load_ok("metrics", "endpoints: [{port: 1}]\nmetrics:\n", &cfg, path, sizeof(path)))
		return;
	if (cfg.metrics.enabled != 1 || strcmp(cfg.metrics.listen, "127.0.0.1:9464") ||
	    cfg.metrics.top != 20) {
		fail("metrics", "empty metrics: enabled %d listen '%s' top %d", cfg.metrics.enabled,
		     cfg.metrics.listen, cfg.metrics.top);
		return;
	}
	if (!load_ok("metrics", "endpoints: [{port: 1}]\nmetrics: {enabled: false}\n", &cfg, path,
		     sizeof(path)))
		return;
	if (cfg.metrics.enabled != 0) {
		fail("metrics", "enabled: false gave %d", cfg.metrics.enabled);
		return;
	}
	if (!load_ok("metrics",
		     "endpoints: [{port: 1}]\nmetrics: {listen: \"[::1]:19464\", top: 0}\n", &cfg,
		     path, sizeof(path)))
		return;
	if (cfg.metrics.enabled != 1 || strcmp(cfg.metrics.listen, "[::1]:19464") ||
	    cfg.metrics.top != 0) {
		fail("metrics", "given: enabled %d listen '%s' top %d", cfg.metrics.enabled,
		     cfg.metrics.listen, cfg.metrics.top);
		return;
	}
	if (!load_ok("metrics",
		     "endpoints: [{port: 1}]\nmetrics: {listen: \"0.0.0.0:65535\", top: 1000}\n",
		     &cfg, path, sizeof(path)))
		return;
	if (strcmp(cfg.metrics.listen, "0.0.0.0:65535") || cfg.metrics.top != 1000) {
		fail("metrics", "bounds: listen '%s' top %d", cfg.metrics.listen, cfg.metrics.top);
		return;
	}
	pass("metrics");
}

/* detection: the detectors, their thresholds and the escalation (userspace/policy/). */
static const struct err_case detection_err_cases[] = {
	{ "detection_list", "endpoints: [{port: 1}]\ndetection: []\n", -EINVAL,
	  "2:12: detection: got a list, expected a mapping with keys " DETECTION_KEYS },
	{ "detection_scalar", "endpoints: [{port: 1}]\ndetection: off\n", -EINVAL,
	  "2:12: detection: got 'off', expected a mapping with keys " DETECTION_KEYS },
	{ "detection_twice", DETECTION "  enabled: true\ndetection: {}\n", -EINVAL,
	  "4:1: key 'detection' appears twice (first at line 2), expected each key once" },
	{ "detection_unknown_key", DETECTION "  interval_s: 10\n", -EINVAL,
	  "3:3: detection: unknown key 'interval_s', expected one of " DETECTION_KEYS },
	{ "detection_enabled_yes", DETECTION "  enabled: yes\n", -EINVAL,
	  "3:12: detection.enabled: got 'yes', expected true or false" },

	/* interval: a duration, 1s..1h */
	{ "detection_interval_zero", DETECTION "  interval: 0s\n", -EINVAL,
	  "3:13: detection.interval: 0s is out of range, expected a duration in 1..3600 seconds" },
	{ "detection_interval_long", DETECTION "  interval: 61m\n", -EINVAL,
	  "3:13: detection.interval: 61m is out of range, expected a duration in 1..3600 seconds" },
	{ "detection_interval_word", DETECTION "  interval: often\n", -EINVAL,
	  "3:13: detection.interval: got 'often', expected " DURATION_WANT },
	{ "detection_interval_fraction", DETECTION "  interval: 1.5s\n", -EINVAL,
	  "3:13: detection.interval: got '1.5s', expected " DURATION_WANT },
	{ "detection_interval_leading_zero", DETECTION "  interval: 010\n", -EINVAL,
	  "3:13: detection.interval: 010 has a leading zero (octal in YAML 1.1), expected " DURATION_WANT " without one" },

	/* min_population: 2..10^6 */
	{ "detection_min_population_one", DETECTION "  min_population: 1\n", -EINVAL,
	  "3:19: detection.min_population: 1 is out of range, expected an integer in 2..1000000" },
	{ "detection_min_population_big", DETECTION "  min_population: 1000001\n", -EINVAL,
	  "3:19: detection.min_population: 1000001 is out of range, expected an integer in 2..1000000" },
	{ "detection_min_population_decimal", DETECTION "  min_population: 20.0\n", -EINVAL,
	  "3:19: detection.min_population: got '20.0', expected an integer in 2..1000000" },

	/* zscore: the decimal rules */
	{ "zscore_low", DETECTION "  zscore: 0.99\n", -EINVAL,
	  "3:11: detection.zscore: 0.99 is out of range, expected " ZSCORE_WANT },
	{ "zscore_high", DETECTION "  zscore: 1000.001\n", -EINVAL,
	  "3:11: detection.zscore: 1000.001 is out of range, expected " ZSCORE_WANT },
	{ "zscore_negative", DETECTION "  zscore: -3.5\n", -EINVAL,
	  "3:11: detection.zscore: -3.5 is out of range, expected " ZSCORE_WANT },
	{ "zscore_overflow", DETECTION "  zscore: 1e999\n", -EINVAL,
	  "3:11: detection.zscore: 1e999 is out of range, expected " ZSCORE_WANT },
	{ "zscore_quoted", DETECTION "  zscore: \"3.5\"\n", -EINVAL,
	  "3:11: detection.zscore: got the quoted string '3.5', expected " ZSCORE_WANT },
	{ "zscore_nan", DETECTION "  zscore: .nan\n", -EINVAL,
	  "3:11: detection.zscore: got '.nan', expected " ZSCORE_WANT },
	{ "zscore_nan_word", DETECTION "  zscore: nan\n", -EINVAL,
	  "3:11: detection.zscore: got 'nan', expected " ZSCORE_WANT },
	{ "zscore_inf", DETECTION "  zscore: .inf\n", -EINVAL,
	  "3:11: detection.zscore: got '.inf', expected " ZSCORE_WANT },
	{ "zscore_infinity", DETECTION "  zscore: infinity\n", -EINVAL,
	  "3:11: detection.zscore: got 'infinity', expected " ZSCORE_WANT },
	{ "zscore_hex", DETECTION "  zscore: 0x1A\n", -EINVAL,
	  "3:11: detection.zscore: got '0x1A', expected " ZSCORE_WANT },
	{ "zscore_hex_float", DETECTION "  zscore: 0x1p3\n", -EINVAL,
	  "3:11: detection.zscore: got '0x1p3', expected " ZSCORE_WANT },
	{ "zscore_trailing", DETECTION "  zscore: 3.5x\n", -EINVAL,
	  "3:11: detection.zscore: got '3.5x', expected " ZSCORE_WANT },
	{ "zscore_word_after", DETECTION "  zscore: 3.5 sigma\n", -EINVAL,
	  "3:11: detection.zscore: got '3.5 sigma', expected " ZSCORE_WANT },
	{ "zscore_leading_garbage", DETECTION "  zscore: x3.5\n", -EINVAL,
	  "3:11: detection.zscore: got 'x3.5', expected " ZSCORE_WANT },
	{ "zscore_comma", DETECTION "  zscore: 3,5\n", -EINVAL,
	  "3:11: detection.zscore: got '3,5', expected " ZSCORE_WANT },
	{ "zscore_two_dots", DETECTION "  zscore: 3.5.1\n", -EINVAL,
	  "3:11: detection.zscore: got '3.5.1', expected " ZSCORE_WANT },
	{ "zscore_dot", DETECTION "  zscore: .\n", -EINVAL,
	  "3:11: detection.zscore: got '.', expected " ZSCORE_WANT },
	{ "zscore_sign_only", DETECTION "  zscore: +\n", -EINVAL,
	  "3:11: detection.zscore: got '+', expected " ZSCORE_WANT },
	{ "zscore_two_signs", DETECTION "  zscore: +-3\n", -EINVAL,
	  "3:11: detection.zscore: got '+-3', expected " ZSCORE_WANT },
	{ "zscore_exponent_empty", DETECTION "  zscore: 1e\n", -EINVAL,
	  "3:11: detection.zscore: got '1e', expected " ZSCORE_WANT },
	{ "zscore_exponent_sign_only", DETECTION "  zscore: 1e+\n", -EINVAL,
	  "3:11: detection.zscore: got '1e+', expected " ZSCORE_WANT },
	{ "zscore_exponent_alone", DETECTION "  zscore: e5\n", -EINVAL,
	  "3:11: detection.zscore: got 'e5', expected " ZSCORE_WANT },
	{ "zscore_underscore", DETECTION "  zscore: 1_000\n", -EINVAL,
	  "3:11: detection.zscore: got '1_000', expected " ZSCORE_WANT },
	{ "zscore_leading_zero", DETECTION "  zscore: 05\n", -EINVAL,
	  "3:11: detection.zscore: 05 has a leading zero (octal in YAML 1.1), expected " ZSCORE_WANT " without one" },
	{ "zscore_bool", DETECTION "  zscore: true\n", -EINVAL,
	  "3:11: detection.zscore: got 'true', expected " ZSCORE_WANT },
	{ "zscore_list", DETECTION "  zscore: [3.5]\n", -EINVAL,
	  "3:11: detection.zscore: got a list, expected " ZSCORE_WANT },

	/* high_rate */
	{ "high_rate_scalar", DETECTION "  high_rate: true\n", -EINVAL,
	  "3:14: detection.high_rate: got 'true', expected a mapping with keys enabled, requests_per_minute" },
	{ "high_rate_unknown_key", HIGH_RATE "rpm: 5}\n", -EINVAL,
	  "3:15: detection.high_rate: unknown key 'rpm', expected one of enabled, requests_per_minute" },
	{ "high_rate_enabled_quoted", HIGH_RATE "enabled: 'false'}\n", -EINVAL,
	  "3:24: detection.high_rate.enabled: got the quoted string 'false', expected true or false" },
	{ "high_rate_rpm_zero", HIGH_RATE "requests_per_minute: 0}\n", -EINVAL,
	  "3:36: detection.high_rate.requests_per_minute: 0 is out of range, expected an integer in 1..1000000000" },
	{ "high_rate_rpm_big", HIGH_RATE "requests_per_minute: 1000000001}\n", -EINVAL,
	  "3:36: detection.high_rate.requests_per_minute: 1000000001 is out of range, expected an integer in 1..1000000000" },

	/* prefix */
	{ "prefix_min_clients_one", PREFIX_DET "min_clients: 1}\n", -EINVAL,
	  "3:25: detection.prefix.min_clients: 1 is out of range, expected an integer in 2..1000000" },
	{ "prefix_min_clients_big", PREFIX_DET "min_clients: 1000001}\n", -EINVAL,
	  "3:25: detection.prefix.min_clients: 1000001 is out of range, expected an integer in 2..1000000" },
	{ "prefix_rph_zero", PREFIX_DET "requests_per_hour: 0}\n", -EINVAL,
	  "3:31: detection.prefix.requests_per_hour: 0 is out of range, expected an integer in 1..1000000000000" },
	{ "prefix_rph_big", PREFIX_DET "requests_per_hour: 1000000000001}\n", -EINVAL,
	  "3:31: detection.prefix.requests_per_hour: 1000000000001 is out of range, expected an integer in 1..1000000000000" },

	/* low_and_slow */
	{ "low_and_slow_min_history_short", LOW_SLOW "min_history: 59s}\n", -EINVAL,
	  "3:31: detection.low_and_slow.min_history: 59s is out of range, expected a duration in 60..604800 seconds" },
	{ "low_and_slow_min_history_long", LOW_SLOW "min_history: 8d}\n", -EINVAL,
	  "3:31: detection.low_and_slow.min_history: 8d is out of range, expected a duration in 60..604800 seconds" },
	{ "low_and_slow_duty_cycle_high", LOW_SLOW "duty_cycle: 1.01}\n", -EINVAL,
	  "3:30: detection.low_and_slow.duty_cycle: 1.01 is out of range, expected a decimal number in 0..1" },
	{ "low_and_slow_duty_cycle_negative", LOW_SLOW "duty_cycle: -0.1}\n", -EINVAL,
	  "3:30: detection.low_and_slow.duty_cycle: -0.1 is out of range, expected a decimal number in 0..1" },
	{ "low_and_slow_duty_cycle_percent", LOW_SLOW "duty_cycle: 90%}\n", -EINVAL,
	  "3:30: detection.low_and_slow.duty_cycle: got '90%', expected a decimal number in 0..1" },
	{ "low_and_slow_max_cv_high", LOW_SLOW "max_cv: 10.5}\n", -EINVAL,
	  "3:26: detection.low_and_slow.max_cv: 10.5 is out of range, expected a decimal number in 0..10" },
	{ "low_and_slow_rph_zero", LOW_SLOW "requests_per_hour: 0}\n", -EINVAL,
	  "3:37: detection.low_and_slow.requests_per_hour: 0 is out of range, expected an integer in 1..1000000000000" },

	/* surge */
	{ "surge_unknown_key", SURGE "baseline: 24h}\n", -EINVAL,
	  "3:11: detection.surge: unknown key 'baseline', expected one of enabled, factor, min_history, requests_per_hour" },
	{ "surge_factor_low", SURGE "factor: 0.5}\n", -EINVAL,
	  "3:19: detection.surge.factor: 0.5 is out of range, expected a decimal number in 1..1000000" },
	{ "surge_factor_high", SURGE "factor: 1.5e6}\n", -EINVAL,
	  "3:19: detection.surge.factor: 1.5e6 is out of range, expected a decimal number in 1..1000000" },
	{ "surge_min_history_word", SURGE "min_history: long}\n", -EINVAL,
	  "3:24: detection.surge.min_history: got 'long', expected " DURATION_WANT },
	{ "surge_min_history_short", SURGE "min_history: 59}\n", -EINVAL,
	  "3:24: detection.surge.min_history: 59 is out of range, expected a duration in 60..604800 seconds" },
	{ "surge_key_twice", SURGE "min_history: 1m, min_history: 2m}\n", -EINVAL,
	  "3:28: detection.surge: key 'min_history' appears twice (first at line 3), expected each key once" },
	{ "surge_rph_zero", SURGE "requests_per_hour: 0}\n", -EINVAL,
	  "3:30: detection.surge.requests_per_hour: 0 is out of range, expected an integer in 1..1000000000000" },

	/* ratio */
	{ "ratio_min_ratio_zero", RATIO "min_ratio: 0}\n", -EINVAL,
	  "3:22: detection.ratio.min_ratio: 0 is out of range, expected a decimal number in 1..1000000" },
	{ "ratio_min_ratio_word", RATIO "min_ratio: high}\n", -EINVAL,
	  "3:22: detection.ratio.min_ratio: got 'high', expected a decimal number in 1..1000000" },
	{ "ratio_min_requests_zero", RATIO "min_requests: 0}\n", -EINVAL,
	  "3:25: detection.ratio.min_requests: 0 is out of range, expected an integer in 1..1000000000000" },

	/* thresholds */
	{ "thresholds_list", DETECTION "  thresholds: [1]\n", -EINVAL,
	  "3:15: detection.thresholds: got a list, expected a mapping with keys " THRESHOLD_KEYS },
	{ "thresholds_unknown_key", THRESHOLDS "requests_per_second: 5}\n", -EINVAL,
	  "3:16: detection.thresholds: unknown key 'requests_per_second', expected one of " THRESHOLD_KEYS },
	{ "thresholds_rpm_zero", THRESHOLDS "requests_per_minute: 0}\n", -EINVAL,
	  "3:37: detection.thresholds.requests_per_minute: 0 is out of range, expected an integer in 1..1000000000" },
	{ "thresholds_rpm_big", THRESHOLDS "requests_per_minute: 1000000001}\n", -EINVAL,
	  "3:37: detection.thresholds.requests_per_minute: 1000000001 is out of range, expected an integer in 1..1000000000" },
	{ "thresholds_rph_big", THRESHOLDS "requests_per_hour: 1000000000001}\n", -EINVAL,
	  "3:35: detection.thresholds.requests_per_hour: 1000000000001 is out of range, expected an integer in 1..1000000000000" },
	{ "thresholds_rpd_zero", THRESHOLDS "requests_per_day: 0}\n", -EINVAL,
	  "3:34: detection.thresholds.requests_per_day: 0 is out of range, expected an integer in 1..1000000000000" },
	{ "thresholds_tx_hour_zero", THRESHOLDS "tx_payload_per_hour: 0}\n", -EINVAL,
	  "3:37: detection.thresholds.tx_payload_per_hour: 0 is out of range, expected a size in 1..18446744073709551614 bytes" },
	{ "thresholds_tx_day_bits", THRESHOLDS "tx_payload_per_day: 2Gbit}\n", -EINVAL,
	  "3:36: detection.thresholds.tx_payload_per_day: got '2Gbit', expected " SIZE_WANT },

	/* escalation */
	{ "escalation_scalar", DETECTION "  escalation: block\n", -EINVAL,
	  "3:15: detection.escalation: got 'block', expected a mapping with keys forget, steps" },
	{ "escalation_unknown_key", ESCALATION "    reset: 6h\n", -EINVAL,
	  "4:5: detection.escalation: unknown key 'reset', expected one of forget, steps" },
	{ "escalation_forget_short", ESCALATION "    forget: 59s\n", -EINVAL,
	  "4:13: detection.escalation.forget: 59s is out of range, expected a duration in 60..2592000 seconds" },
	{ "escalation_forget_long", ESCALATION "    forget: 31d\n", -EINVAL,
	  "4:13: detection.escalation.forget: 31d is out of range, expected a duration in 60..2592000 seconds" },
	{ "steps_scalar", ESCALATION "    steps: block\n", -EINVAL,
	  "4:12: detection.escalation.steps: got 'block', expected a list of 1..8 steps" },
	{ "steps_empty", ESCALATION "    steps: []\n", -EINVAL,
	  "4:12: detection.escalation.steps: got an empty list, expected a list of 1..8 steps" },
	/* the ninth entry is on line 13 */
	{ "steps_too_many",
	  STEPS "      - {action: alert}\n      - {action: alert}\n      - {action: alert}\n"
	  "      - {action: alert}\n      - {action: alert}\n      - {action: alert}\n"
	  "      - {action: alert}\n      - {action: alert}\n      - {action: block}\n", -EINVAL,
	  "13:9: detection.escalation.steps: got 9 entries, expected a list of 1..8 steps" },
	{ "step_scalar", STEPS "      - block\n", -EINVAL,
	  "5:9: detection.escalation.steps[0]: got 'block', expected a mapping with keys " STEP_KEYS },
	{ "step_missing_action", STEPS "      - {cooldown: 5m}\n", -EINVAL,
	  "5:9: detection.escalation.steps[0]: missing key 'action', expected one of alert, shape, delay, block" },
	{ "step_action_unknown", STEPS "      - {action: throttle}\n", -EINVAL,
	  "5:18: detection.escalation.steps[0].action: got 'throttle', expected one of alert, shape, delay, block" },
	{ "step_action_capital", STEPS "      - {action: Block}\n", -EINVAL,
	  "5:18: detection.escalation.steps[0].action: got 'Block', expected one of alert, shape, delay, block" },
	{ "step_action_twice", STEPS "      - {action: shape, action: block}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0]: key 'action' appears twice (first at line 5), expected each key once" },
	{ "step_unknown_key", STEPS "      - {action: block, duration: 1h}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0]: unknown key 'duration', expected one of " STEP_KEYS },
	{ "step_for_zero", STEPS "      - {action: block, for: 0s}\n", -EINVAL,
	  "5:30: detection.escalation.steps[0].for: 0s is out of range, expected a duration in 1..2592000 seconds" },
	{ "step_for_long", STEPS "      - {action: block, for: 31d}\n", -EINVAL,
	  "5:30: detection.escalation.steps[0].for: 31d is out of range, expected a duration in 1..2592000 seconds" },
	{ "step_cooldown_long", STEPS "      - {action: block, cooldown: 31d}\n", -EINVAL,
	  "5:35: detection.escalation.steps[0].cooldown: 31d is out of range, expected a duration in 0..2592000 seconds" },
	{ "step_cooldown_negative", STEPS "      - {action: block, cooldown: -1m}\n", -EINVAL,
	  "5:35: detection.escalation.steps[0].cooldown: got '-1m', expected " DURATION_WANT },
	{ "step_rate_zero", STEPS "      - {action: shape, rate: 0mbit}\n", -EINVAL,
	  "5:31: detection.escalation.steps[0].rate: got '0mbit', expected a rate above zero, such as 2mbit" },
	{ "step_rate_size", STEPS "      - {action: shape, rate: 4MiB}\n", -EINVAL,
	  "5:31: detection.escalation.steps[0].rate: got '4MiB', expected " RATE_WANT },
	{ "step_rpm_zero", STEPS "      - {action: delay, requests_per_minute: 0}\n", -EINVAL,
	  "5:46: detection.escalation.steps[0].requests_per_minute: 0 is out of range, expected an integer in 1..10000000" },
	{ "step_rpm_big", STEPS "      - {action: delay, requests_per_minute: 10000001}\n", -EINVAL,
	  "5:46: detection.escalation.steps[0].requests_per_minute: 10000001 is out of range, expected an integer in 1..10000000" },

	/* keys that do not go with the step's action */
	{ "step_for_on_alert", STEPS "      - {action: alert, for: 1h}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0].for: for with action alert, expected for only with action shape, delay or block" },
	/* the key is pointed at wherever the action is */
	{ "step_for_before_alert", STEPS "      - {for: 1h, action: alert}\n", -EINVAL,
	  "5:10: detection.escalation.steps[0].for: for with action alert, expected for only with action shape, delay or block" },
	{ "step_rate_on_delay", STEPS "      - {action: alert}\n      - {action: delay, rate: 1mbit}\n",
	  -EINVAL,
	  "6:25: detection.escalation.steps[1].rate: rate with action delay, expected rate only with action shape" },
	{ "step_rate_on_block", STEPS "      - {action: block, rate: 1mbit}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0].rate: rate with action block, expected rate only with action shape" },
	{ "step_rate_on_alert", STEPS "      - {action: alert, rate: 1mbit}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0].rate: rate with action alert, expected rate only with action shape" },
	{ "step_rpm_on_shape", STEPS "      - {action: shape, requests_per_minute: 5}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0].requests_per_minute: requests_per_minute with action shape, expected requests_per_minute only with action delay" },
	{ "step_rpm_on_block", STEPS "      - {action: block, requests_per_minute: 5}\n", -EINVAL,
	  "5:25: detection.escalation.steps[0].requests_per_minute: requests_per_minute with action block, expected requests_per_minute only with action delay" },
	{ "step_rpm_on_alert",
	  STEPS "      - action: shape\n      - action: alert\n        requests_per_minute: 5\n", -EINVAL,
	  "7:9: detection.escalation.steps[1].requests_per_minute: requests_per_minute with action alert, expected requests_per_minute only with action delay" },

	/* a class's exempt, alert_only and thresholds */
	{ "class_exempt_yes", CLASS_A "      exempt: yes\n", -EINVAL,
	  "6:15: limits.classes[0].exempt: got 'yes', expected true or false" },
	{ "class_alert_only_number", CLASS_A "      alert_only: 1\n", -EINVAL,
	  "6:19: limits.classes[0].alert_only: got '1', expected true or false" },
	{ "class_exempt_and_alert_only", CLASS_A "      exempt: true\n      alert_only: true\n", -EINVAL,
	  "7:7: limits.classes[0].alert_only: alert_only: true in a class with exempt: true (line 6), expected either exempt: true or alert_only: true, not both" },
	{ "class_alert_only_and_exempt", CLASS_A "      alert_only: true\n      exempt: true\n", -EINVAL,
	  "6:7: limits.classes[0].alert_only: alert_only: true in a class with exempt: true (line 7), expected either exempt: true or alert_only: true, not both" },
	{ "class_exempt_and_alert_only_flow",
	  CLASSES "    - {name: a, clients: [10.0.0.0/8], exempt: true, alert_only: true}\n", -EINVAL,
	  "4:54: limits.classes[0].alert_only: alert_only: true in a class with exempt: true (line 4), expected either exempt: true or alert_only: true, not both" },
	{ "class_thresholds_scalar", CLASS_A "      thresholds: 100\n", -EINVAL,
	  "6:19: limits.classes[0].thresholds: got '100', expected a mapping with keys " THRESHOLD_KEYS },
	{ "class_thresholds_unknown_key", CLASS_A "      thresholds: {rpm: 1}\n", -EINVAL,
	  "6:20: limits.classes[0].thresholds: unknown key 'rpm', expected one of " THRESHOLD_KEYS },
	{ "class_thresholds_rpm_zero", CLASS_A "      thresholds: {requests_per_minute: 0}\n", -EINVAL,
	  "6:41: limits.classes[0].thresholds.requests_per_minute: 0 is out of range, expected an integer in 1..1000000000" },
	{ "class_thresholds_tx_bad", CLASS_A "      thresholds:\n        tx_payload_per_hour: lots\n",
	  -EINVAL,
	  "7:30: limits.classes[0].thresholds.tx_payload_per_hour: got 'lots', expected " SIZE_WANT },
};

static void run_err_case(const struct err_case *t)
{
	char path[512], want[1024], err[1024];
	static struct ps_config cfg;
	int rc;

	rc = write_yaml(t->name, t->yaml, strlen(t->yaml), path, sizeof(path));
	if (rc) {
		fail(t->name, "cannot write %s: %s", path, strerror(-rc));
		return;
	}
	snprintf(want, sizeof(want), "%s:%s", path, t->msg);
	poison(&cfg);
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	if (rc != t->rc)
		fail(t->name, "returned %d, expected %d (message \"%s\")", rc, t->rc, err);
	else if (strcmp(err, want))
		fail(t->name, "message \"%s\", expected \"%s\"", err, want);
	else if (!is_poisoned(&cfg))
		fail(t->name, "the config was changed by a failed load");
	else
		pass(t->name);
}

/* Load a snippet that must load; on failure report and return false. */
static bool load_ok(const char *name, const char *yaml, struct ps_config *cfg, char *path,
		    size_t pathlen)
{
	char err[1024];
	int rc;

	rc = write_yaml(name, yaml, strlen(yaml), path, pathlen);
	if (rc) {
		fail(name, "cannot write %s: %s", path, strerror(-rc));
		return false;
	}
	poison(cfg);
	rc = ps_config_load(path, cfg, err, sizeof(err));
	unlink(path);
	if (rc) {
		fail(name, "returned %d: %s", rc, err);
		return false;
	}
	return true;
}

/* Failure text of the first mismatch of an endpoint, or NULL if it matches. */
static const char *check_endpoint(const struct ps_endpoint_cfg *ep, const char *name, int port,
				  const char *const *paths, char *why, size_t len)
{
	int i, n;

	for (n = 0; paths[n]; n++)
		;
	if (strcmp(ep->name, name))
		snprintf(why, len, "name \"%s\", expected \"%s\"", ep->name, name);
	else if (ep->port != port)
		snprintf(why, len, "port %u, expected %d", ep->port, port);
	else if (ep->npaths != n)
		snprintf(why, len, "%s: %d paths, expected %d", name, ep->npaths, n);
	else
		for (i = 0, why[0] = 0; i < n && !why[0]; i++)
			if (strcmp(ep->paths[i], paths[i]))
				snprintf(why, len, "%s: path %d \"%s\", expected \"%s\"", name, i,
					 ep->paths[i], paths[i]);
	return why[0] ? why : NULL;
}

/* xdp: auto when not given, else as written. */
static void test_xdp(void)
{
	static const char *const yaml[] = {
		"endpoints: [{port: 1}]\n", "endpoints: [{port: 1}]\nxdp: auto\n",
		"endpoints: [{port: 1}]\nxdp: on\n", "endpoints: [{port: 1}]\nxdp: off\n",
		"endpoints: [{port: 1}]\nxdp:\n",
	};
	static const int want[] = { PS_XDP_AUTO, PS_XDP_AUTO, PS_XDP_ON, PS_XDP_OFF, PS_XDP_AUTO };
	static struct ps_config cfg;
	char path[512];
	unsigned i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!load_ok("xdp", yaml[i], &cfg, path, sizeof(path)))
			return;
		if (cfg.xdp != want[i]) {
			fail("xdp", "case %u: xdp %d, expected %d", i, cfg.xdp, want[i]);
			return;
		}
	}
	pass("xdp");
}

static void test_default_paths(void)
{
	static const char *const want[] = {
		"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", NULL,
	};
	int i;

	for (i = 0; want[i]; i++) {
		if (!ps_default_paths[i] || strcmp(ps_default_paths[i], want[i])) {
			fail("default_paths", "entry %d is \"%s\", expected \"%s\"", i,
			     ps_default_paths[i] ? ps_default_paths[i] : "(null)", want[i]);
			return;
		}
	}
	if (ps_default_paths[i])
		fail("default_paths", "more than %d entries", i);
	else
		pass("default_paths");
}

static void test_init(void)
{
	static struct ps_config cfg;

	poison(&cfg);
	ps_config_init(&cfg);
	if (cfg.source[0] || cfg.nifaces || cfg.nendpoints)
		fail("init_empty", "source \"%.20s\", %d interfaces, %d endpoints", cfg.source,
		     cfg.nifaces, cfg.nendpoints);
	else
		pass("init_empty");
}

static void test_full(void)
{
	static const char *const openai[] = { "/v1/chat/completions", "/v1/embeddings", NULL };
	static const char *const other[] = { "/generate", NULL };
	const char *yaml =
		"# comment\n"
		"interfaces:\n"
		"  - eth0\n"
		"  - \"ens3\"   # quoted\n"
		"endpoints:\n"
		"  - name: openai\n"
		"    port: 8000\n"
		"    paths: [/v1/chat/completions, '/v1/embeddings']\n"
		"  - {name: \"tgi server\", port: 65535, paths: [/generate]}\n"
		"  - port: 1\n";
	static struct ps_config cfg;
	char path[512], why[256];

	if (!load_ok("load_full", yaml, &cfg, path, sizeof(path)))
		return;
	if (strcmp(cfg.source, path))
		fail("load_full", "source \"%s\", expected \"%s\"", cfg.source, path);
	else if (cfg.nifaces != 2 || strcmp(cfg.ifaces[0], "eth0") || strcmp(cfg.ifaces[1], "ens3"))
		fail("load_full", "interfaces %d [%s, %s], expected [eth0, ens3]", cfg.nifaces,
		     cfg.ifaces[0], cfg.ifaces[1]);
	else if (cfg.nendpoints != 3)
		fail("load_full", "%d endpoints, expected 3", cfg.nendpoints);
	else if (check_endpoint(&cfg.endpoints[0], "openai", 8000, openai, why, sizeof(why)) ||
		 check_endpoint(&cfg.endpoints[1], "tgi server", 65535, other, why, sizeof(why)) ||
		 check_endpoint(&cfg.endpoints[2], "port-1", 1, ps_default_paths, why, sizeof(why)))
		fail("load_full", "%s", why);
	else
		pass("load_full");
}

static void test_keys(void)
{
	const char *yaml = "endpoints:\n"
			   "  - port: 8000\n"
			   "    identity: api_key\n"
			   "limits:\n"
			   "  classes:\n"
			   "    - name: partners\n"
			   "      clients: [10.0.0.0/8]\n"
			   "      keys: [key:00000000000000ff, key:8000000000000001]\n"
			   "      requests_per_minute: 5\n"
			   "    - {name: keys-only, keys: [key:0123456789abcdef]}\n";
	struct ps_config cfg;
	char path[512], a[64], b[64];

	if (!load_ok("keys", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.endpoints[0].identity != PS_IDENTITY_API_KEY)
		fail("keys", "identity %d, expected api_key", cfg.endpoints[0].identity);
	else if (cfg.classes[0].nclients != 3 || cfg.classes[0].nkeys != 2 ||
		 cfg.classes[1].nclients != 1 || cfg.classes[0].clients[1].family != PS_AF_KEY)
		fail("keys", "class 0: %d clients, %d keys; class 1: %d clients",
		     cfg.classes[0].nclients, cfg.classes[0].nkeys, cfg.classes[1].nclients);
	else if (strcmp(ps_prefix_str(&cfg.classes[0].clients[2], a, sizeof(a)),
			"key:8000000000000001") ||
		 strcmp(ps_prefix_str(&cfg.classes[1].clients[0], b, sizeof(b)),
			"key:0123456789abcdef"))
		fail("keys", "keys read as %s and %s", a, b);
	else
		pass("keys");
}

static void test_proxy_protocol(void)
{
	const char *yaml = "endpoints:\n"
			   "  - port: 8000\n"
			   "    proxy_protocol: true\n"
			   "    forwarded_for: x-forwarded-for\n"
			   "    trusted_proxies: [10.0.0.0/8, \"fd00::/8\", 192.0.2.7]\n"
			   "  - port: 8001\n";
	struct ps_config cfg;
	char path[512], buf[64];

	if (!load_ok("proxy_protocol", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.endpoints[0].proxy_protocol != 1 || cfg.endpoints[0].ntrusted != 3 ||
	    strcmp(ps_prefix_str(&cfg.endpoints[0].trusted[1], buf, sizeof(buf)), "fd00::/8") ||
	    cfg.endpoints[0].trusted[2].len != 32)
		fail("proxy_protocol", "endpoint 0: proxy_protocol %d, %d trusted, [1] %s",
		     cfg.endpoints[0].proxy_protocol, cfg.endpoints[0].ntrusted,
		     ps_prefix_str(&cfg.endpoints[0].trusted[1], buf, sizeof(buf)));
	else if (cfg.endpoints[0].forwarded_for != PS_FWD_FOR_XFF ||
		 cfg.endpoints[1].forwarded_for != PS_FWD_FOR_OFF)
		fail("proxy_protocol", "forwarded_for %d and %d, expected %d and %d",
		     cfg.endpoints[0].forwarded_for, cfg.endpoints[1].forwarded_for,
		     PS_FWD_FOR_XFF, PS_FWD_FOR_OFF);
	else if (cfg.endpoints[1].proxy_protocol == 1 || cfg.endpoints[1].ntrusted)
		fail("proxy_protocol", "endpoint 1: proxy_protocol %d, %d trusted, expected none",
		     cfg.endpoints[1].proxy_protocol, cfg.endpoints[1].ntrusted);
	else
		pass("proxy_protocol");
}

static void test_defaults(void)
{
	static struct ps_config cfg;
	char path[512], why[256];

	if (!load_ok("defaults", "endpoints:\n  - port: 8000\n", &cfg, path, sizeof(path)))
		return;
	if (cfg.nifaces != 0 || cfg.nendpoints != 1)
		fail("defaults", "%d interfaces, %d endpoints, expected 0 and 1", cfg.nifaces,
		     cfg.nendpoints);
	else if (check_endpoint(&cfg.endpoints[0], "port-8000", 8000, ps_default_paths, why,
				sizeof(why)))
		fail("defaults", "%s", why);
	else
		pass("defaults");
}

/* An optional key with no value keeps its default, as if it were absent. */
static void test_null_optional(void)
{
	const char *yaml = "interfaces:\nendpoints:\n  - port: 9000\n    name: ~\n    paths:\n";
	static struct ps_config cfg;
	char path[512], why[256];

	if (!load_ok("null_optional_keys", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.nifaces != 0 || cfg.nendpoints != 1)
		fail("null_optional_keys", "%d interfaces, %d endpoints, expected 0 and 1",
		     cfg.nifaces, cfg.nendpoints);
	else if (check_endpoint(&cfg.endpoints[0], "port-9000", 9000, ps_default_paths, why,
				sizeof(why)))
		fail("null_optional_keys", "%s", why);
	else
		pass("null_optional_keys");
}

/* Every bound at its largest accepted value. */
static void test_limits(void)
{
	static const char path64[] =
		"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char yaml[8192], path[512];
	static struct ps_config cfg;
	size_t o = 0;
	int i;

	o += snprintf(yaml + o, sizeof(yaml) - o, "interfaces: [abcdefghijklmno");
	for (i = 1; i < PS_MAX_IFACES; i++)
		o += snprintf(yaml + o, sizeof(yaml) - o, ", if%d", i);
	o += snprintf(yaml + o, sizeof(yaml) - o,
		      "]\nendpoints:\n  - name: abcdefghijklmnopqrstuvwxyz01234\n"
		      "    port: 65535\n    paths: [%s, /1, /2, /3, /4, /5, /6, /7]\n", path64);
	for (i = 1; i < PS_MAX_ENDPOINTS; i++)
		o += snprintf(yaml + o, sizeof(yaml) - o, "  - port: %d\n", i);
	if (!load_ok("limits_max", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.nifaces != PS_MAX_IFACES || strcmp(cfg.ifaces[0], "abcdefghijklmno"))
		fail("limits_max", "%d interfaces, first \"%s\"", cfg.nifaces, cfg.ifaces[0]);
	else if (cfg.nendpoints != PS_MAX_ENDPOINTS || cfg.endpoints[0].port != 65535 ||
		 cfg.endpoints[PS_MAX_ENDPOINTS - 1].port != PS_MAX_ENDPOINTS - 1)
		fail("limits_max", "%d endpoints", cfg.nendpoints);
	else if (strcmp(cfg.endpoints[0].name, "abcdefghijklmnopqrstuvwxyz01234"))
		fail("limits_max", "name \"%s\"", cfg.endpoints[0].name);
	else if (cfg.endpoints[0].npaths != PS_MAX_PATHS ||
		 strcmp(cfg.endpoints[0].paths[0], path64) ||
		 strcmp(cfg.endpoints[0].paths[7], "/7"))
		fail("limits_max", "%d paths, first \"%s\"", cfg.endpoints[0].npaths,
		     cfg.endpoints[0].paths[0]);
	else
		pass("limits_max");
}

/* Anchors and aliases are plain YAML and may be used to share a path list. */
static void test_alias(void)
{
	const char *yaml = "endpoints:\n  - port: 1\n    paths: &p [/a, /b]\n"
			   "  - port: 2\n    paths: *p\n";
	static const char *const ab[] = { "/a", "/b", NULL };
	static struct ps_config cfg;
	char path[512], why[256];

	if (!load_ok("alias", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.nendpoints != 2)
		fail("alias", "%d endpoints, expected 2", cfg.nendpoints);
	else if (check_endpoint(&cfg.endpoints[0], "port-1", 1, ab, why, sizeof(why)) ||
		 check_endpoint(&cfg.endpoints[1], "port-2", 2, ab, why, sizeof(why)))
		fail("alias", "%s", why);
	else
		pass("alias");
}

/* Names need not be unique: two ports may serve one model. */
static void test_same_name(void)
{
	const char *yaml = "endpoints:\n  - {name: llama, port: 1}\n  - {name: llama, port: 2}\n";
	static struct ps_config cfg;
	char path[512];

	if (!load_ok("same_name_two_ports", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.nendpoints != 2 || strcmp(cfg.endpoints[1].name, "llama"))
		fail("same_name_two_ports", "%d endpoints", cfg.nendpoints);
	else
		pass("same_name_two_ports");
}

/* A second load replaces the whole config, lists included. */
static void test_reload(void)
{
	static const char second[] = "endpoints: [{port: 3, paths: [/x]}]\n";
	static struct ps_config a, b;
	char path[512];

	if (!load_ok("reload", "interfaces: [eth0, eth1]\nendpoints: [{port: 1}, {port: 2}]\n",
		     &a, path, sizeof(path)))
		return;
	if (write_yaml("reload", second, strlen(second), path, sizeof(path))) {
		fail("reload", "cannot write %s", path);
		return;
	}
	ps_config_init(&b);
	if (ps_config_load(path, &b, NULL, 0) || ps_config_load(path, &a, NULL, 0)) {
		fail("reload", "load failed");
	} else if (memcmp(&a, &b, sizeof(a))) {
		fail("reload", "a reload differs from a fresh load (%d interfaces, %d endpoints)",
		     a.nifaces, a.nendpoints);
	} else {
		pass("reload");
	}
	unlink(path);
}

/*
 * Where etc/penstock.yaml is: $PS_SRCDIR, else the tree this file was
 * compiled from (right when __FILE__ is absolute or the test runs from the
 * top of the tree), else two levels above the binary (.output/tests/).
 */
static void example_path(char *path, size_t len)
{
	static const char suffix[] = "tests/unit/common/test_config.c";
	const char *src = getenv("PS_SRCDIR"), *me = __FILE__;
	size_t n = strlen(me), m = strlen(suffix);
	char exe[4096], *slash;
	ssize_t elen;

	if (src) {
		snprintf(path, len, "%s/etc/penstock.yaml", src);
		return;
	}
	if (n >= m && !strcmp(me + n - m, suffix)) {
		snprintf(path, len, "%.*setc/penstock.yaml", (int)(n - m), me);
		if (!access(path, R_OK))
			return;
	}
	elen = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (elen > 0) {
		exe[elen] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, len, "%s/../../etc/penstock.yaml", exe);
			if (!access(path, R_OK))
				return;
		}
	}
	snprintf(path, len, "etc/penstock.yaml");
}

static void test_example(void)
{
	static const char *const openai[] = {
		"/v1/chat/completions", "/v1/completions", "/v1/embeddings", NULL,
	};
	char path[8192], err[1024], why[256];
	static struct ps_config cfg;
	int rc;

	example_path(path, sizeof(path));
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	if (rc)
		fail("example_config", "%s (set PS_SRCDIR to the source tree)", err);
	else if (cfg.nifaces != 1 || strcmp(cfg.ifaces[0], "eth0") || cfg.nendpoints != 2)
		fail("example_config", "%d interfaces, %d endpoints, expected [eth0] and 2",
		     cfg.nifaces, cfg.nendpoints);
	else if (check_endpoint(&cfg.endpoints[0], "openai", 8000, openai, why, sizeof(why)) ||
		 check_endpoint(&cfg.endpoints[1], "port-8001", 8001, ps_default_paths, why,
				sizeof(why)))
		fail("example_config", "%s", why);
	else if (cfg.limits_default.requests_per_minute != PS_LIMIT_UNSET ||
		 cfg.limits_default.max_connections != PS_LIMIT_UNSET || cfg.nclasses ||
		 cfg.dry_run)
		fail("example_config", "limits given: the example's limits are commented out");
	else
		pass("example_config");
}

static void test_missing_file(void)
{
	char path[512], want[1024], err[1024];
	static struct ps_config cfg;
	int rc;

	snprintf(path, sizeof(path), "%s/no-such.yaml", tmpdir);
	snprintf(want, sizeof(want), "%s: cannot read: %s", path, strerror(ENOENT));
	poison(&cfg);
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	if (rc != -ENOENT)
		fail("missing_file", "returned %d, expected %d", rc, -ENOENT);
	else if (strcmp(err, want))
		fail("missing_file", "message \"%s\", expected \"%s\"", err, want);
	else if (!is_poisoned(&cfg))
		fail("missing_file", "the config was changed");
	else
		pass("missing_file");

	snprintf(want, sizeof(want), "%s: cannot read: %s", tmpdir, strerror(EISDIR));
	rc = ps_config_load(tmpdir, &cfg, err, sizeof(err));
	if (rc != -EISDIR)
		fail("directory", "returned %d, expected %d", rc, -EISDIR);
	else if (strcmp(err, want))
		fail("directory", "message \"%s\", expected \"%s\"", err, want);
	else if (!is_poisoned(&cfg))
		fail("directory", "the config was changed");
	else
		pass("directory");
}

static void test_too_big(void)
{
	size_t len = (1 << 20) + 1;
	char path[512], want[1024], err[1024];
	static struct ps_config cfg;
	char *text;
	int rc;

	/* A comment-only file one byte over the limit: valid YAML, but too big. */
	text = malloc(len);
	if (!text) {
		fail("file_too_big", "out of memory");
		return;
	}
	memset(text, ' ', len);
	text[0] = '#';
	rc = write_yaml("file_too_big", text, len, path, sizeof(path));
	free(text);
	if (rc) {
		fail("file_too_big", "cannot write: %s", strerror(-rc));
		return;
	}
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes, expected a configuration file",
		 path);
	poison(&cfg);
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	if (rc != -EFBIG)
		fail("file_too_big", "returned %d, expected %d", rc, -EFBIG);
	else if (strcmp(err, want))
		fail("file_too_big", "message \"%s\", expected \"%s\"", err, want);
	else if (!is_poisoned(&cfg))
		fail("file_too_big", "the config was changed");
	else
		pass("file_too_big");
}

/* A short buffer gets a cut but terminated message; NULL gets none. */
static void test_short_err_buffer(void)
{
	char path[512], err[16];
	static struct ps_config cfg;
	int rc;

	if (write_yaml("short_err", "endpoints: []\n", strlen("endpoints: []\n"), path,
		       sizeof(path))) {
		fail("short_err_buffer", "cannot write %s", path);
		return;
	}
	memset(err, 'x', sizeof(err));
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	if (rc != -EINVAL || strnlen(err, sizeof(err)) != sizeof(err) - 1 ||
	    strncmp(err, path, sizeof(err) - 1))
		fail("short_err_buffer", "returned %d, message \"%.16s\"", rc, err);
	else if (ps_config_load(path, &cfg, NULL, 0) != -EINVAL)
		fail("short_err_buffer", "NULL buffer: wrong return");
	else
		pass("short_err_buffer");
	unlink(path);
}

static void test_add_port(void)
{
	static struct ps_config cfg;
	char why[256];
	int i, rc;

	ps_config_init(&cfg);
	rc = ps_config_add_port(&cfg, 8080);
	if (rc || cfg.nendpoints != 1 ||
	    check_endpoint(&cfg.endpoints[0], "port-8080", 8080, ps_default_paths, why,
			   sizeof(why))) {
		fail("add_port", "returned %d, %d endpoints", rc, cfg.nendpoints);
		return;
	}
	pass("add_port");

	rc = ps_config_add_port(&cfg, 8080);
	if (rc || cfg.nendpoints != 1)
		fail("add_port_existing", "returned %d, %d endpoints, expected 0 and 1", rc,
		     cfg.nendpoints);
	else
		pass("add_port_existing");

	if (ps_config_add_port(&cfg, 0) != -EINVAL || ps_config_add_port(&cfg, 65536) != -EINVAL ||
	    ps_config_add_port(&cfg, -1) != -EINVAL || cfg.nendpoints != 1)
		fail("add_port_out_of_range", "accepted a port outside 1..65535");
	else
		pass("add_port_out_of_range");

	for (i = 1; i < PS_MAX_ENDPOINTS; i++)
		ps_config_add_port(&cfg, 9000 + i);
	rc = ps_config_add_port(&cfg, 65535);
	if (rc != -ENOSPC || cfg.nendpoints != PS_MAX_ENDPOINTS)
		fail("add_port_full", "returned %d with %d endpoints, expected %d", rc,
		     cfg.nendpoints, -ENOSPC);
	else if (ps_config_add_port(&cfg, 9001))
		fail("add_port_full", "a configured port was refused on a full config");
	else
		pass("add_port_full");
}

/* ---- limits: good values ---- */

#define U PS_LIMIT_UNSET

/* Limits with nothing given, as a class has before its keys are read. */
static void no_limits(struct ps_limits *l, enum ps_on_exceed on_exceed, int unlimited, int dry_run)
{
	l->requests_per_minute = U;
	l->burst = U;
	l->requests_per_day = U;
	l->egress_bytes_per_minute = U;
	l->egress_bytes_per_day = U;
	l->max_connections = U;
	l->shape_rate = U;
	l->tokens_per_minute = U;
	l->token_burst = U;
	l->tokens_per_day = U;
	l->token_reserve = U;
	l->on_exceed = on_exceed;
	l->unlimited = unlimited;
	l->dry_run = dry_run;
}

static const char *num_text(uint64_t v, char *buf, size_t len)
{
	if (v == U)
		snprintf(buf, len, "unset");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* Failure text of the first field of l that differs from want, or NULL. */
static const char *check_limits(const char *what, const struct ps_limits *l,
				const struct ps_limits *want, char *why, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} nums[] = {
		{ "requests_per_minute", offsetof(struct ps_limits, requests_per_minute) },
		{ "burst", offsetof(struct ps_limits, burst) },
		{ "requests_per_day", offsetof(struct ps_limits, requests_per_day) },
		{ "egress_bytes_per_minute", offsetof(struct ps_limits, egress_bytes_per_minute) },
		{ "egress_bytes_per_day", offsetof(struct ps_limits, egress_bytes_per_day) },
		{ "max_connections", offsetof(struct ps_limits, max_connections) },
		{ "shape_rate", offsetof(struct ps_limits, shape_rate) },
		{ "tokens_per_minute", offsetof(struct ps_limits, tokens_per_minute) },
		{ "token_burst", offsetof(struct ps_limits, token_burst) },
		{ "tokens_per_day", offsetof(struct ps_limits, tokens_per_day) },
		{ "token_reserve", offsetof(struct ps_limits, token_reserve) },
	};
	char a[32], b[32];
	uint64_t x, y;
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		memcpy(&x, (const char *)l + nums[i].off, sizeof(x));
		memcpy(&y, (const char *)want + nums[i].off, sizeof(y));
		if (x != y) {
			snprintf(why, len, "%s: %s %s, expected %s", what, nums[i].name,
				 num_text(x, a, sizeof(a)), num_text(y, b, sizeof(b)));
			return why;
		}
	}
	if (l->on_exceed != want->on_exceed)
		snprintf(why, len, "%s: on_exceed %d, expected %d", what, l->on_exceed,
			 want->on_exceed);
	else if (l->unlimited != want->unlimited)
		snprintf(why, len, "%s: unlimited %d, expected %d", what, l->unlimited,
			 want->unlimited);
	else if (l->dry_run != want->dry_run)
		snprintf(why, len, "%s: dry_run %d, expected %d", what, l->dry_run, want->dry_run);
	else
		return NULL;
	return why;
}

/* ps_limits_resolve(cfg, id) against want. */
static const char *check_resolved(const struct ps_config *cfg, int id,
				  const struct ps_limits *want, char *why, size_t len)
{
	struct ps_limits l;
	char what[64];

	memset(&l, 0x5a, sizeof(l));
	ps_limits_resolve(cfg, id, &l);
	snprintf(what, sizeof(what), "resolved class %d", id);
	return check_limits(what, &l, want, why, len);
}

/* A prefix, as ps_parse_prefix leaves it. */
static const char *check_prefix(const char *what, const struct ps_prefix *p, uint8_t family,
				uint8_t plen, const uint8_t *addr, char *why, size_t len)
{
	uint8_t want[16] = { 0 };

	memcpy(want, addr, family == PS_AF_INET ? 4 : 16);
	if (p->family != family || p->len != plen || memcmp(p->addr, want, sizeof(want)))
		snprintf(why, len, "%s: family %u length %u, expected %u and %u (or address differs)",
			 what, p->family, p->len, family, plen);
	else
		return NULL;
	return why;
}

static const char *check_class(const struct ps_class_cfg *cls, const char *name, int nclients,
			       char *why, size_t len)
{
	if (strcmp(cls->name, name))
		snprintf(why, len, "class name \"%s\", expected \"%s\"", cls->name, name);
	else if (cls->nclients != nclients)
		snprintf(why, len, "class %s: %d clients, expected %d", name, cls->nclients,
			 nclients);
	else
		return NULL;
	return why;
}

/* The example of the task: every key, two classes. */
static void test_limits_full(void)
{
	static const uint8_t v4[] = { 203, 0, 113, 0 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8 },
			     ten[] = { 10, 0, 0, 0 };
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  default:\n"
		"    requests_per_minute: 600\n"
		"    burst: 20\n"
		"    requests_per_day: 50000\n"
		"    egress_bytes_per_minute: 50MiB\n"
		"    egress_bytes_per_day: 5GiB\n"
		"    max_connections: 32\n"
		"    on_exceed: delay\n"
		"    shape_rate: 2mbit\n"
		"  classes:\n"
		"    - name: partners\n"
		"      clients: [203.0.113.0/24, \"2001:db8::/32\"]\n"
		"      requests_per_minute: 6000\n"
		"    - name: internal\n"
		"      clients: [10.0.0.0/8]\n"
		"      unlimited: true\n"
		"      dry_run: true\n"
		"dry_run: false\n";
	struct ps_limits def, partners, internal, want;
	static struct ps_config cfg;
	char path[512], why[256];
	const char *bad;

	if (!load_ok("limits_full", yaml, &cfg, path, sizeof(path)))
		return;
	no_limits(&def, PS_ON_EXCEED_DELAY, -1, -1);
	def.requests_per_minute = 600;
	def.burst = 20;
	def.requests_per_day = 50000;
	def.egress_bytes_per_minute = 52428800;		/* 50 x 1048576 */
	def.egress_bytes_per_day = 5368709120ULL;	/* 5 x 1073741824 */
	def.max_connections = 32;
	def.shape_rate = 2000000;
	no_limits(&partners, PS_ON_EXCEED_UNSET, -1, -1);
	partners.requests_per_minute = 6000;
	no_limits(&internal, PS_ON_EXCEED_UNSET, 1, 1);

	bad = check_limits("default", &cfg.limits_default, &def, why, sizeof(why));
	if (!bad && (cfg.nclasses != 2 || cfg.dry_run != 0)) {
		snprintf(why, sizeof(why), "%d classes, dry_run %d, expected 2 and 0", cfg.nclasses,
			 cfg.dry_run);
		bad = why;
	}
	if (!bad)
		bad = check_class(&cfg.classes[0], "partners", 2, why, sizeof(why));
	if (!bad)
		bad = check_prefix("partners[0]", &cfg.classes[0].clients[0], PS_AF_INET, 24, v4,
				   why, sizeof(why));
	if (!bad)
		bad = check_prefix("partners[1]", &cfg.classes[0].clients[1], PS_AF_INET6, 32, v6,
				   why, sizeof(why));
	if (!bad)
		bad = check_limits("partners", &cfg.classes[0].limits, &partners, why, sizeof(why));
	if (!bad)
		bad = check_class(&cfg.classes[1], "internal", 1, why, sizeof(why));
	if (!bad)
		bad = check_prefix("internal[0]", &cfg.classes[1].clients[0], PS_AF_INET, 8, ten,
				   why, sizeof(why));
	if (!bad)
		bad = check_limits("internal", &cfg.classes[1].limits, &internal, why, sizeof(why));
	if (bad) {
		fail("limits_full", "%s", bad);
		return;
	}
	pass("limits_full");

	/* the default: as given, not unlimited, the global dry_run */
	want = def;
	want.unlimited = 0;
	want.dry_run = 0;
	bad = check_resolved(&cfg, 0, &want, why, sizeof(why));
	/* partners: its rpm with a burst of 1 (its rate without a burst of its
	 * own, not the default's burst), every other key the default's */
	want.requests_per_minute = 6000;
	want.burst = 1;
	if (!bad)
		bad = check_resolved(&cfg, 1, &want, why, sizeof(why));
	/* internal: no limit at all, its own dry_run */
	no_limits(&want, PS_ON_EXCEED_DELAY, 1, 1);
	if (!bad)
		bad = check_resolved(&cfg, 2, &want, why, sizeof(why));
	/* no such class: the default's */
	want = def;
	want.unlimited = 0;
	want.dry_run = 0;
	if (!bad)
		bad = check_resolved(&cfg, 3, &want, why, sizeof(why));
	if (!bad)
		bad = check_resolved(&cfg, -1, &want, why, sizeof(why));
	if (!bad)
		bad = check_resolved(&cfg, PS_MAX_CLASSES, &want, why, sizeof(why));
	if (bad)
		fail("limits_full_resolve", "%s", bad);
	else
		pass("limits_full_resolve");
}

/* No limits section: no limit, no class, no dry run; and ps_config_init says the same. */
static void test_limits_none(void)
{
	struct ps_limits want, resolved;
	static struct ps_config cfg, init;
	char path[512], why[256];
	const char *bad;

	if (!load_ok("limits_none", "endpoints: [{port: 1}]\n", &cfg, path, sizeof(path)))
		return;
	poison(&init);
	ps_config_init(&init);
	no_limits(&want, PS_ON_EXCEED_DELAY, -1, -1);
	bad = check_limits("default", &cfg.limits_default, &want, why, sizeof(why));
	if (!bad)
		bad = check_limits("init default", &init.limits_default, &want, why, sizeof(why));
	if (!bad && (cfg.nclasses || cfg.dry_run || init.nclasses || init.dry_run)) {
		snprintf(why, sizeof(why), "%d/%d classes, dry_run %d/%d, expected 0", cfg.nclasses,
			 init.nclasses, cfg.dry_run, init.dry_run);
		bad = why;
	}
	no_limits(&want, PS_ON_EXCEED_DELAY, 0, 0);
	if (!bad)
		bad = check_resolved(&cfg, 0, &want, why, sizeof(why));
	if (!bad) {
		ps_limits_resolve(&init, 0, &resolved);
		bad = check_limits("init resolved", &resolved, &want, why, sizeof(why));
	}
	if (bad)
		fail("limits_none", "%s", bad);
	else
		pass("limits_none");
}

/* requests_per_minute alone is a burst of 1, in the default and after inheritance. */
static void test_limits_burst_default(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  classes:\n"
		"    - name: a\n"
		"      clients: [10.0.0.0/8]\n"
		"      requests_per_minute: 100\n"
		"  default:\n"
		"    requests_per_day: 1000\n";
	struct ps_limits want;
	static struct ps_config cfg;
	char path[512], why[256];
	const char *bad;

	if (!load_ok("limits_burst_default", "endpoints: [{port: 1}]\nlimits:\n  default:\n"
		     "    requests_per_minute: 60\n", &cfg, path, sizeof(path)))
		return;
	no_limits(&want, PS_ON_EXCEED_DELAY, -1, -1);
	want.requests_per_minute = 60;
	want.burst = 1;
	bad = check_limits("default", &cfg.limits_default, &want, why, sizeof(why));
	if (bad) {
		fail("limits_burst_default", "%s", bad);
		return;
	}
	pass("limits_burst_default");

	/* the class gives rpm, the default gives none: burst 1 once resolved */
	if (!load_ok("limits_burst_default_class", yaml, &cfg, path, sizeof(path)))
		return;
	no_limits(&want, PS_ON_EXCEED_UNSET, -1, -1);
	want.requests_per_minute = 100;
	bad = check_limits("class", &cfg.classes[0].limits, &want, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_DELAY, 0, 0);
	want.requests_per_minute = 100;
	want.burst = 1;
	want.requests_per_day = 1000;
	if (!bad)
		bad = check_resolved(&cfg, 1, &want, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_DELAY, 0, 0);
	want.requests_per_day = 1000;
	if (!bad)
		bad = check_resolved(&cfg, 0, &want, why, sizeof(why));
	if (bad)
		fail("limits_burst_default_class", "%s", bad);
	else
		pass("limits_burst_default_class");
}

/*
 * Token limits: a class's own tokens_per_minute without token_burst has a
 * minute's tokens at once (unset), not the default's token_burst; a class
 * with only token_burst takes the default's rate; tokens_per_day and
 * token_reserve are inherited alone.
 */
static void test_limits_tokens(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  default:\n"
		"    tokens_per_minute: 1000\n"
		"    token_burst: 5000\n"
		"    tokens_per_day: 100000\n"
		"    token_reserve: 300\n"
		"  classes:\n"
		"    - name: a\n"
		"      clients: [10.0.0.0/8]\n"
		"      tokens_per_minute: 50\n"
		"    - name: b\n"
		"      clients: [10.1.0.0/16]\n"
		"      token_burst: 7\n"
		"      token_reserve: 40\n"
		"    - name: c\n"
		"      clients: [10.2.0.0/16]\n"
		"      unlimited: true\n";
	struct ps_limits want;
	static struct ps_config cfg;
	char path[512], why[256];
	const char *bad;

	if (!load_ok("limits_tokens", yaml, &cfg, path, sizeof(path)))
		return;
	no_limits(&want, PS_ON_EXCEED_DELAY, 0, 0);
	want.tokens_per_minute = 1000;
	want.token_burst = 5000;
	want.tokens_per_day = 100000;
	want.token_reserve = 300;
	bad = check_resolved(&cfg, 0, &want, why, sizeof(why));
	want.tokens_per_minute = 50;
	want.token_burst = U;
	if (!bad)
		bad = check_resolved(&cfg, 1, &want, why, sizeof(why));
	want.tokens_per_minute = 1000;
	want.token_burst = 7;
	want.token_reserve = 40;
	if (!bad)
		bad = check_resolved(&cfg, 2, &want, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_DELAY, 1, 0);
	if (!bad)
		bad = check_resolved(&cfg, 3, &want, why, sizeof(why));
	if (bad)
		fail("limits_tokens", "%s", bad);
	else
		pass("limits_tokens");
}

/* What a class inherits, key by key. */
static void test_limits_inherit(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  default:\n"
		"    requests_per_minute: 600\n"
		"    burst: 20\n"
		"    max_connections: 32\n"
		"    on_exceed: shape\n"
		"    shape_rate: 1.5mbit\n"
		"  classes:\n"
		"    - name: faster\n"			/* one key of its own */
		"      clients: [192.0.2.0/24]\n"
		"      requests_per_minute: 6000\n"
		"    - name: bursty\n"			/* a burst on the default's rpm */
		"      clients: [198.51.100.0/24]\n"
		"      burst: 100\n"
		"    - name: blocked\n"
		"      clients: [\"2001:db8::/32\"]\n"
		"      on_exceed: block\n"
		"      max_connections: 2\n"
		"      shape_rate: 500kbps\n"
		"    - name: shaped\n"			/* shape on the default's shape_rate */
		"      clients: [192.0.2.128/32]\n"
		"      on_exceed: shape\n"
		"    - name: free\n"
		"      clients: [10.0.0.0/8]\n"
		"      unlimited: true\n"
		"    - name: not free\n"		/* inside free's prefix: allowed */
		"      clients: [10.1.0.0/16]\n"
		"      unlimited: false\n"
		"      egress_bytes_per_day: 1GB\n";
	struct ps_limits def, want;
	static struct ps_config cfg;
	char path[512], why[256];
	const char *bad;

	if (!load_ok("limits_inherit", yaml, &cfg, path, sizeof(path)))
		return;
	no_limits(&def, PS_ON_EXCEED_SHAPE, 0, 0);
	def.requests_per_minute = 600;
	def.burst = 20;
	def.max_connections = 32;
	def.shape_rate = 1500000;

	no_limits(&want, PS_ON_EXCEED_UNSET, -1, -1);
	want.requests_per_minute = 6000;
	bad = cfg.nclasses != 6 ? "not 6 classes" :
	      check_limits("faster as written", &cfg.classes[0].limits, &want, why, sizeof(why));
	/* its own rate without a burst: a burst of 1, not the default's 20 */
	want = def;
	want.requests_per_minute = 6000;
	want.burst = 1;
	if (!bad)
		bad = check_resolved(&cfg, 1, &want, why, sizeof(why));
	want = def;
	want.burst = 100;
	if (!bad)
		bad = check_resolved(&cfg, 2, &want, why, sizeof(why));
	want = def;
	want.on_exceed = PS_ON_EXCEED_BLOCK;
	want.max_connections = 2;
	want.shape_rate = 4000000;	/* 500 x 1000 x 8 */
	if (!bad)
		bad = check_resolved(&cfg, 3, &want, why, sizeof(why));
	want = def;
	if (!bad)
		bad = check_resolved(&cfg, 4, &want, why, sizeof(why));
	/* unlimited: every number unset; on_exceed stays the inherited one */
	no_limits(&want, PS_ON_EXCEED_SHAPE, 1, 0);
	if (!bad)
		bad = check_resolved(&cfg, 5, &want, why, sizeof(why));
	want = def;
	want.egress_bytes_per_day = 1000000000;
	if (!bad)
		bad = check_resolved(&cfg, 6, &want, why, sizeof(why));
	if (!bad && (cfg.classes[5].limits.unlimited != 0 || strcmp(cfg.classes[5].name, "not free")))
		bad = "class 'not free': unlimited is not 0";
	if (bad)
		fail("limits_inherit", "%s", bad);
	else
		pass("limits_inherit");
}

/* The global dry_run, and a class's own. */
static void test_limits_dry_run(void)
{
	const char *yaml =
		"dry_run: true\n"
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  classes:\n"
		"    - {name: a, clients: [10.0.0.0/8], dry_run: false}\n"
		"    - {name: b, clients: [10.1.0.0/16]}\n"
		"    - {name: c, clients: [10.2.0.0/16], dry_run: true, unlimited: true}\n";
	const char *yaml2 =
		"endpoints: [{port: 1}]\n"
		"dry_run: false\n"
		"limits:\n"
		"  classes:\n"
		"    - {name: a, clients: [10.0.0.0/8], dry_run: true}\n"
		"    - {name: b, clients: [10.1.0.0/16], dry_run: false}\n"
		"    - {name: c, clients: [10.2.0.0/16]}\n";
	static const int want1[] = { 1, 0, 1, 1 }, raw1[] = { 0, -1, 1 };
	static const int want2[] = { 0, 1, 0, 0 }, raw2[] = { 1, 0, -1 };
	struct ps_limits l;
	static struct ps_config cfg;
	char path[512];
	int i;

	if (!load_ok("limits_dry_run_global", yaml, &cfg, path, sizeof(path)))
		return;
	for (i = 0; i <= 3; i++) {
		ps_limits_resolve(&cfg, i, &l);
		if (l.dry_run != want1[i] || (i && cfg.classes[i - 1].limits.dry_run != raw1[i - 1])) {
			fail("limits_dry_run_global", "class %d: dry_run %d, expected %d", i,
			     l.dry_run, want1[i]);
			return;
		}
	}
	if (cfg.dry_run != 1)
		fail("limits_dry_run_global", "dry_run %d, expected 1", cfg.dry_run);
	else
		pass("limits_dry_run_global");

	if (!load_ok("limits_dry_run_class", yaml2, &cfg, path, sizeof(path)))
		return;
	for (i = 0; i <= 3; i++) {
		ps_limits_resolve(&cfg, i, &l);
		if (l.dry_run != want2[i] || (i && cfg.classes[i - 1].limits.dry_run != raw2[i - 1])) {
			fail("limits_dry_run_class", "class %d: dry_run %d, expected %d", i,
			     l.dry_run, want2[i]);
			return;
		}
	}
	if (cfg.dry_run != 0)
		fail("limits_dry_run_class", "dry_run %d, expected 0", cfg.dry_run);
	else
		pass("limits_dry_run_class");
}

/* Sizes, rates and prefixes as they may be written. */
static void test_limits_forms(void)
{
	static const uint8_t a0[] = { 192, 0, 2, 1 }, a1[16] = { 0x20, 0x01, 0x0d, 0xb8 },
			     a2[16] = { 0 }, a3[4] = { 0 }, a4[16] = { 0xfd, [15] = 1 },
			     a5[16] = { [15] = 1 }, b0[] = { 198, 51, 100, 7 };
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  default:\n"
		"    egress_bytes_per_minute: 1000\n"
		"    egress_bytes_per_day: \"5GiB\"\n"
		"    shape_rate: '500kbps'\n"
		"  classes:\n"
		"    - name: a\n"
		"      clients:\n"
		"        - 192.0.2.1\n"
		"        - 2001:db8::/32\n"
		"        - '::/0'\n"
		"        - \"0.0.0.0/0\"\n"
		"        - fd00::1\n"
		"        - ::1/128\n"
		"      egress_bytes_per_minute: 1kb\n"
		"      egress_bytes_per_day: 18446744073709551614\n"
		"      shape_rate: 1.5gbit\n"
		"    - name: b\n"
		"      clients: [198.51.100.7]\n"
		"      egress_bytes_per_minute: '1000'\n"	/* a size, not an INT: quotes are fine */
		"      egress_bytes_per_day: 1TiB\n"
		"      shape_rate: 2MBIT\n"
		"      on_exceed: \"block\"\n"		/* a name: quotes are fine */
		"      requests_per_day: 1000000000000\n";
	static struct ps_config cfg;
	char path[512], why[256];
	const char *bad = NULL;
	const struct ps_class_cfg *a = &cfg.classes[0], *b = &cfg.classes[1];

	if (!load_ok("limits_forms", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.limits_default.egress_bytes_per_minute != 1000 ||
	    cfg.limits_default.egress_bytes_per_day != 5368709120ULL ||
	    cfg.limits_default.shape_rate != 4000000)
		bad = "default: a size or rate differs";
	else if (check_class(a, "a", 6, why, sizeof(why)) ||
		 check_prefix("a[0]", &a->clients[0], PS_AF_INET, 32, a0, why, sizeof(why)) ||
		 check_prefix("a[1]", &a->clients[1], PS_AF_INET6, 32, a1, why, sizeof(why)) ||
		 check_prefix("a[2]", &a->clients[2], PS_AF_INET6, 0, a2, why, sizeof(why)) ||
		 check_prefix("a[3]", &a->clients[3], PS_AF_INET, 0, a3, why, sizeof(why)) ||
		 check_prefix("a[4]", &a->clients[4], PS_AF_INET6, 128, a4, why, sizeof(why)) ||
		 check_prefix("a[5]", &a->clients[5], PS_AF_INET6, 128, a5, why, sizeof(why)))
		bad = why;
	else if (a->limits.egress_bytes_per_minute != 1000 ||
		 a->limits.egress_bytes_per_day != 18446744073709551614ULL ||
		 a->limits.shape_rate != 1500000000)
		bad = "class a: a size or rate differs";
	else if (check_class(b, "b", 1, why, sizeof(why)) ||
		 check_prefix("b[0]", &b->clients[0], PS_AF_INET, 32, b0, why, sizeof(why)))
		bad = why;
	else if (b->limits.egress_bytes_per_minute != 1000 ||
		 b->limits.egress_bytes_per_day != 1099511627776ULL ||
		 b->limits.shape_rate != 2000000 || b->limits.requests_per_day != 1000000000000ULL ||
		 b->limits.on_exceed != PS_ON_EXCEED_BLOCK)
		bad = "class b: a size, rate or number differs";
	if (bad)
		fail("limits_forms", "%s", bad);
	else
		pass("limits_forms");
}

/* Empty values keep the defaults, as for every optional key. */
static void test_limits_nulls(void)
{
	static const char *const yamls[] = {
		"endpoints: [{port: 1}]\nlimits:\ndry_run:\n",
		"endpoints: [{port: 1}]\nlimits: {}\n",
		"endpoints: [{port: 1}]\nlimits:\n  default:\n  classes:\n",
		"endpoints: [{port: 1}]\nlimits:\n  default: {}\n  classes: []\n",
		"endpoints: [{port: 1}]\nlimits:\n  default:\n    burst:\n    on_exceed: ~\n",
	};
	struct ps_limits want;
	static struct ps_config cfg;
	char path[512], why[256];
	size_t i;

	no_limits(&want, PS_ON_EXCEED_DELAY, -1, -1);
	for (i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
		if (!load_ok("limits_nulls", yamls[i], &cfg, path, sizeof(path)))
			return;
		if (check_limits("default", &cfg.limits_default, &want, why, sizeof(why))) {
			fail("limits_nulls", "snippet %zu: %s", i, why);
			return;
		}
		if (cfg.nclasses || cfg.dry_run) {
			fail("limits_nulls", "snippet %zu: %d classes, dry_run %d", i, cfg.nclasses,
			     cfg.dry_run);
			return;
		}
	}
	/* an empty limit beside unlimited: true is no limit */
	if (!load_ok("limits_nulls", "endpoints: [{port: 1}]\nlimits:\n  classes:\n"
		     "    - name: a\n      clients: [10.0.0.0/8]\n      unlimited: true\n"
		     "      burst:\n      dry_run:\n", &cfg, path, sizeof(path)))
		return;
	no_limits(&want, PS_ON_EXCEED_UNSET, 1, -1);
	if (check_limits("class", &cfg.classes[0].limits, &want, why, sizeof(why)))
		fail("limits_nulls", "%s", why);
	else
		pass("limits_nulls");
}

/* Every bound of the limits at its largest accepted value. */
static void test_limits_max(void)
{
	static const char name31[] = "abcdefghijklmnopqrstuvwxyz01234";
	char *yaml, path[512];
	static struct ps_config cfg;
	size_t o = 0, len = 1 << 16;
	const struct ps_limits *l;
	const struct ps_prefix *last;
	int i;

	yaml = malloc(len);
	if (!yaml) {
		fail("limits_max", "out of memory");
		return;
	}
	o += snprintf(yaml + o, len - o,
		      "endpoints: [{port: 1}]\nlimits:\n  default:\n"
		      "    requests_per_minute: 10000000\n    burst: 1000000\n"
		      "    requests_per_day: 1000000000000\n"
		      "    egress_bytes_per_minute: 18446744073709551614\n"
		      "    egress_bytes_per_day: 18446744073709551614B\n"
		      "    max_connections: 1000000\n    on_exceed: shape\n"
		      "    shape_rate: 18446744073709551614bit\n"
		      "  classes:\n    - name: %s\n      clients:\n", name31);
	for (i = 0; i < PS_MAX_CLASS_PREFIXES; i++)
		o += snprintf(yaml + o, len - o, "        - 10.0.%d.%d\n", i / 256, i % 256);
	for (i = 1; i < PS_MAX_CLASSES - 1; i++)
		o += snprintf(yaml + o, len - o, "    - {name: c%d, clients: [10.1.%d.0/24]}\n", i, i);
	if (!load_ok("limits_max", yaml, &cfg, path, sizeof(path))) {
		free(yaml);
		return;
	}
	free(yaml);
	l = &cfg.limits_default;
	last = &cfg.classes[PS_MAX_CLASSES - 2].clients[0];
	if (l->requests_per_minute != 10000000 || l->burst != 1000000 ||
	    l->requests_per_day != 1000000000000ULL ||
	    l->egress_bytes_per_minute != 18446744073709551614ULL ||
	    l->egress_bytes_per_day != 18446744073709551614ULL || l->max_connections != 1000000 ||
	    l->on_exceed != PS_ON_EXCEED_SHAPE || l->shape_rate != 18446744073709551614ULL)
		fail("limits_max", "a default limit differs");
	else if (cfg.nclasses != PS_MAX_CLASSES - 1 || strcmp(cfg.classes[0].name, name31) ||
		 cfg.classes[0].nclients != PS_MAX_CLASS_PREFIXES)
		fail("limits_max", "%d classes, first \"%s\" with %d clients", cfg.nclasses,
		     cfg.classes[0].name, cfg.classes[0].nclients);
	else if (cfg.classes[0].clients[255].addr[2] != 0 ||
		 cfg.classes[0].clients[255].addr[3] != 255 ||
		 strcmp(cfg.classes[62].name, "c62") || last->addr[2] != 62 || last->len != 24)
		fail("limits_max", "the last prefix or class differs");
	else
		pass("limits_max");
}

/* Lists one entry too long, made here rather than written out. */
static void test_limits_too_many(void)
{
	char *yaml;
	struct err_case t;
	size_t o = 0, len = 1 << 16;
	int i;

	yaml = malloc(len);
	if (!yaml) {
		fail("too_many_classes", "out of memory");
		return;
	}
	/* class i is on line 4 + i: the 64th (i = 63) on line 67, its '{' in column 7 */
	o = snprintf(yaml, len, CLASSES);
	for (i = 0; i < PS_MAX_CLASSES; i++)
		o += snprintf(yaml + o, len - o, "    - {name: c%d, clients: [10.%d.0.0/16]}\n", i, i);
	t = (struct err_case){ "too_many_classes", yaml, -EINVAL,
			       "67:7: limits.classes: got 64 entries, expected a list of 0..63 classes" };
	run_err_case(&t);

	/* prefix i is on line 6 + i: the 257th (i = 256) on line 262, in column 11 */
	o = snprintf(yaml, len, CLASSES "    - name: a\n      clients:\n");
	for (i = 0; i <= PS_MAX_CLASS_PREFIXES; i++)
		o += snprintf(yaml + o, len - o, "        - 10.0.%d.%d\n", i / 256, i % 256);
	t = (struct err_case){ "too_many_prefixes", yaml, -EINVAL,
			       "262:11: limits.classes[0].clients: got 257 entries, expected a list of 1..256 prefixes" };
	run_err_case(&t);
	free(yaml);
}

/*
 * The example's limits section, uncommented as it says: remove the first
 * '#' of every line from "#limits:" to the end of the file.
 */
static void test_example_limits(void)
{
	static const uint8_t partners0[] = { 203, 0, 113, 0 },
			     partners1[16] = { 0x20, 0x01, 0x0d, 0xb8 }, internal0[4] = { 10 },
			     internal1[16] = { 0xfd }, trial0[] = { 198, 51, 100, 0 },
			     evals0[] = { 192, 0, 2, 0 };
	char src[8192], path[512], line[1024], err[1024], why[256];
	struct ps_limits want;
	static struct ps_config cfg;
	const char *bad = NULL;
	bool in = false;
	FILE *in_f, *out_f;
	int i, rc;

	example_path(src, sizeof(src));
	snprintf(path, sizeof(path), "%s/example_limits.yaml", tmpdir);
	in_f = fopen(src, "r");
	out_f = fopen(path, "w");
	if (!in_f || !out_f) {
		fail("example_limits", "cannot open %s or %s", src, path);
		if (in_f)
			fclose(in_f);
		if (out_f)
			fclose(out_f);
		return;
	}
	while (fgets(line, sizeof(line), in_f)) {
		in = in || !strncmp(line, "#limits:", 8);
		fputs(in && line[0] == '#' ? line + 1 : line, out_f);
	}
	fclose(in_f);
	fclose(out_f);
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	if (!in) {
		fail("example_limits", "no \"#limits:\" line in %s", src);
		return;
	}
	if (rc) {
		fail("example_limits", "%s", err);
		return;
	}
	no_limits(&want, PS_ON_EXCEED_DELAY, -1, -1);
	want.requests_per_minute = 600;
	want.burst = 20;
	want.requests_per_day = 50000;
	want.egress_bytes_per_minute = 52428800;
	want.egress_bytes_per_day = 5368709120ULL;
	want.max_connections = 32;
	want.shape_rate = 2000000;
	want.tokens_per_minute = 200000;
	want.token_burst = 400000;
	want.tokens_per_day = 20000000;
	bad = check_limits("default", &cfg.limits_default, &want, why, sizeof(why));
	if (!bad && (cfg.nclasses != 4 || cfg.dry_run != 0))
		bad = "not 4 classes and dry_run false";
	if (!bad)
		bad = check_class(&cfg.classes[0], "partners", 2, why, sizeof(why));
	if (!bad)
		bad = check_prefix("partners[0]", &cfg.classes[0].clients[0], PS_AF_INET, 24,
				   partners0, why, sizeof(why));
	if (!bad)
		bad = check_prefix("partners[1]", &cfg.classes[0].clients[1], PS_AF_INET6, 32,
				   partners1, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_UNSET, -1, -1);
	want.requests_per_minute = 6000;
	want.burst = 100;
	if (!bad)
		bad = check_limits("partners", &cfg.classes[0].limits, &want, why, sizeof(why));
	if (!bad)
		bad = check_class(&cfg.classes[1], "internal", 2, why, sizeof(why));
	if (!bad)
		bad = check_prefix("internal[0]", &cfg.classes[1].clients[0], PS_AF_INET, 8,
				   internal0, why, sizeof(why));
	if (!bad)
		bad = check_prefix("internal[1]", &cfg.classes[1].clients[1], PS_AF_INET6, 8,
				   internal1, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_UNSET, 1, -1);
	if (!bad)
		bad = check_limits("internal", &cfg.classes[1].limits, &want, why, sizeof(why));
	if (!bad)
		bad = check_class(&cfg.classes[2], "trial", 1, why, sizeof(why));
	if (!bad)
		bad = check_prefix("trial[0]", &cfg.classes[2].clients[0], PS_AF_INET, 24, trial0,
				   why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_BLOCK, -1, 1);
	if (!bad)
		bad = check_limits("trial", &cfg.classes[2].limits, &want, why, sizeof(why));
	if (!bad)
		bad = check_class(&cfg.classes[3], "evals", 1, why, sizeof(why));
	if (!bad)
		bad = check_prefix("evals[0]", &cfg.classes[3].clients[0], PS_AF_INET, 24, evals0,
				   why, sizeof(why));
	/* exempt only: no limit of its own, not alert_only */
	no_limits(&want, PS_ON_EXCEED_UNSET, -1, -1);
	if (!bad)
		bad = check_limits("evals", &cfg.classes[3].limits, &want, why, sizeof(why));
	for (i = 0; !bad && i < 4; i++)
		if (cfg.classes[i].exempt != (i == 3) || cfg.classes[i].alert_only)
			bad = "only evals is exempt, none is alert_only";
	if (bad)
		fail("example_limits", "%s", bad);
	else
		pass("example_limits");
}

/* The alerts settings, against want: the first field that differs, or NULL. */
static const char *check_alerts(const struct ps_alerts_cfg *a, const struct ps_alerts_cfg *want,
				char *why, size_t len)
{
	why[0] = 0;
	if (a->to_stderr != want->to_stderr)
		snprintf(why, len, "stderr %d, expected %d", a->to_stderr, want->to_stderr);
	else if (strcmp(a->jsonl.path, want->jsonl.path))
		snprintf(why, len, "jsonl.path \"%.100s\", expected \"%.100s\"", a->jsonl.path,
			 want->jsonl.path);
	else if (a->jsonl.max_bytes != want->jsonl.max_bytes || a->jsonl.keep != want->jsonl.keep)
		snprintf(why, len, "jsonl max_bytes %llu keep %d, expected %llu and %d",
			 (unsigned long long)a->jsonl.max_bytes, a->jsonl.keep,
			 (unsigned long long)want->jsonl.max_bytes, want->jsonl.keep);
	else if (strcmp(a->webhook.url, want->webhook.url) ||
		 strcmp(a->webhook.spool_dir, want->webhook.spool_dir))
		snprintf(why, len, "webhook url \"%.60s\" spool_dir \"%.60s\", expected \"%.60s\" and \"%.60s\"",
			 a->webhook.url, a->webhook.spool_dir, want->webhook.url,
			 want->webhook.spool_dir);
	else if (a->webhook.timeout != want->webhook.timeout ||
		 a->webhook.max_spool != want->webhook.max_spool ||
		 a->webhook.max_backoff != want->webhook.max_backoff)
		snprintf(why, len, "webhook timeout %llu max_spool %llu max_backoff %llu, expected "
			 "%llu, %llu and %llu", (unsigned long long)a->webhook.timeout,
			 (unsigned long long)a->webhook.max_spool,
			 (unsigned long long)a->webhook.max_backoff,
			 (unsigned long long)want->webhook.timeout,
			 (unsigned long long)want->webhook.max_spool,
			 (unsigned long long)want->webhook.max_backoff);
	else if (a->keep_in_memory != want->keep_in_memory)
		snprintf(why, len, "keep_in_memory %d, expected %d", a->keep_in_memory,
			 want->keep_in_memory);
	return why[0] ? why : NULL;
}

/* What the documentation promises when alerts, or a sink's key, is not given. */
static void alerts_defaults(struct ps_alerts_cfg *a)
{
	memset(a, 0, sizeof(*a));
	a->to_stderr = 1;
	a->jsonl.max_bytes = 10485760;	/* 10MiB */
	a->jsonl.keep = 5;
	snprintf(a->webhook.spool_dir, sizeof(a->webhook.spool_dir), "/var/lib/penstock/spool");
	a->webhook.timeout = 5;
	a->webhook.max_spool = 104857600;	/* 100MiB */
	a->webhook.max_backoff = 60;
	a->keep_in_memory = 1000;
}

static void test_alerts_defaults(void)
{
	static const char *const yamls[] = {
		"endpoints: [{port: 1}]\n",
		"endpoints: [{port: 1}]\nalerts:\n",
		"endpoints: [{port: 1}]\nalerts: {}\n",
		"endpoints: [{port: 1}]\nalerts:\n  stderr:\n  jsonl:\n  webhook: ~\n  keep_in_memory:\n",
	};
	struct ps_alerts_cfg want;
	static struct ps_config cfg;
	char path[512], why[512];
	size_t i;

	alerts_defaults(&want);
	ps_config_init(&cfg);
	if (check_alerts(&cfg.alerts, &want, why, sizeof(why))) {
		fail("alerts_defaults", "ps_config_init: %s", why);
		return;
	}
	for (i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
		if (!load_ok("alerts_defaults", yamls[i], &cfg, path, sizeof(path)))
			return;
		if (check_alerts(&cfg.alerts, &want, why, sizeof(why))) {
			fail("alerts_defaults", "snippet %zu: %s", i, why);
			return;
		}
	}
	pass("alerts_defaults");
}

/* The example of docs/control-protocol.md (Alerts), and every key at a bound. */
static void test_alerts_full(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"alerts:\n"
		"  stderr: true\n"
		"  jsonl: {path: /var/log/penstock/alerts.jsonl, max_bytes: 10MiB, keep: 5}\n"
		"  webhook: {url: \"http://127.0.0.1:9093/api/v2/alerts\", spool_dir: /var/lib/penstock/spool, timeout: 5s, max_spool: 100MiB}\n"
		"  keep_in_memory: 1000      # for `penstock alerts`\n";
	const char *bounds =
		"endpoints: [{port: 1}]\n"
		"alerts:\n"
		"  stderr: false\n"
		"  jsonl:\n"
		"    path: /\n"
		"    max_bytes: 1TiB\n"
		"    keep: 0\n"
		"  webhook:\n"
		"    url: HTTPS://alertmanager.example:9093/api/v2/alerts?x=1\n"
		"    spool_dir: '/spool dir'\n"
		"    timeout: 5m\n"
		"    max_spool: 1MiB\n"
		"    max_backoff: 1h\n"
		"  keep_in_memory: 0\n";
	struct ps_alerts_cfg want;
	static struct ps_config cfg;
	char path[512], why[512];

	alerts_defaults(&want);
	snprintf(want.jsonl.path, sizeof(want.jsonl.path), "/var/log/penstock/alerts.jsonl");
	snprintf(want.webhook.url, sizeof(want.webhook.url), "http://127.0.0.1:9093/api/v2/alerts");
	if (load_ok("alerts_full", yaml, &cfg, path, sizeof(path))) {
		if (check_alerts(&cfg.alerts, &want, why, sizeof(why)))
			fail("alerts_full", "%s", why);
		else
			pass("alerts_full");
	}

	memset(&want, 0, sizeof(want));
	snprintf(want.jsonl.path, sizeof(want.jsonl.path), "/");
	want.jsonl.max_bytes = 1099511627776ULL;
	snprintf(want.webhook.url, sizeof(want.webhook.url),
		 "HTTPS://alertmanager.example:9093/api/v2/alerts?x=1");
	snprintf(want.webhook.spool_dir, sizeof(want.webhook.spool_dir), "/spool dir");
	want.webhook.timeout = 300;
	want.webhook.max_spool = 1048576;
	want.webhook.max_backoff = 3600;
	if (load_ok("alerts_bounds", bounds, &cfg, path, sizeof(path))) {
		if (check_alerts(&cfg.alerts, &want, why, sizeof(why)))
			fail("alerts_bounds", "%s", why);
		else
			pass("alerts_bounds");
	}
}

/* A path of 1023 bytes fits; 1024 is too long. */
static void test_alerts_long_path(void)
{
	char yaml[2200], xs[1024], want[1024], path[512], err[1024];
	static struct ps_config cfg;
	int rc;

	memset(xs, 'x', sizeof(xs));
	snprintf(yaml, sizeof(yaml), ALERTS "  jsonl: {path: /%.*s}\n", 1022, xs);
	if (load_ok("alerts_path_1023", yaml, &cfg, path, sizeof(path))) {
		if (strlen(cfg.alerts.jsonl.path) != 1023)
			fail("alerts_path_1023", "a path of %zu bytes", strlen(cfg.alerts.jsonl.path));
		else
			pass("alerts_path_1023");
	}
	/* One more x: the message quotes the first 40 characters. */
	snprintf(yaml, sizeof(yaml), ALERTS "  jsonl: {path: /%.*s}\n", 1023, xs);
	rc = write_yaml("alerts_path_1024", yaml, strlen(yaml), path, sizeof(path));
	if (!rc)
		rc = ps_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	snprintf(want, sizeof(want),
		 "%s:3:17: alerts.jsonl.path: '/%.39s...' is 1024 characters long, expected " ABS_WANT,
		 path, xs);
	if (rc != -EINVAL)
		fail("alerts_path_1024", "returned %d: %s", rc, err);
	else if (strcmp(err, want))
		fail("alerts_path_1024", "message \"%s\", expected \"%s\"", err, want);
	else
		pass("alerts_path_1024");
}

/* ---- detection: good values ---- */

/* What config.h promises when detection, or any of its keys, is not given. */
static void detection_defaults(struct ps_detection_cfg *d)
{
	memset(d, 0, sizeof(*d));
	d->enabled = 1;
	d->interval = 10;
	d->min_population = 20;
	d->zscore = 3.5;
	d->high_rate.enabled = 1;
	d->high_rate.requests_per_minute = 15;
	d->prefix.enabled = 1;
	d->prefix.min_clients = 10;
	d->prefix.requests_per_hour = 300;
	d->low_and_slow.enabled = 1;
	d->low_and_slow.min_history = 3 * 3600;
	d->low_and_slow.duty_cycle = 0.9;
	d->low_and_slow.max_cv = 0.3;
	d->low_and_slow.requests_per_hour = 120;
	d->surge.enabled = 1;
	d->surge.factor = 5;
	d->surge.min_history = 3 * 3600;
	d->surge.requests_per_hour = 120;
	d->ratio.enabled = 1;
	d->ratio.min_ratio = 25;
	d->ratio.min_requests = 100;
	d->thresholds = (struct ps_thresholds){ U, U, U, U, U };
	d->nsteps = 4;
	/* what an action does not use is 0 */
	d->steps[0] = (struct ps_step_cfg){ .action = PS_STEP_ALERT, .cooldown = 300 };
	d->steps[1] = (struct ps_step_cfg){ .action = PS_STEP_SHAPE, .duration = 3600,
					    .cooldown = 600, .rate = 4000000 };
	d->steps[2] = (struct ps_step_cfg){ .action = PS_STEP_DELAY, .duration = 3600,
					    .cooldown = 600, .requests_per_minute = 10 };
	d->steps[3] = (struct ps_step_cfg){ .action = PS_STEP_BLOCK, .duration = 3600,
					    .cooldown = 600 };
	d->forget = 6 * 3600;
}

/* Thresholds against want: the first that differs, or NULL. */
static const char *check_thresholds(const char *what, const struct ps_thresholds *t,
				    const struct ps_thresholds *want, char *why, size_t len)
{
#define TF(f)	{ #f, offsetof(struct ps_thresholds, f) }
	static const struct {
		const char *name;
		size_t off;
	} nums[] = {
		TF(requests_per_minute), TF(requests_per_hour), TF(requests_per_day),
		TF(tx_payload_per_hour), TF(tx_payload_per_day),
	};
#undef TF
	char a[32], b[32];
	uint64_t x, y;
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		memcpy(&x, (const char *)t + nums[i].off, sizeof(x));
		memcpy(&y, (const char *)want + nums[i].off, sizeof(y));
		if (x != y) {
			snprintf(why, len, "%s: %s %s, expected %s", what, nums[i].name,
				 num_text(x, a, sizeof(a)), num_text(y, b, sizeof(b)));
			return why;
		}
	}
	return NULL;
}

/* A detection section against want: the first field that differs, or NULL. */
static const char *check_detection(const struct ps_detection_cfg *d,
				   const struct ps_detection_cfg *want, char *why, size_t len)
{
#define DF(f, t)	{ #f, offsetof(struct ps_detection_cfg, f), t }
	static const struct {
		const char *name;
		size_t off;
		char type;	/* i: int, u: uint64_t, d: double */
	} fields[] = {
		DF(enabled, 'i'), DF(interval, 'u'), DF(min_population, 'u'), DF(zscore, 'd'),
		DF(high_rate.enabled, 'i'), DF(high_rate.requests_per_minute, 'u'),
		DF(prefix.enabled, 'i'), DF(prefix.min_clients, 'u'),
		DF(prefix.requests_per_hour, 'u'),
		DF(low_and_slow.enabled, 'i'), DF(low_and_slow.min_history, 'u'),
		DF(low_and_slow.duty_cycle, 'd'), DF(low_and_slow.max_cv, 'd'),
		DF(low_and_slow.requests_per_hour, 'u'),
		DF(surge.enabled, 'i'), DF(surge.factor, 'd'), DF(surge.min_history, 'u'),
		DF(surge.requests_per_hour, 'u'),
		DF(ratio.enabled, 'i'), DF(ratio.min_ratio, 'd'), DF(ratio.min_requests, 'u'),
		DF(nsteps, 'i'), DF(forget, 'u'),
	};
#undef DF
	const char *a = (const char *)d, *b = (const char *)want;
	const struct ps_step_cfg *s, *w;
	static const struct ps_step_cfg zero;
	char x[32], y[32];
	uint64_t u, v;
	double f, g;
	size_t i;
	int m, n;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		switch (fields[i].type) {
		case 'i':
			memcpy(&m, a + fields[i].off, sizeof(m));
			memcpy(&n, b + fields[i].off, sizeof(n));
			if (m != n) {
				snprintf(why, len, "%s %d, expected %d", fields[i].name, m, n);
				return why;
			}
			break;
		case 'u':
			memcpy(&u, a + fields[i].off, sizeof(u));
			memcpy(&v, b + fields[i].off, sizeof(v));
			if (u != v) {
				snprintf(why, len, "%s %s, expected %s", fields[i].name,
					 num_text(u, x, sizeof(x)), num_text(v, y, sizeof(y)));
				return why;
			}
			break;
		case 'd':
			memcpy(&f, a + fields[i].off, sizeof(f));
			memcpy(&g, b + fields[i].off, sizeof(g));
			if (f != g) {
				snprintf(why, len, "%s %.17g, expected %.17g", fields[i].name, f, g);
				return why;
			}
			break;
		}
	}
	if (check_thresholds("thresholds", &d->thresholds, &want->thresholds, why, len))
		return why;
	for (n = 0; n < PS_MAX_STEPS; n++) {
		s = &d->steps[n];
		w = n < want->nsteps ? &want->steps[n] : &zero;
		if (s->action != w->action || s->duration != w->duration ||
		    s->cooldown != w->cooldown || s->rate != w->rate ||
		    s->requests_per_minute != w->requests_per_minute) {
			snprintf(why, len,
				 "steps[%d]: action %d for %llu cooldown %llu rate %llu rpm %llu, expected %d, %llu, %llu, %llu, %llu%s",
				 n, s->action, (unsigned long long)s->duration,
				 (unsigned long long)s->cooldown, (unsigned long long)s->rate,
				 (unsigned long long)s->requests_per_minute, w->action,
				 (unsigned long long)w->duration, (unsigned long long)w->cooldown,
				 (unsigned long long)w->rate,
				 (unsigned long long)w->requests_per_minute,
				 n < want->nsteps ? "" : " (past nsteps: all 0)");
			return why;
		}
	}
	return NULL;
}

/* No detection section, or one with nothing in it: every default. */
static void test_detection_defaults(void)
{
	static const char *const yamls[] = {
		"endpoints: [{port: 1}]\n",
		"endpoints: [{port: 1}]\ndetection:\n",
		"endpoints: [{port: 1}]\ndetection: {}\n",
		"endpoints: [{port: 1}]\ndetection:\n  enabled:\n  interval:\n  min_population: ~\n"
		"  zscore: null\n  high_rate:\n  prefix: {}\n  low_and_slow:\n  surge:\n  ratio:\n"
		"  thresholds:\n  escalation:\n",
		"endpoints: [{port: 1}]\ndetection:\n  high_rate: {enabled: , requests_per_minute: }\n"
		"  prefix: {enabled: ~, min_clients: ~, requests_per_hour: ~}\n"
		"  low_and_slow: {enabled: ~, min_history: ~, duty_cycle: ~, max_cv: ~, requests_per_hour: ~}\n"
		"  surge: {enabled: ~, factor: ~, min_history: ~, requests_per_hour: ~}\n"
		"  ratio: {enabled: ~, min_ratio: ~, min_requests: ~}\n"
		"  thresholds: {requests_per_minute: ~, requests_per_hour: ~, requests_per_day: ~,"
		" tx_payload_per_hour: ~, tx_payload_per_day: ~}\n"
		"  escalation:\n    forget:\n    steps:\n",
	};
	struct ps_detection_cfg want;
	static struct ps_config cfg;
	char path[512], why[512];
	size_t i;

	detection_defaults(&want);
	poison(&cfg);
	ps_config_init(&cfg);
	if (check_detection(&cfg.detection, &want, why, sizeof(why))) {
		fail("detection_defaults", "ps_config_init: %s", why);
		return;
	}
	for (i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
		if (!load_ok("detection_defaults", yamls[i], &cfg, path, sizeof(path)))
			return;
		if (check_detection(&cfg.detection, &want, why, sizeof(why))) {
			fail("detection_defaults", "snippet %zu: %s", i, why);
			return;
		}
	}
	pass("detection_defaults");
}

/* Every key given, none at its default. */
static void test_detection_full(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"detection:\n"
		"  enabled: false\n"
		"  interval: 30s\n"
		"  min_population: 50\n"
		"  zscore: 4.25\n"
		"  high_rate:     {enabled: false, requests_per_minute: 60}\n"
		"  prefix:        {enabled: false, min_clients: 5, requests_per_hour: 1000}\n"
		"  low_and_slow:  {enabled: false, min_history: 6h, duty_cycle: 0.75, max_cv: 0.5,"
		" requests_per_hour: 60}\n"
		"  surge:         {enabled: false, factor: 10, min_history: 2h, requests_per_hour: 240}\n"
		"  ratio:         {enabled: false, min_ratio: 50.5, min_requests: 1000}\n"
		"  thresholds:    {requests_per_minute: 100, requests_per_hour: 3000,"
		" requests_per_day: 20000, tx_payload_per_hour: 100MiB, tx_payload_per_day: 2GiB}\n"
		"  escalation:\n"
		"    forget: 12h\n"
		"    steps:\n"
		"      - {action: alert, cooldown: 0s}\n"
		"      - {action: delay, requests_per_minute: 30, for: 30m, cooldown: 1h}\n"
		"      - {action: shape, rate: 1.5mbit, for: 2h, cooldown: 15m}\n"
		"      - action: block\n"
		"        for: 1d\n"
		"        cooldown: 1d\n"
		"      - {action: block}\n";
	struct ps_detection_cfg want;
	static struct ps_config cfg;
	char path[512], why[512];

	if (!load_ok("detection_full", yaml, &cfg, path, sizeof(path)))
		return;
	memset(&want, 0, sizeof(want));
	want.interval = 30;
	want.min_population = 50;
	want.zscore = 4.25;
	want.high_rate.requests_per_minute = 60;
	want.prefix.min_clients = 5;
	want.prefix.requests_per_hour = 1000;
	want.low_and_slow.min_history = 6 * 3600;
	want.low_and_slow.duty_cycle = 0.75;
	want.low_and_slow.max_cv = 0.5;
	want.low_and_slow.requests_per_hour = 60;
	want.surge.factor = 10;
	want.surge.min_history = 2 * 3600;
	want.surge.requests_per_hour = 240;
	want.ratio.min_ratio = 50.5;
	want.ratio.min_requests = 1000;
	want.thresholds = (struct ps_thresholds){ 100, 3000, 20000, 104857600, 2147483648ULL };
	want.forget = 12 * 3600;
	want.nsteps = 5;
	want.steps[0] = (struct ps_step_cfg){ .action = PS_STEP_ALERT };
	want.steps[1] = (struct ps_step_cfg){ .action = PS_STEP_DELAY, .duration = 1800,
					      .cooldown = 3600, .requests_per_minute = 30 };
	want.steps[2] = (struct ps_step_cfg){ .action = PS_STEP_SHAPE, .duration = 7200,
					      .cooldown = 900, .rate = 1500000 };
	want.steps[3] = (struct ps_step_cfg){ .action = PS_STEP_BLOCK, .duration = 86400,
					      .cooldown = 86400 };
	want.steps[4] = (struct ps_step_cfg){ .action = PS_STEP_BLOCK, .duration = 3600,
					      .cooldown = 600 };
	if (check_detection(&cfg.detection, &want, why, sizeof(why)))
		fail("detection_full", "%s", why);
	else
		pass("detection_full");
}

/* Every bound at its lowest, then at its highest accepted value. */
static void test_detection_bounds(void)
{
	const char *low =
		"endpoints: [{port: 1}]\n"
		"detection:\n"
		"  interval: 1\n"
		"  min_population: 2\n"
		"  zscore: 1\n"
		"  high_rate: {requests_per_minute: 1}\n"
		"  prefix: {min_clients: 2, requests_per_hour: 1}\n"
		"  low_and_slow: {min_history: 1m, duty_cycle: 0, max_cv: 0.0, requests_per_hour: 1}\n"
		"  surge: {factor: 1.0, min_history: 60s, requests_per_hour: 1}\n"
		"  ratio: {min_ratio: 1, min_requests: 1}\n"
		"  thresholds: {requests_per_minute: 1, requests_per_hour: 1, requests_per_day: 1,"
		" tx_payload_per_hour: 1, tx_payload_per_day: 1B}\n"
		"  escalation:\n"
		"    forget: 1m\n"
		"    steps:\n"
		"      - {action: shape, for: 1s, cooldown: 0, rate: 1bit}\n"
		"      - {action: delay, requests_per_minute: 1, for: 1, cooldown: 0m}\n";
	const char *high =
		"endpoints: [{port: 1}]\n"
		"detection:\n"
		"  interval: 1h\n"
		"  min_population: 1000000\n"
		"  zscore: 1000\n"
		"  high_rate: {requests_per_minute: 1000000000}\n"
		"  prefix: {min_clients: 1000000, requests_per_hour: 1000000000000}\n"
		"  low_and_slow: {min_history: 7d, duty_cycle: 1, max_cv: 10,"
		" requests_per_hour: 1000000000000}\n"
		"  surge: {factor: 1e6, min_history: 168h, requests_per_hour: 1000000000000}\n"
		"  ratio: {min_ratio: 1000000, min_requests: 1000000000000}\n"
		"  thresholds: {requests_per_minute: 1000000000, requests_per_hour: 1000000000000,"
		" requests_per_day: 1000000000000, tx_payload_per_hour: 18446744073709551614,"
		" tx_payload_per_day: 18446744073709551614B}\n"
		"  escalation:\n"
		"    forget: 30d\n"
		"    steps:\n"
		"      - {action: alert, cooldown: 30d}\n"
		"      - {action: shape, for: 30d, cooldown: 720h, rate: 18446744073709551614bit}\n"
		"      - {action: delay, for: 2592000, requests_per_minute: 10000000}\n"
		"      - {action: block, for: 43200m}\n"
		"      - {action: alert}\n"
		"      - {action: alert}\n"
		"      - {action: alert}\n"
		"      - {action: block, for: 30d, cooldown: 30d}\n";
	struct ps_detection_cfg want;
	static struct ps_config cfg;
	char path[512], why[512];
	int i;

	if (load_ok("detection_bounds_low", low, &cfg, path, sizeof(path))) {
		detection_defaults(&want);
		want.interval = 1;
		want.min_population = 2;
		want.zscore = 1;
		want.high_rate.requests_per_minute = 1;
		want.prefix.min_clients = 2;
		want.prefix.requests_per_hour = 1;
		want.low_and_slow.min_history = 60;
		want.low_and_slow.duty_cycle = 0;
		want.low_and_slow.max_cv = 0;
		want.low_and_slow.requests_per_hour = 1;
		want.surge.factor = 1;
		want.surge.min_history = 60;
		want.surge.requests_per_hour = 1;
		want.ratio.min_ratio = 1;
		want.ratio.min_requests = 1;
		want.thresholds = (struct ps_thresholds){ 1, 1, 1, 1, 1 };
		want.forget = 60;
		memset(want.steps, 0, sizeof(want.steps));
		want.nsteps = 2;
		want.steps[0] = (struct ps_step_cfg){ .action = PS_STEP_SHAPE, .duration = 1,
						      .rate = 1 };
		want.steps[1] = (struct ps_step_cfg){ .action = PS_STEP_DELAY, .duration = 1,
						      .requests_per_minute = 1 };
		if (check_detection(&cfg.detection, &want, why, sizeof(why)))
			fail("detection_bounds_low", "%s", why);
		else
			pass("detection_bounds_low");
	}
	if (load_ok("detection_bounds_high", high, &cfg, path, sizeof(path))) {
		detection_defaults(&want);
		want.interval = 3600;
		want.min_population = 1000000;
		want.zscore = 1000;
		want.high_rate.requests_per_minute = 1000000000;
		want.prefix.min_clients = 1000000;
		want.prefix.requests_per_hour = 1000000000000ULL;
		want.low_and_slow.min_history = 7 * 86400;
		want.low_and_slow.duty_cycle = 1;
		want.low_and_slow.max_cv = 10;
		want.low_and_slow.requests_per_hour = 1000000000000ULL;
		want.surge.factor = 1000000;
		want.surge.min_history = 7 * 86400;
		want.surge.requests_per_hour = 1000000000000ULL;
		want.ratio.min_ratio = 1000000;
		want.ratio.min_requests = 1000000000000ULL;
		want.thresholds = (struct ps_thresholds){ 1000000000, 1000000000000ULL,
							  1000000000000ULL, U - 1, U - 1 };
		want.forget = 30 * 86400;
		want.nsteps = PS_MAX_STEPS;
		want.steps[0] = (struct ps_step_cfg){ .action = PS_STEP_ALERT,
						      .cooldown = 30 * 86400 };
		want.steps[1] = (struct ps_step_cfg){ .action = PS_STEP_SHAPE,
						      .duration = 30 * 86400,
						      .cooldown = 30 * 86400, .rate = U - 1 };
		want.steps[2] = (struct ps_step_cfg){ .action = PS_STEP_DELAY,
						      .duration = 30 * 86400, .cooldown = 600,
						      .requests_per_minute = 10000000 };
		want.steps[3] = (struct ps_step_cfg){ .action = PS_STEP_BLOCK,
						      .duration = 30 * 86400, .cooldown = 600 };
		for (i = 4; i < 7; i++)
			want.steps[i] = (struct ps_step_cfg){ .action = PS_STEP_ALERT,
							      .cooldown = 600 };
		want.steps[7] = (struct ps_step_cfg){ .action = PS_STEP_BLOCK,
						      .duration = 30 * 86400,
						      .cooldown = 30 * 86400 };
		if (check_detection(&cfg.detection, &want, why, sizeof(why)))
			fail("detection_bounds_high", "%s", why);
		else
			pass("detection_bounds_high");
	}
}

/* Decimals as they may be written: YAML 1.2 floats and integers. */
static void test_detection_decimals(void)
{
	static const struct {
		const char *key;	/* in surge (factor, 1..10^6) or low_and_slow (0..1) */
		const char *text;
		double want;
	} forms[] = {
		{ "surge: {factor", "5", 5 },
		{ "surge: {factor", "+2", 2 },
		{ "surge: {factor", "2.", 2 },
		{ "surge: {factor", "1.000", 1 },
		{ "surge: {factor", "1e1", 10 },
		{ "surge: {factor", "2.5E+2", 250 },
		{ "surge: {factor", "10e5", 1000000 },
		{ "surge: {factor", "1000000.0", 1000000 },
		{ "surge: {factor", "0.5e1", 5 },
		/* the leading-zero rule is for bare integers only (octal in YAML 1.1) */
		{ "surge: {factor", "01.5", 1.5 },
		{ "low_and_slow: {duty_cycle", ".5", 0.5 },
		{ "low_and_slow: {duty_cycle", "-.0", 0 },
		{ "low_and_slow: {duty_cycle", "0", 0 },
		{ "low_and_slow: {duty_cycle", "1", 1 },
		{ "low_and_slow: {duty_cycle", "1e-3", 0.001 },
		{ "low_and_slow: {duty_cycle", "2.5e-1", 0.25 },
		{ "low_and_slow: {duty_cycle", "0.95", 0.95 },
	};
	char yaml[256], path[512];
	static struct ps_config cfg;
	double got;
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(yaml, sizeof(yaml), "endpoints: [{port: 1}]\ndetection:\n  %s: %s}\n",
			 forms[i].key, forms[i].text);
		if (!load_ok("detection_decimals", yaml, &cfg, path, sizeof(path)))
			return;
		got = forms[i].key[0] == 's' ? cfg.detection.surge.factor :
					       cfg.detection.low_and_slow.duty_cycle;
		if (got != forms[i].want) {
			fail("detection_decimals", "%s: %.17g, expected %.17g", forms[i].text, got,
			     forms[i].want);
			return;
		}
	}
	pass("detection_decimals");
}

/* Given steps replace the default list; each gets its action's defaults. */
static void test_detection_steps(void)
{
	const char *one = "endpoints: [{port: 1}]\ndetection:\n  escalation: {steps: [{action: block}]}\n";
	const char *each =
		"endpoints: [{port: 1}]\n"
		"detection:\n"
		"  escalation:\n"
		"    steps:\n"
		"      - action: alert\n"
		"        for:\n"				/* empty: as if absent */
		"        rate: ~\n"
		"        requests_per_minute: null\n"
		"      - {action: shape}\n"
		"      - {action: delay}\n"
		"      - {action: block}\n";
	const char *forget = "endpoints: [{port: 1}]\ndetection:\n  escalation: {forget: 1h}\n";
	struct ps_detection_cfg want;
	static struct ps_config cfg;
	char path[512], why[512];

	if (load_ok("detection_steps_replace", one, &cfg, path, sizeof(path))) {
		detection_defaults(&want);
		memset(want.steps, 0, sizeof(want.steps));
		want.nsteps = 1;
		want.steps[0] = (struct ps_step_cfg){ .action = PS_STEP_BLOCK, .duration = 3600,
						      .cooldown = 600 };
		if (check_detection(&cfg.detection, &want, why, sizeof(why)))
			fail("detection_steps_replace", "%s", why);
		else
			pass("detection_steps_replace");
	}
	if (load_ok("detection_steps_defaults", each, &cfg, path, sizeof(path))) {
		detection_defaults(&want);
		want.steps[0].cooldown = 600;	/* a step's default; the list's first has 5m */
		if (check_detection(&cfg.detection, &want, why, sizeof(why)))
			fail("detection_steps_defaults", "%s", why);
		else
			pass("detection_steps_defaults");
	}
	if (load_ok("detection_forget_only", forget, &cfg, path, sizeof(path))) {
		detection_defaults(&want);
		want.forget = 3600;
		if (check_detection(&cfg.detection, &want, why, sizeof(why)))
			fail("detection_forget_only", "%s", why);
		else
			pass("detection_forget_only");
	}
}

/* A class's exempt, alert_only and thresholds; a class may have nothing else. */
static void test_class_detection(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  default: {requests_per_minute: 60}\n"
		"  classes:\n"
		"    - name: monitoring\n"
		"      clients: [192.0.2.10]\n"
		"      exempt: true\n"
		"    - {name: evals, clients: [192.0.2.0/24], alert_only: true}\n"
		"    - {name: both false, clients: [198.51.100.0/24], exempt: false,"
		" alert_only: false, thresholds: {requests_per_day: 100000}}\n"
		"    - {name: plain, clients: [10.0.0.0/8], exempt: , alert_only: ~, thresholds: }\n"
		"    - {name: exempt unlimited, clients: [10.1.0.0/16], exempt: true, unlimited: true,"
		" alert_only: false}\n"
		"    - {name: alert only, clients: [10.2.0.0/16], exempt: false, alert_only: true}\n";
	static const int exempt[] = { 1, 0, 0, 0, 1, 0 }, alert_only[] = { 0, 1, 0, 0, 0, 1 };
	struct ps_thresholds none = { U, U, U, U, U }, t;
	struct ps_limits want;
	static struct ps_config cfg;
	char path[512], why[256], what[64];
	const char *bad = NULL;
	int i;

	if (!load_ok("class_detection", yaml, &cfg, path, sizeof(path)))
		return;
	if (cfg.nclasses != 6)
		bad = "not 6 classes";
	for (i = 0; !bad && i < 6; i++) {
		snprintf(what, sizeof(what), "class %s", cfg.classes[i].name);
		t = none;
		if (i == 2)
			t.requests_per_day = 100000;
		if (cfg.classes[i].exempt != exempt[i] || cfg.classes[i].alert_only != alert_only[i]) {
			snprintf(why, sizeof(why), "%s: exempt %d alert_only %d, expected %d and %d",
				 what, cfg.classes[i].exempt, cfg.classes[i].alert_only, exempt[i],
				 alert_only[i]);
			bad = why;
		} else {
			bad = check_thresholds(what, &cfg.classes[i].thresholds, &t, why, sizeof(why));
		}
	}
	/* exempt says nothing of limits: the class has the default's */
	no_limits(&want, PS_ON_EXCEED_UNSET, -1, -1);
	if (!bad)
		bad = check_limits("monitoring", &cfg.classes[0].limits, &want, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_DELAY, 0, 0);
	want.requests_per_minute = 60;
	want.burst = 1;
	if (!bad)
		bad = check_resolved(&cfg, 1, &want, why, sizeof(why));
	no_limits(&want, PS_ON_EXCEED_DELAY, 1, 0);
	if (!bad)
		bad = check_resolved(&cfg, 5, &want, why, sizeof(why));
	if (bad)
		fail("class_detection", "%s", bad);
	else
		pass("class_detection");
}

/* ps_thresholds_resolve(cfg, id) against want. */
static const char *check_thresholds_resolved(const struct ps_config *cfg, int id,
					     const struct ps_thresholds *want, char *why,
					     size_t len)
{
	struct ps_thresholds t;
	char what[64];

	memset(&t, 0x5a, sizeof(t));
	ps_thresholds_resolve(cfg, id, &t);
	snprintf(what, sizeof(what), "resolved class %d", id);
	return check_thresholds(what, &t, want, why, len);
}

/* A class's thresholds, key by key over detection.thresholds. */
static void test_thresholds_resolve(void)
{
	const char *yaml =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  classes:\n"
		"    - name: a\n"
		"      clients: [10.0.0.0/8]\n"
		"      thresholds: {requests_per_minute: 500, requests_per_hour: 1000}\n"
		"    - {name: b, clients: [10.1.0.0/16]}\n"
		"    - name: c\n"
		"      clients: [10.2.0.0/16]\n"
		"      thresholds:\n"
		"        requests_per_day: 7\n"
		"        tx_payload_per_hour: 1MB\n"
		"        tx_payload_per_day: 1GB\n"
		"        requests_per_minute: 1\n"
		"        requests_per_hour: 2\n"
		"detection:\n"
		"  thresholds: {requests_per_minute: 100, tx_payload_per_day: 2GiB}\n";
	const char *none =
		"endpoints: [{port: 1}]\n"
		"limits:\n"
		"  classes:\n"
		"    - {name: a, clients: [10.0.0.0/8], thresholds: {requests_per_hour: 9}}\n";
	struct ps_thresholds det = { 100, U, U, U, 2147483648ULL }, want;
	static struct ps_config cfg;
	char path[512], why[256];
	const char *bad;

	if (load_ok("thresholds_resolve", yaml, &cfg, path, sizeof(path))) {
		bad = check_thresholds("detection", &cfg.detection.thresholds, &det, why,
				       sizeof(why));
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 0, &det, why, sizeof(why));
		want = det;
		want.requests_per_minute = 500;
		want.requests_per_hour = 1000;
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 1, &want, why, sizeof(why));
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 2, &det, why, sizeof(why));
		want = (struct ps_thresholds){ 1, 2, 7, 1000000, 1000000000 };
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 3, &want, why, sizeof(why));
		/* no such class: detection.thresholds */
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 4, &det, why, sizeof(why));
		if (!bad)
			bad = check_thresholds_resolved(&cfg, -1, &det, why, sizeof(why));
		if (!bad)
			bad = check_thresholds_resolved(&cfg, PS_MAX_CLASSES, &det, why, sizeof(why));
		if (bad)
			fail("thresholds_resolve", "%s", bad);
		else
			pass("thresholds_resolve");
	}
	if (load_ok("thresholds_resolve_no_default", none, &cfg, path, sizeof(path))) {
		want = (struct ps_thresholds){ U, U, U, U, U };
		bad = check_thresholds_resolved(&cfg, 0, &want, why, sizeof(why));
		want.requests_per_hour = 9;
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 1, &want, why, sizeof(why));
		ps_config_init(&cfg);
		want.requests_per_hour = U;
		if (!bad)
			bad = check_thresholds_resolved(&cfg, 0, &want, why, sizeof(why));
		if (bad)
			fail("thresholds_resolve_no_default", "%s", bad);
		else
			pass("thresholds_resolve_no_default");
	}
}

/*
 * The example's detection section, uncommented as it says: remove the
 * first '#' of every line from "#detection:" to the end of that block of
 * comment lines. It shows the defaults, so it must load as them.
 */
static void test_example_detection(void)
{
	char src[8192], path[512], line[1024], err[1024], why[512];
	struct ps_detection_cfg want;
	static struct ps_config cfg;
	FILE *in_f, *out_f;
	int state = 0, n = 0, rc;	/* state: 0 before, 1 in, 2 after the section */

	example_path(src, sizeof(src));
	/* as it is, commented out: the defaults too */
	detection_defaults(&want);
	rc = ps_config_load(src, &cfg, err, sizeof(err));
	if (rc || check_detection(&cfg.detection, &want, why, sizeof(why))) {
		fail("example_detection", "as it is: %s", rc ? err : why);
		return;
	}
	snprintf(path, sizeof(path), "%s/example_detection.yaml", tmpdir);
	in_f = fopen(src, "r");
	out_f = fopen(path, "w");
	if (!in_f || !out_f) {
		fail("example_detection", "cannot open %s or %s", src, path);
		if (in_f)
			fclose(in_f);
		if (out_f)
			fclose(out_f);
		return;
	}
	while (fgets(line, sizeof(line), in_f)) {
		if (state == 0 && !strncmp(line, "#detection:", 11))
			state = 1;
		else if (state == 1 && line[0] != '#')
			state = 2;
		n += state == 1;
		fputs(state == 1 ? line + 1 : line, out_f);
	}
	fclose(in_f);
	fclose(out_f);
	rc = ps_config_load(path, &cfg, err, sizeof(err));
	unlink(path);
	if (!state)
		fail("example_detection", "no \"#detection:\" line in %s", src);
	else if (rc)
		fail("example_detection", "%s", err);
	else if (check_detection(&cfg.detection, &want, why, sizeof(why)))
		fail("example_detection", "%s (%d lines uncommented)", why, n);
	else
		pass("example_detection");
}

int main(void)
{
	size_t i;

	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_default_paths();
	test_xdp();
	test_init();
	test_full();
	test_defaults();
	test_proxy_protocol();
	test_keys();
	test_null_optional();
	test_limits();
	test_alias();
	test_same_name();
	test_reload();
	test_example();
	test_missing_file();
	test_too_big();
	test_short_err_buffer();
	test_add_port();
	test_limits_full();
	test_limits_none();
	test_limits_burst_default();
	test_limits_inherit();
	test_limits_tokens();
	test_limits_dry_run();
	test_limits_forms();
	test_limits_nulls();
	test_limits_max();
	test_limits_too_many();
	test_example_limits();
	test_alerts_defaults();
	test_alerts_full();
	test_alerts_long_path();
	test_detection_defaults();
	test_detection_full();
	test_detection_bounds();
	test_detection_decimals();
	test_detection_steps();
	test_class_detection();
	test_thresholds_resolve();
	test_example_detection();
	test_metrics();
	for (i = 0; i < sizeof(metrics_err_cases) / sizeof(metrics_err_cases[0]); i++)
		run_err_case(&metrics_err_cases[i]);
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		run_err_case(&err_cases[i]);
	for (i = 0; i < sizeof(alerts_err_cases) / sizeof(alerts_err_cases[0]); i++)
		run_err_case(&alerts_err_cases[i]);
	for (i = 0; i < sizeof(detection_err_cases) / sizeof(detection_err_cases[0]); i++)
		run_err_case(&detection_err_cases[i]);
	rmdir(tmpdir);
	return nfailed ? 1 : 0;
}
