// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the YAML config loader (userspace/config.c).
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[] = "/tmp/penstock-unit-config-XXXXXX";
static int nfailed;

static void pass(const char *name)
{
	printf("PASS %s\n", name);
}

static void __attribute__((format(printf, 2, 3))) fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfailed++;
}

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
	  "1:1: the file is empty, expected a mapping with keys interfaces, endpoints, max_clients, reclaim_idle" },
	{ "comments_only", "# nothing\n# here\n", -EINVAL,
	  "1:1: the file is empty, expected a mapping with keys interfaces, endpoints, max_clients, reclaim_idle" },
	{ "root_is_list", "- port: 1\n", -EINVAL,
	  "1:1: got a list, expected a mapping with keys interfaces, endpoints, max_clients, reclaim_idle" },
	{ "root_is_scalar", "hello\n", -EINVAL,
	  "1:1: got 'hello', expected a mapping with keys interfaces, endpoints, max_clients, reclaim_idle" },
	{ "unknown_root_key", "interfaces: [eth0]\nendpoint:\n  - port: 1\n", -EINVAL,
	  "2:1: unknown key 'endpoint', expected one of interfaces, endpoints, max_clients, reclaim_idle" },
	{ "non_scalar_key", "endpoints: [{port: 1}]\n[a]: 1\n", -EINVAL,
	  "2:1: got a list as a key, expected one of interfaces, endpoints, max_clients, reclaim_idle" },
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
	  "2:5: endpoints[0]: got '8000', expected a mapping with keys name, port, paths" },
	{ "endpoint_is_null", "endpoints:\n  - port: 1\n  -\n", -EINVAL,
	  "3:4: endpoints[1]: got an empty value, expected a mapping with keys name, port, paths" },
	{ "unknown_endpoint_key", "endpoints:\n  - port: 1\n    prot: 2\n", -EINVAL,
	  "3:5: endpoints[0]: unknown key 'prot', expected one of name, port, paths" },
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
};

static void run_err_case(const struct err_case *t)
{
	char path[512], want[1024], err[1024];
	struct ps_config cfg;
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
	struct ps_config cfg;

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
	struct ps_config cfg;
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

static void test_defaults(void)
{
	struct ps_config cfg;
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
	struct ps_config cfg;
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
	struct ps_config cfg;
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
	struct ps_config cfg;
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
	struct ps_config cfg;
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
	struct ps_config a, b;
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
	static const char suffix[] = "tests/unit/test_config.c";
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
	struct ps_config cfg;
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
	else
		pass("example_config");
}

static void test_missing_file(void)
{
	char path[512], want[1024], err[1024];
	struct ps_config cfg;
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
	struct ps_config cfg;
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
	struct ps_config cfg;
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
	struct ps_config cfg;
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

int main(void)
{
	size_t i;

	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_default_paths();
	test_init();
	test_full();
	test_defaults();
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
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
		run_err_case(&err_cases[i]);
	rmdir(tmpdir);
	return nfailed ? 1 : 0;
}
