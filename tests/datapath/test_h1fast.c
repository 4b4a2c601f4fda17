// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP/1 parser's fast path through a header block (http1.h
 * ps_g_h1_skim(), switched by .rodata ps_h1_fast) against the line-by-line
 * path alone: two datapaths on maps of their own, one with the fast path
 * and one without, get the same random and adversarial request starts,
 * frame for frame, and must answer every frame alike and leave every map
 * alike, byte for byte (per-CPU scratch included: the test runs on one
 * CPU), on an endpoint that overwrites keys and on one that reads keys and
 * forwarded chains from a trusted peer.
 *
 *   datapath_h1fast [-n CASES] [-s SEED]
 *
 * The requests: random methods (known, unknown with a request line's
 * shape, M- prefixed), targets (inference paths, escaped, absolute-form),
 * header names in random case and order, among them every name the parser
 * reads and names that start like them, values of each kind (lengths,
 * lists, chunked, keys, chains), lines ending in CRLF, LF or a CR alone,
 * obs-fold, lines without a colon, huge lines, blanks before the colon;
 * bodies by length or chunked; pipelined. The streams are cut into
 * segments at random, at the header block's end and around it, at word
 * boundaries, with the first byte alone, and now and then a segment sent
 * twice.
 */
#include <getopt.h>
#include <sched.h>

#include "harness.h"

#define KEY_PORT	8003
#define NDP		2	/* [0]: fast path on, [1]: off */

static struct ps_datapath dps[NDP];
static char stream[16384];
static unsigned int slen;
/* stream positions where a header block ends (after its empty line) */
static unsigned int hends[64], nhends;

static void put(const char *s, unsigned int n)
{
	if (slen + n < sizeof(stream)) {
		memcpy(stream + slen, s, n);
		slen += n;
	}
}

static void puts_(const char *s)
{
	put(s, strlen(s));
}

static void eol(void)
{
	unsigned int r = rndn(100);

	puts_(r < 80 ? "\r\n" : r < 97 ? "\n" : "\r");
}

/* A name in random case: as written, lower, upper or mixed. */
static void name(const char *n)
{
	char b[64];
	unsigned int i, m = rndn(4);

	for (i = 0; n[i] && i < sizeof(b) - 1; i++) {
		char c = n[i];

		if (m == 1 || (m == 3 && rndn(2)))
			c = (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
		else if (m == 2)
			c = (c >= 'a' && c <= 'z') ? c & ~0x20 : c;
		b[i] = c;
	}
	put(b, i);
	m = rndn(10);
	puts_(m < 7 ? ": " : m < 9 ? ":" : " : ");
}

static void text(unsigned int n)
{
	static const char cs[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.;=/ ,:";
	char b[1024];
	unsigned int i;

	if (n > sizeof(b))
		n = sizeof(b);
	for (i = 0; i < n; i++)
		b[i] = cs[rndn(sizeof(cs) - 1)];
	put(b, n);
}

/* An obs-fold line: the previous header's value goes on. */
static void fold(void)
{
	static const char *const v[] = { " folded", "\t5", " chunked", "\t 12", " , chunked",
					 " x:y, chunked", "\ta:b" };

	puts_(v[rndn(7)]);
	eol();
}

static const char *const names[] = {
	"Host", "User-Agent", "Accept", "Content-Type", "X-Request-Id", "X-Stainless-Lang",
	"Connection", "Expect", "Upgrade", "Upgrade-Insecure-Requests", "Authorization",
	"Api-Key", "X-Api-Key", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded",
	"Forwarded-Proto", "Transfer-Encoding", "Transfer", "Content-Length", "Content-Len",
	"Content-Lengthy", "Te", "Cookie", "Accept-Encoding", "A", "Authorizatio", "Api-Keys",
	"X-Api-Ke", "Content-", "Upgrad",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/*
 * A random target: an inference path or not, then parts of random lengths
 * (the space after it anywhere in a word, past the 64 bytes a path is
 * compared on), escapes good and bad at random places.
 */
static void target(void)
{
	static const char *const pfx[] = { "/v1/chat/completions", "/v1/embeddings", "/",
					   "/v1/completions/", "http://h/v1/embeddings" };
	static const char *const parts[] = { "%2F", "%", "%zz", "%41", "/", "?q=1", "a" };
	unsigned int i, n = rndn(6);

	puts_(pfx[rndn(5)]);
	for (i = 0; i < n; i++) {
		if (rndn(3))
			text(rndn(30));
		else
			puts_(parts[rndn(7)]);
	}
}

/* One request (or something like one) at the stream's end. */
static void request(void)
{
	static const char *const methods[] = { "POST", "GET", "PUT", "FOO", "M-POST", "PROPFIND",
					       "CONNECT", "HEAD" };
	static const char *const targets[] = {
		"/v1/chat/completions", "/v1/embeddings", "/health", "/v1/chat%2Fcompletions",
		"http://h.example/v1/completions", "/v1/completions?x=1", "*", "h.example:443",
	};
	unsigned int i, n, blen = 0, chunked = 0, r, keyfold = 0;
	char v[128];

	if (!rndn(10))
		eol();
	puts_(methods[rndn(8)]);
	puts_(" ");
	if (rndn(3))
		puts_(targets[rndn(8)]);
	else
		target();
	puts_(rndn(8) ? " HTTP/1.1" : " HTTP/1.0");
	eol();
	n = rndn(14);
	for (i = 0; i < n; i++) {
		const char *nm = names[rndn(NNAMES)];

		r = rndn(100);
		if (r < 3) {
			fold();
			continue;
		}
		if (r < 6) {
			puts_("NoColonHere");
			eol();
			continue;
		}
		if (r < 9) {
			name("X-Big");
			text(100 + rndn(900));
			eol();
			continue;
		}
		name(nm);
		if (!strcasecmp(nm, "Content-Length")) {
			blen = rndn(4) ? rndn(200) : 0;
			r = rndn(10);
			if (r < 7)
				snprintf(v, sizeof(v), "%u", blen);
			else if (r < 8)
				snprintf(v, sizeof(v), "%u, %u", blen, blen);
			else if (r < 9)
				snprintf(v, sizeof(v), "+%u", blen);
			else
				snprintf(v, sizeof(v), "x%u", blen);
			puts_(v);
		} else if (!strcasecmp(nm, "Transfer-Encoding")) {
			r = rndn(3);
			puts_(r == 0 ? "chunked" : r == 1 ? "gzip, Chunked" : "identity");
			chunked = r < 2;
		} else if (!strcasecmp(nm, "Authorization")) {
			r = rndn(6);
			if (r < 2) {
				/* the key to come on an obs-fold line */
				puts_(r ? "Bearer " : "");
				keyfold = 1;
			} else {
				puts_(r < 5 ? "Bearer sk-" : "Basic ");
				text(8 + rndn(60));
			}
		} else if (!strcasecmp(nm, "X-Api-Key") || !strcasecmp(nm, "Api-Key")) {
			if (rndn(3))
				text(4 + rndn(40));
			else
				keyfold = 1;
		} else if (!strcasecmp(nm, "X-Forwarded-For")) {
			snprintf(v, sizeof(v), "192.0.2.%u, 198.18.%u.%u", rndn(256), rndn(3),
				 rndn(256));
			puts_(v);
		} else if (!strcasecmp(nm, "Forwarded")) {
			snprintf(v, sizeof(v), "for=192.0.2.%u;proto=http", rndn(256));
			puts_(v);
		} else if (!strcasecmp(nm, "Upgrade")) {
			puts_(rndn(2) ? "h2c" : "websocket");
		} else {
			text(rndn(40));
		}
		eol();
		/* a value going on in an obs-fold, where it matters most */
		if ((!strcasecmp(nm, "Content-Length") || !strcasecmp(nm, "Transfer-Encoding")) &&
		    !rndn(3))
			fold();
		/* a key on an obs-fold line, right after its name's line or
		 * after a line that ends the value (which the fold then is not) */
		if (keyfold) {
			keyfold = 0;
			if (rndn(2))
				puts_(rndn(2) ? "Host: h\r\n" : "Accept: */*\r\n");
			puts_(rndn(3) ? " sk-" : "\t Bearer ");
			text(4 + rndn(20));
			eol();
		}
	}
	eol();
	if (nhends < 64)
		hends[nhends++] = slen;
	if (chunked) {
		snprintf(v, sizeof(v), "%x\r\n", 1 + rndn(30));
		puts_(v);
		text(strtoul(v, NULL, 16));
		puts_("\r\n0\r\n\r\n");
	} else if (blen) {
		/* request-like text inside a body must not count */
		if (blen > 18 && !rndn(3)) {
			puts_("GET / HTTP/1.1\r\n\r\n");
			blen -= 18;
		}
		text(blen);
	}
}

/* The same frame to both datapaths: 1 when they answer alike. */
static int both(struct ck *c, int prog, const unsigned char *buf, unsigned int len)
{
	int v[NDP], k;

	for (k = 0; k < NDP; k++) {
		dp = dps[k];
		v[k] = run(prog ? dp.egress_fd : dp.ingress_fd, buf, len);
	}
	if (v[0] != v[1]) {
		ck_fail(c, "verdict %d with the fast path, %d without", v[0], v[1]);
		return 0;
	}
	return 1;
}

/* The client's segment at off to both. */
static int seg(struct ck *c, const struct conn *cn, uint32_t off, const void *data,
	       unsigned int len)
{
	unsigned char buf[2048];

	return both(c, 0, buf,
		    frame(buf, cn->caddr, SERVER, cn->cport, cn->port, cn->cisn + 1 + off,
			  cn->sisn + 1, F_ACK, data, len, 0));
}

static int open_conn(struct ck *c, struct conn *cn, uint32_t caddr, uint16_t cport, uint16_t port)
{
	unsigned char buf[256];

	cn->caddr = caddr;
	cn->cport = cport;
	cn->port = port;
	cn->cisn = 1000 + rndn(100000);
	cn->sisn = 5000;
	return both(c, 0, buf, frame(buf, caddr, SERVER, cport, port, cn->cisn, 0, F_SYN, NULL,
				     0, 0)) &&
	       both(c, 1, buf, frame(buf, SERVER, caddr, port, cport, cn->sisn, cn->cisn + 1,
				     F_SYN | F_ACK, NULL, 0, 0));
}

/* Where the stream is cut next, after at: one of the ways above. */
static unsigned int cut_after(unsigned int at, unsigned int mode)
{
	unsigned int n, i, h;

	switch (mode) {
	case 0:		/* whole, as much as a frame holds */
		n = 1400;
		break;
	case 1:		/* random sizes */
		n = 1 + rndn(rndn(2) ? 600 : 40);
		break;
	case 2:		/* at a header block's end, or a byte or a word around it */
		for (i = 0; i < nhends; i++) {
			h = hends[i] + rndn(3) * (rndn(2) ? 1 : 8) - rndn(3);
			if (h > at && h <= at + 1400)
				return h;
		}
		n = 1400;
		break;
	case 3:		/* the first byte alone, then the rest */
		n = at == 0 ? 1 : 1400;
		for (i = 0; i < nhends; i++)
			if (hends[i] == at)
				n = 1;
		break;
	default:	/* word boundaries */
		n = 8 * (1 + rndn(40));
		break;
	}
	return at + n;
}

/* Every map of the two datapaths alike (but .rodata, where the switch is). */
static void compare_maps(struct ck *c)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bpf_map *ma, *mb = NULL;

	bpf_object__for_each_map(ma, dps[0].skel->obj) {
		struct bpf_map_info info = {};
		__u32 ilen = sizeof(info);
		unsigned char *key, *next, *va, *vb;
		size_t ksz, vsz, nkeys = 0;
		int fa, fb, percpu, first = 1;

		mb = bpf_object__next_map(dps[1].skel->obj, mb);
		if (!mb || strcmp(bpf_map__name(ma), bpf_map__name(mb))) {
			ck_fail(c, "the two objects' maps differ");
			return;
		}
		if (strstr(bpf_map__name(ma), ".rodata"))
			continue;
		fa = bpf_map__fd(ma);
		fb = bpf_map__fd(mb);
		if (bpf_obj_get_info_by_fd(fa, &info, &ilen))
			continue;
		if (info.type == BPF_MAP_TYPE_RINGBUF || info.type == BPF_MAP_TYPE_PROG_ARRAY ||
		    info.type == BPF_MAP_TYPE_QUEUE || info.type == BPF_MAP_TYPE_STACK)
			continue;
		percpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY ||
			 info.type == BPF_MAP_TYPE_PERCPU_HASH ||
			 info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
		ksz = info.key_size;
		vsz = percpu ? (size_t)((info.value_size + 7) & ~7u) * ncpu : info.value_size;
		key = calloc(1, ksz + 8);
		next = calloc(1, ksz + 8);
		va = calloc(1, vsz + 8);
		vb = calloc(1, vsz + 8);
		while (key && next && va && vb) {
			if (bpf_map_get_next_key(fa, first ? NULL : key, next))
				break;
			first = 0;
			memcpy(key, next, ksz);
			if (bpf_map_lookup_elem(fa, key, va))
				continue;
			nkeys++;
			if (bpf_map_lookup_elem(fb, key, vb)) {
				ck_fail(c, "map %s: a key only with the fast path", bpf_map__name(ma));
				break;
			}
			if (memcmp(va, vb, vsz)) {
				size_t o = 0;

				while (o < vsz && va[o] == vb[o])
					o++;
				ck_fail(c, "map %s: values differ from byte %zu (of %zu)",
					bpf_map__name(ma), o, vsz);
				break;
			}
		}
		/* and no key only without it */
		first = 1;
		while (ck_ok(c) && key && next) {
			if (bpf_map_get_next_key(fb, first ? NULL : key, next))
				break;
			first = 0;
			memcpy(key, next, ksz);
			nkeys--;
		}
		if (ck_ok(c) && nkeys)
			ck_fail(c, "map %s: %zd keys more with the fast path", bpf_map__name(ma),
				(ssize_t)nkeys);
		free(key);
		free(next);
		free(va);
		free(vb);
		if (!ck_ok(c))
			return;
	}
}

/*
 * Replay (a virtual clock: every map comparable byte for byte), or live
 * (the request limit enforced, segments over it dropped: the verdicts and
 * each client's counts compared; the maps hold the clock's times).
 */
static void run_cases(unsigned int ncases, int live)
{
	struct ck c;
	unsigned int i, nreq, k, mode, at, end, sent = 0, nthr = 0;
	uint64_t nreq_all = 0, ninf_all = 0;

	ck_init(&c, live ? "h1fast-live: fast path and line by line alike, frame by frame and "
			   "client by client, the request limit enforced" :
			   "h1fast: fast path and line by line alike, frame by frame and map by map");
	for (i = 0; i < ncases && ck_ok(&c); i++) {
		struct conn cn;

		slen = 0;
		nhends = 0;
		nreq = 1 + rndn(rndn(4) ? 2 : 6);
		for (k = 0; k < nreq; k++)
			request();
		if (!open_conn(&c, &cn, CLIENT_BASE + (i % 200), 20000 + i % 40000,
			       rndn(2) ? PORT : KEY_PORT))
			break;
		mode = rndn(5);
		for (at = 0; at < slen && ck_ok(&c); at = end) {
			end = cut_after(at, mode);
			if (end > slen)
				end = slen;
			if (end - at > 1400)
				end = at + 1400;
			if (!seg(&c, &cn, at, stream + at, end - at))
				break;
			if (!rndn(20))
				seg(&c, &cn, at, stream + at, end - at);
			sent++;
		}
		if (!live && (i % 100 == 99 || i + 1 == ncases))
			compare_maps(&c);
	}
	if (ck_ok(&c) && sent < ncases)
		ck_fail(&c, "only %u segments sent", sent);
	/* The streams were read as requests, not lost to a parser stopped
	 * early: most connections' requests were counted. */
	for (k = 0; k < 200 && k < ncases && ck_ok(&c); k++) {
		struct ps_client_ctr ctr[NDP];
		uint32_t slot;
		int j;

		for (j = 0; j < NDP; j++) {
			dp = dps[j];
			memset(&ctr[j], 0, sizeof(ctr[j]));
			ctr_of(CLIENT_BASE + k, &ctr[j], &slot);
		}
		if (ctr[0].c.requests != ctr[1].c.requests ||
		    ctr[0].c.inference_requests != ctr[1].c.inference_requests ||
		    ctr[0].throttled_requests != ctr[1].throttled_requests)
			ck_fail(&c, "client %u: requests %llu/%llu, inference %llu/%llu, throttled "
				"%llu/%llu with/without the fast path", k,
				(unsigned long long)ctr[0].c.requests,
				(unsigned long long)ctr[1].c.requests,
				(unsigned long long)ctr[0].c.inference_requests,
				(unsigned long long)ctr[1].c.inference_requests,
				(unsigned long long)ctr[0].throttled_requests,
				(unsigned long long)ctr[1].throttled_requests);
		nreq_all += ctr[0].c.requests;
		ninf_all += ctr[0].c.inference_requests;
		nthr += ctr[0].throttled_requests;
	}
	if (ck_ok(&c) && (nreq_all < ncases / 2 || !ninf_all || (live && !nthr)))
		ck_fail(&c, "%llu requests counted for %u connections (%llu inference, %u held)",
			(unsigned long long)nreq_all, ncases, (unsigned long long)ninf_all, nthr);
	ck_end(&c);
}

static int setup(int live)
{
	static struct ps_config cfg;
	char err_s[256];
	int err, k;

	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PORT);
	if (!err)
		err = ps_config_add_port(&cfg, KEY_PORT);
	if (err)
		return err;
	cfg.endpoints[1].identity = PS_IDENTITY_API_KEY;
	cfg.endpoints[1].forwarded_for = PS_FWD_FOR_BOTH;
	cfg.endpoints[1].ntrusted = 1;
	err = ps_parse_prefix("198.18.1.0/24", &cfg.endpoints[1].trusted[0], err_s, sizeof(err_s));
	for (k = 0; k < NDP && !err; k++) {
		struct ps_dp_opts opts = { .replay = !live, .own_maps = live, .max_clients = 4096,
					   .max_flows = 4096 };
		static const uint8_t secret[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

		err = ps_dp_prepare(&dps[k], &opts);
		if (err)
			break;
		dps[k].skel->rodata->ps_h1_fast = k == 0;
		err = ps_dp_load(&dps[k]);
		if (!err)
			err = ps_dp_configure(&dps[k], &cfg);
		if (!err) {
			dp = dps[k];
			err = default_limit(1);
		}
		if (!err)
			err = ps_dp_set_secret(&dps[k], secret);
	}
	return err;
}

int main(int argc, char **argv)
{
	unsigned int ncases = 3000;
	cpu_set_t set;
	int err, o, k, live;

	while ((o = getopt(argc, argv, "n:s:")) != -1) {
		if (o == 'n')
			ncases = strtoul(optarg, NULL, 0);
		else if (o == 's')
			rs = strtoull(optarg, NULL, 0) | 1;
	}
	if (geteuid()) {
		printf("SKIP h1fast: needs root (BPF)\n");
		return 77;
	}
	/* One CPU: the per-CPU scratch compared is the one the runs used. */
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (live = 0; live < 2; live++) {
		err = setup(live);
		if (err) {
			fail("h1fast setup", "%s", strerror(-err));
			return 1;
		}
		run_cases(live ? ncases / 2 : ncases, live);
		for (k = 0; k < NDP; k++)
			ps_dp_close(&dps[k]);
	}
	return nfailed ? 1 : 0;
}
