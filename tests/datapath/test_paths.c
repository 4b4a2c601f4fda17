// SPDX-License-Identifier: GPL-2.0-only
/*
 * Which requests are inference requests, by their target, through the
 * live ingress program (BPF_PROG_TEST_RUN): a target names an inference
 * path when its path, %XX escapes decoded (a '%' not followed by two hex
 * digits stays as it is), starts with one of the endpoint's paths; an
 * absolute-form target (http://host/path) by its path (docs/http1-counting.md).
 *
 * 3000 random targets on one keep-alive connection: the endpoint's paths
 * and near misses (a byte short, a byte changed, another version), with
 * random bytes escaped but the leading '/' (a target that does not
 * start with one is in no form that names a path; hex digits in either
 * case), bad escapes ("%zz",
 * "%4" before the end, a '%' last), long tails past the 64 bytes a path
 * is compared on, queries, absolute form; each request whole in a
 * segment or cut at a random byte. What is expected comes from the
 * test's own decoding and prefix rule. PS_PATHS_SEED sets the seed
 * (printed on a failure).
 *
 * Needs root (BPF); exits 77 without it.
 */
#include <time.h>

#include "harness.h"

static const char yaml[] =
	"endpoints: [{port: 8000, paths: [/v1/chat/completions, /v1/embeddings, /generate]}]\n";
static const char *const wanted[] = { "/v1/chat/completions", "/v1/embeddings", "/generate" };

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The test's own rule: the target's path decoded, then a prefix compare. */
static int is_inference(const char *target)
{
	char dec[1024];
	const char *p = target;
	unsigned int n = 0, i;

	if (!strncmp(p, "http://", 7)) {
		p = strchr(p + 7, '/');
		if (!p)
			return 0;
	}
	while (*p && n < sizeof(dec) - 1) {
		if (*p == '%' && p[1] && p[2] && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			dec[n++] = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 3;
		} else {
			dec[n++] = *p++;
		}
	}
	dec[n] = 0;
	for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		if (!strncmp(dec, wanted[i], strlen(wanted[i])))
			return 1;
	return 0;
}

/* A random target into t. */
static void target(char *t, size_t cap)
{
	static const char *const bases[] = {
		"/v1/chat/completions", "/v1/embeddings", "/generate", "/v1/chat/completion",
		"/v1/chat/completionz", "/v2/chat/completions", "/v1/embedding", "/v1/models",
		"/generat", "/Generate", "/v1/chat/completions/", "/v1//chat/completions",
	};
	static const char tailc[] = "abcdefghijklmnopqrstuvwxyz0123456789-_./~%";
	char raw[256];
	const char *b = bases[rndn(sizeof(bases) / sizeof(bases[0]))];
	unsigned int n = 0, i, k;

	n = snprintf(raw, sizeof(raw), "%s", b);
	k = rndn(4);
	if (k == 1) {		/* a tail, often past the 64 bytes compared */
		unsigned int m = rndn(120);

		for (i = 0; i < m && n < sizeof(raw) - 1; i++)
			raw[n++] = tailc[rndn(sizeof(tailc) - 1)];
		raw[n] = 0;
	} else if (k == 2) {
		n += snprintf(raw + n, sizeof(raw) - n, "?stream=true&x=%u", rndn(1000));
	}
	i = 0;
	if (rndn(8) == 0)
		i = snprintf(t, cap, "http://198.18.0.1:8000");
	for (k = 0; k < n && i + 4 < cap; k++) {
		unsigned char c = (unsigned char)raw[k];

		/* The leading '/' as it is: its form is read before escapes. */
		switch (k ? rndn(10) : 9) {
		case 0:
		case 1:		/* escaped, hex in either case */
			i += snprintf(t + i, cap - i, rndn(2) ? "%%%02X" : "%%%02x", c);
			break;
		case 2:		/* a bad escape before it */
			if (rndn(4) == 0)
				i += snprintf(t + i, cap - i, "%s", rndn(2) ? "%zz" : "%4");
			t[i++] = (char)c;
			break;
		default:
			t[i++] = (char)c;
		}
	}
	if (rndn(16) == 0 && i + 1 < cap)
		t[i++] = '%';	/* a '%' last */
	t[i] = 0;
}

static void case_targets(void)
{
	const char *e = getenv("PS_PATHS_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
	static char t[1024], r[1400];
	uint64_t want = 0, sent = 0;
	struct ps_client_ctr ctr;
	unsigned int a, n, k;
	struct conn cn;
	uint32_t off = 0, slot;
	struct ck c;

	rs = seed | 1;
	ck_init(&c, "inference-targets");
	if (handshake(&cn, CLIENT_BASE + 1)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	for (a = 0; a < 3000; a++) {
		uint64_t before = want;

		target(t, sizeof(t));
		want += is_inference(t);
		n = snprintf(r, sizeof(r), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", t);
		if (rndn(3) == 0) {
			k = 1 + rndn(n - 1);
			expect(&c, csend(&cn, off, r, k), TC_ACT_OK, "a request's first part");
			expect(&c, csend(&cn, off + k, r + k, n - k), TC_ACT_OK, "its rest");
		} else {
			expect(&c, csend(&cn, off, r, n), TC_ACT_OK, "a request");
		}
		off += n;
		sent++;
		/* The first target judged otherwise, named. */
		if (!ctr_of(cn.caddr, &ctr, &slot) && ctr.c.inference_requests != want) {
			ck_fail(&c, "seed %#llx: \"%s\" counted %s an inference request",
				(unsigned long long)seed, t,
				ctr.c.inference_requests > before ? "as" : "not as");
			goto out;
		}
	}
	if (ctr_of(cn.caddr, &ctr, &slot)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.c.requests != sent || ctr.c.inference_requests != want)
		ck_fail(&c, "seed %#llx: requests %llu, inference %llu: expected %llu, %llu",
			(unsigned long long)seed, (unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests, (unsigned long long)sent,
			(unsigned long long)want);
out:
	ck_end(&c);
}

int main(void)
{
	static struct ps_config cfg;
	char err[512];
	int e;

	if (geteuid()) {
		printf("SKIP paths: needs root (BPF)\n");
		return 77;
	}
	default_request();
	e = ps_config_parse("paths.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err));
	if (e) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	e = dp_start(&cfg, 4096, 0);
	if (e) {
		fail("setup", "%s", strerror(-e));
		return 1;
	}
	case_targets();
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
