// SPDX-License-Identifier: GPL-2.0-only
/*
 * Each request's subject carried from ingress to egress, through the live
 * programs (BPF_PROG_TEST_RUN): an endpoint on port 8000 with
 * forwarded_for: true behind trusted gateways in 198.18.1.0/24, and a
 * token limit for everybody. Gateways send requests whose X-Forwarded-For
 * names clients the test chose, the server answers each with the usage it
 * reports; each case checks, client by client, the payload bytes of its
 * requests and responses (rx_payload, tx_payload: the lengths of the
 * messages the test built), the tokens of its answers (tx_tokens,
 * rx_tokens) and that its token limit was debited (tpm_tat moved), and
 * that the gateway keeps what is its own: packets, IP bytes, the
 * connection, its own requests' bytes and tokens.
 *
 * - pipelined: requests of four subjects (one the gateway's own) in one
 *   segment, a fifth cut across segments (its request line, headers and
 *   body apart), answered in order in one segment;
 * - ring: ten requests in flight at once, two more than the flow's ring
 *   (PS_RQ_SUBJ): the two oldest are kept in ps_rq_late, and every answer
 *   is its client's (stats.resp_unpaired does not move);
 * - deep: 40 and 70 requests in flight, seven a segment, answers begun
 *   among them: every answer its client's;
 * - hole: an answer to a request the ingress program never read (the
 *   server acknowledged bytes that did not pass here) is the gateway's.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include "enforce/enforce.h"
#include "harness.h"

#define GW4	0xc6120100	/* 198.18.1.0/24: trusted gateways */
#define NSUBJ	16

static const char yaml[] =
	"endpoints: [{port: 8000, forwarded_for: true, trusted_proxies: [198.18.1.0/24]}]\n"
	"limits:\n"
	"  default: {tokens_per_minute: 60000000}\n";

/* What the test expects per client (by its text address). */
struct want {
	const char *addr;
	uint64_t rx_payload, tx_payload, tx_tokens, rx_tokens;
};

static struct want wants[NSUBJ];
static unsigned int nwants;

static struct want *want_of(const char *a)
{
	unsigned int i;

	for (i = 0; i < nwants; i++)
		if (!strcmp(wants[i].addr, a))
			return &wants[i];
	if (nwants >= NSUBJ)
		abort();
	wants[nwants].addr = a;
	return &wants[nwants++];
}

static int ctr_by_text(const char *a, struct ps_client_ctr *ctr)
{
	struct ps_client_key k = {};
	uint32_t slot;

	if (inet_pton(AF_INET, a, &k.addr) != 1)
		return -1;
	k.family = PS_AF_INET;
	return ctr_of_key(&k, ctr, &slot);
}

/* Every client expected has exactly its figures. */
static void expect_wants(struct ck *c)
{
	struct ps_client_ctr ctr;
	unsigned int i;

	for (i = 0; i < nwants; i++) {
		const struct want *w = &wants[i];

		if (ctr_by_text(w->addr, &ctr)) {
			ck_fail(c, "%s has no counters", w->addr);
			continue;
		}
		if (ctr.c.rx_payload != w->rx_payload || ctr.c.tx_payload != w->tx_payload ||
		    ctr.tx_tokens != w->tx_tokens || ctr.rx_tokens != w->rx_tokens)
			fprintf(stderr, "%s: %llu %llu %llu %llu, expected %llu %llu %llu %llu\n",
				w->addr, (unsigned long long)ctr.c.rx_payload,
				(unsigned long long)ctr.c.tx_payload,
				(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens,
				(unsigned long long)w->rx_payload, (unsigned long long)w->tx_payload,
				(unsigned long long)w->tx_tokens, (unsigned long long)w->rx_tokens);
		if (ctr.c.rx_payload != w->rx_payload || ctr.c.tx_payload != w->tx_payload ||
		    ctr.tx_tokens != w->tx_tokens || ctr.rx_tokens != w->rx_tokens)
			ck_fail(c,
				"%s: rx_payload %llu tx_payload %llu tx_tokens %llu rx_tokens %llu; "
				"expected %llu %llu %llu %llu",
				w->addr, (unsigned long long)ctr.c.rx_payload,
				(unsigned long long)ctr.c.tx_payload,
				(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens,
				(unsigned long long)w->rx_payload, (unsigned long long)w->tx_payload,
				(unsigned long long)w->tx_tokens, (unsigned long long)w->rx_tokens);
		/* Its token limit was debited if and only if it had tokens. */
		if (!!ctr.tpm_tat != !!(w->tx_tokens + w->rx_tokens))
			ck_fail(c, "%s: tpm_tat %llu with %llu tokens", w->addr,
				(unsigned long long)ctr.tpm_tat,
				(unsigned long long)(w->tx_tokens + w->rx_tokens));
	}
}

/* An inference request for client xff (NULL: the gateway's own), in out. */
static unsigned int mkreq(char *out, size_t cap, const char *xff)
{
	char line[96] = "";

	if (xff)
		snprintf(line, sizeof(line), "X-Forwarded-For: 203.0.113.7, %s\r\n", xff);
	return snprintf(out, cap,
			"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n%s"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			line, strlen(body), body);
}

/* A JSON answer reporting prompt and completion tokens. */
static unsigned int mkans(char *out, size_t cap, unsigned int prompt, unsigned int completion)
{
	char b[160];
	int n = snprintf(b, sizeof(b),
			 "{\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u}}", prompt,
			 completion);

	return snprintf(out, cap,
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			"Content-Length: %d\r\n\r\n%s",
			n, b);
}

/* The server sends len bytes at its offset soff, acknowledging the client up to ack. */
static int ssend(const struct conn *c, uint32_t soff, uint32_t ack, const void *data,
		 unsigned int len)
{
	unsigned char buf[2048];

	return run(dp.egress_fd, buf,
		   frame(buf, SERVER, c->caddr, c->port, c->cport, c->sisn + 1 + soff,
			 c->cisn + 1 + ack, F_ACK, data, len, 0));
}

static void case_pipelined(void)
{
	static const char *const subj[] = { "198.19.40.1", "198.19.40.2", NULL, "198.19.40.1" };
	char seg[2048], one[512], gwtext[16] = "198.18.1.10";
	unsigned int n = 0, k, i, off = 0, soff = 0, lens[5];
	struct ps_client_ctr gw;
	struct want *w;
	struct conn cn;
	struct ck c;

	ck_init(&c, "pipelined requests of several subjects answered in order");
	nwants = 0;
	memset(wants, 0, sizeof(wants));
	if (handshake(&cn, GW4 + 10))
		ck_fail(&c, "handshake");
	for (i = 0; i < 4; i++) {
		lens[i] = mkreq(seg + n, sizeof(seg) - n, subj[i]);
		n += lens[i];
	}
	expect(&c, csend(&cn, off, seg, n), TC_ACT_OK, "four requests in one segment");
	off += n;
	/* The fifth: 10 bytes of its request line, the rest of its header
	 * block, then its body, each a segment of its own. */
	lens[4] = mkreq(one, sizeof(one), "198.19.40.3");
	k = lens[4] - (unsigned int)strlen(body);
	expect(&c, csend(&cn, off, one, 10), TC_ACT_OK, "request line cut");
	expect(&c, csend(&cn, off + 10, one + 10, k - 10), TC_ACT_OK, "its header block");
	expect(&c, csend(&cn, off + k, one + k, lens[4] - k), TC_ACT_OK, "its body");
	off += lens[4];
	n = 0;
	for (i = 0; i < 5; i++) {
		unsigned int a = mkans(seg + n, sizeof(seg) - n, 100 + i, 10 + i);
		const char *who = i < 4 ? (subj[i] ? subj[i] : gwtext) : "198.19.40.3";

		w = want_of(who);
		w->rx_payload += lens[i];
		w->tx_payload += a;
		w->rx_tokens += 100 + i;
		w->tx_tokens += 10 + i;
		n += a;
	}
	expect(&c, ssend(&cn, soff, off, seg, n), TC_ACT_OK, "five answers in one segment");
	soff += n;
	expect_wants(&c);
	if (ctr_by_text(gwtext, &gw) || gw.c.rx_packets != 5 || gw.c.tx_packets != 2 ||
	    gw.c.connections != 1)
		ck_fail(&c, "gateway: rx_packets %llu tx_packets %llu connections %llu; "
			    "expected 5, 2, 1",
			(unsigned long long)gw.c.rx_packets, (unsigned long long)gw.c.tx_packets,
			(unsigned long long)gw.c.connections);
	ck_end(&c);
}

static void case_ring(void)
{
	static char addrs[10][16];
	char seg[2048], gwtext[16] = "198.18.1.11";
	unsigned int n = 0, i, a, len, first = 0;
	uint64_t unp = stat(PS_STAT_RESP_UNPAIRED);
	struct want *w;
	struct conn cn;
	struct ck c;

	ck_init(&c, "ten requests in flight: two past the ring are kept for their clients");
	nwants = 0;
	memset(wants, 0, sizeof(wants));
	if (handshake(&cn, GW4 + 11))
		ck_fail(&c, "handshake");
	for (i = 0; i < 10; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "198.19.41.%u", i + 1);
		len = mkreq(seg + n, sizeof(seg) - n, addrs[i]);
		want_of(addrs[i])->rx_payload += len;
		n += len;
	}
	expect(&c, csend(&cn, 0, seg, n), TC_ACT_OK, "ten requests");
	len = n;
	/* Answers in two segments of five: all ten requests were read before
	 * the first answer began. */
	n = 0;
	for (i = 0; i < 10; i++) {
		char *p = seg + n;

		a = mkans(p, sizeof(seg) - n, 200 + i, 20 + i);
		w = want_of(addrs[i]);
		w->tx_payload += a;
		w->rx_tokens += 200 + i;
		w->tx_tokens += 20 + i;
		n += a;
		if (i == 4) {
			expect(&c, ssend(&cn, 0, len, seg, n), TC_ACT_OK, "answers 1-5");
			first = n;
			n = 0;
		}
	}
	expect(&c, ssend(&cn, first, len, seg, n), TC_ACT_OK, "answers 6-10");
	expect_wants(&c);
	if (stat(PS_STAT_RESP_UNPAIRED) != unp)
		ck_fail(&c, "resp_unpaired moved by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_RESP_UNPAIRED) - unp));
	(void)gwtext;
	ck_end(&c);
}

/*
 * A gateway's connection with nreq requests in flight (several times the
 * ring), sent seven a segment, naming nsubj clients in turn (every fifth
 * request the gateway's own); answered in order, five a segment: the
 * first `early` answers after the first 14 requests, before the others
 * come, then the rest. Every answer is its
 * request's client's: those the ring lost are found in ps_rq_late.
 */
/* Request i's client: every fifth the gateway's own (NULL). */
static const char *who_of(char (*addrs)[16], unsigned int i, unsigned int nsubj)
{
	return i % 5 == 4 ? NULL : addrs[i % nsubj];
}

static void case_deep_ring(const char *name, uint32_t gw, unsigned int nreq, unsigned int nsubj,
			   unsigned int early)
{
	static char addrs[64][16];
	char seg[2048], gwtext[16];
	unsigned int n, i, k, a, off = 0, soff = 0, sent = 0, answered = 0, phase, lens[128];
	uint64_t unp = stat(PS_STAT_RESP_UNPAIRED);
	struct want *w;
	struct conn cn;
	struct ck c;

	ck_init(&c, name);
	nwants = 0;
	memset(wants, 0, sizeof(wants));
	snprintf(gwtext, sizeof(gwtext), "198.18.1.%u", gw & 0xff);
	if (handshake(&cn, gw))
		ck_fail(&c, "handshake");
	for (i = 0; i < nsubj; i++)
		snprintf(addrs[i], sizeof(addrs[i]), "198.19.%u.%u", 42 + (gw & 0xff), i + 1);
	for (phase = 0; phase < 2; phase++) {
		unsigned int upto = phase ? nreq : 14;

		for (; sent < upto; sent += k) {
			for (n = 0, k = 0; k < 7 && sent + k < upto; k++) {
				lens[sent + k] = mkreq(seg + n, sizeof(seg) - n, who_of(addrs, sent + k, nsubj));
				w = want_of(who_of(addrs, sent + k, nsubj) ?: gwtext);
				w->rx_payload += lens[sent + k];
				n += lens[sent + k];
			}
			expect(&c, csend(&cn, off, seg, n), TC_ACT_OK, "requests, seven a segment");
			off += n;
		}
		upto = phase ? nreq : early;
		for (; answered < upto; answered += k) {
			for (n = 0, k = 0; k < 5 && answered + k < upto; k++) {
				i = answered + k;
				a = mkans(seg + n, sizeof(seg) - n, 100 + i, 10 + i % 13);
				w = want_of(who_of(addrs, i, nsubj) ?: gwtext);
				w->tx_payload += a;
				w->rx_tokens += 100 + i;
				w->tx_tokens += 10 + i % 13;
				n += a;
			}
			expect(&c, ssend(&cn, soff, off, seg, n), TC_ACT_OK, "answers, five a segment");
			soff += n;
		}
	}
	expect_wants(&c);
	if (stat(PS_STAT_RESP_UNPAIRED) != unp)
		ck_fail(&c, "resp_unpaired moved by %llu, expected 0",
			(unsigned long long)(stat(PS_STAT_RESP_UNPAIRED) - unp));
	ck_end(&c);
}

static void case_hole(void)
{
	char a1[512], r1[512], r2[512], gwtext[16] = "198.18.1.12";
	unsigned int n1, n2, na, nb;
	uint64_t unp = stat(PS_STAT_RESP_UNPAIRED);
	struct want *w;
	struct conn cn;
	struct ck c;

	ck_init(&c, "an answer to a request never read is the gateway's");
	nwants = 0;
	memset(wants, 0, sizeof(wants));
	if (handshake(&cn, GW4 + 12))
		ck_fail(&c, "handshake");
	n1 = mkreq(r1, sizeof(r1), "198.19.42.1");
	n2 = mkreq(r2, sizeof(r2), "198.19.42.2");
	expect(&c, csend(&cn, 0, r1, n1), TC_ACT_OK, "the first request");
	/* The second never passes here; the server reads it and answers
	 * both. */
	na = mkans(a1, sizeof(a1), 300, 30);
	w = want_of("198.19.42.1");
	w->rx_payload = n1;
	w->tx_payload = na;
	w->rx_tokens = 300;
	w->tx_tokens = 30;
	expect(&c, ssend(&cn, 0, n1 + n2, a1, na), TC_ACT_OK, "the first answer");
	nb = mkans(a1, sizeof(a1), 400, 40);
	expect(&c, ssend(&cn, na, n1 + n2, a1, nb), TC_ACT_OK, "the second answer");
	/* Nothing says it answers an inference request: its body is not
	 * read for tokens. */
	want_of(gwtext)->tx_payload = nb;
	expect_wants(&c);
	if (stat(PS_STAT_RESP_UNPAIRED) - unp != 1)
		ck_fail(&c, "resp_unpaired moved by %llu, expected 1",
			(unsigned long long)(stat(PS_STAT_RESP_UNPAIRED) - unp));
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	char err[512];
	int e;

	e = ps_config_parse("rqsubj.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err));
	if (e) {
		fprintf(stderr, "%s\n", err);
		return e;
	}
	e = dp_start(&cfg, 4096, 0);
	return e ? e : ps_enf_apply_classes(&dp, &cfg);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP rqsubj: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	case_pipelined();
	case_ring();
	case_deep_ring("forty requests in flight, their clients in turn", GW4 + 13, 40, 6, 0);
	case_deep_ring("seventy in flight, answers begun among them", GW4 + 14, 70, 11, 9);
	case_hole();
	expect_endpoint_sums("rqsubj endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
