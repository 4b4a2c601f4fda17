// SPDX-License-Identifier: GPL-2.0-only
/*
 * A connection whose flow state is taken from the flow table (LRU
 * eviction under a flood of new connections) between two requests: the
 * next request is counted all the same, whatever comes first after the
 * eviction (the client's next request, or the server's answer, ACK or
 * FIN to the last one).
 *
 * And a client that has its connection's flow evicted in the middle of a
 * request, then cuts every later segment inside a request, so that no
 * segment starts where a message does: the requests are found all the
 * same (the stream is hunted, http1.h PS_H1_HUNT), counted, and held to
 * the client's limit, also when a request line is longer than what the
 * parser keeps of a line.
 */
#include "count/flows.h"
#include "harness.h"

static unsigned int resp_len;
static char resp[256];

static int ssend(const struct conn *c, uint32_t off, uint32_t ack, const void *data,
		 unsigned int len)
{
	unsigned char buf[2048];

	return run(dp.egress_fd, buf,
		   frame(buf, SERVER, c->caddr, c->port, c->cport, c->sisn + 1 + off,
			 c->cisn + 1 + ack, F_ACK, data, len, 0));
}

static void evict(const struct conn *c)
{
	struct ps_flow_key k = flow_key(c);

	ps_dp_flow_forget(&dp, &k);
}

/* what: 0 the request first, 1 the answer first, 2 a bare ACK first. */
static void one_case(const char *name, uint32_t caddr, int what)
{
	struct ps_client_ctr ctr;
	struct conn cn;
	uint32_t slot, i;
	struct ck c;

	ck_init(&c, name);
	if (handshake(&cn, caddr)) {
		ck_fail(&c, "handshake");
		ck_end(&c);
		return;
	}
	for (i = 0; i < 4; i++) {
		expect(&c, csend(&cn, i * req_len, req, req_len), TC_ACT_OK, "request");
		if (i == 1)
			evict(&cn);
		if (i == 1 && what == 1)
			ssend(&cn, i * resp_len, (i + 1) * req_len, resp, resp_len);
		else if (i == 1 && what == 2)
			ssend(&cn, i * resp_len, (i + 1) * req_len, NULL, 0);
		else if (i != 1)
			ssend(&cn, i * resp_len, (i + 1) * req_len, resp, resp_len);
	}
	if (ctr_of(caddr, &ctr, &slot))
		ck_fail(&c, "no counters");
	else if (ctr.c.requests != 4)
		ck_fail(&c, "requests %llu, expected 4", (unsigned long long)ctr.c.requests);
	ck_end(&c);
}

/*
 * The stream after an eviction: the last byte of a request whose flow
 * was evicted, then requests, each segment ending inside the next
 * request line (cut bytes into it). The default class lets BURST
 * inference requests in an hour: the evicted request took one, the
 * first hunted one the other, and the segment that completes the third
 * request line is held back, again when sent again.
 */
static void desync_case(const char *name, uint32_t caddr, const char *r, unsigned int rlen,
			unsigned int cut, int inf)
{
	unsigned char seg[4096];
	struct ps_client_ctr ctr;
	struct conn cn;
	uint32_t slot, off;
	unsigned int n;
	struct ck c;

	ck_init(&c, name);
	default_limit(1);
	if (handshake(&cn, caddr)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	/* A request but its last byte, then the flow is gone. */
	expect(&c, csend(&cn, 0, r, rlen - 1), TC_ACT_OK, "a request but its last byte");
	evict(&cn);
	off = rlen - 1;
	/* Its last byte, a whole request, and the next cut inside its line. */
	seg[0] = r[rlen - 1];
	memcpy(seg + 1, r, rlen);
	memcpy(seg + 1 + rlen, r, cut);
	n = 1 + rlen + cut;
	expect(&c, csend(&cn, off, seg, n), TC_ACT_OK, "a segment starting inside a request");
	off += n;
	/* The rest of that request line: the third request, over the limit. */
	memcpy(seg, r + cut, rlen - cut);
	memcpy(seg + rlen - cut, r, cut);
	n = rlen;
	expect(&c, csend(&cn, off, seg, n), TC_ACT_SHOT, "the third request, over the limit");
	expect(&c, csend(&cn, off, seg, n), TC_ACT_SHOT, "the same sent again");
	if (ctr_of(caddr, &ctr, &slot)) {
		ck_fail(&c, "no counters");
	} else if (ctr.c.requests != 1 || ctr.c.inference_requests != (inf ? 1 : 0) ||
		   ctr.throttled_requests != 1) {
		ck_fail(&c, "requests %llu, inference %llu, held %llu: expected 1, %d, 1",
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests,
			(unsigned long long)ctr.throttled_requests, inf ? 1 : 0);
	}
out:
	default_limit(0);
	ck_end(&c);
}

/*
 * An established connection (its client acknowledged the SYN-ACK) keeps
 * its flow through a flood of new connections three times the flow
 * table: its flow is in ps_flows_est, which gives up nothing, and its next
 * request is read with its framing (not hunted). A connection whose
 * client acknowledged a sequence number the server never sent (as a
 * spoofed sender would) stays in ps_flows, and the flood takes it.
 */
static void flood_case(void)
{
	int efd = bpf_map__fd(dp.skel->maps.ps_flows_est);
	int lfd = bpf_map__fd(dp.skel->maps.ps_flows);
	uint32_t flows = bpf_map__max_entries(dp.skel->maps.ps_flows), i;
	uint64_t hunted = stat(PS_STAT_HUNTED);
	unsigned char buf[2048];
	struct ps_client_ctr ctr;
	struct ps_flow_key k1, k2;
	struct conn cn, sp;
	struct ps_flow f;
	uint32_t slot;
	struct ck c;

	ck_init(&c, "established-survives-flood");
	if (handshake(&cn, CLIENT_BASE + 6) || handshake(&sp, CLIENT_BASE + 7)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	k1 = flow_key(&cn);
	k2 = flow_key(&sp);
	expect(&c, csend(&cn, 0, req, req_len), TC_ACT_OK, "a request");
	expect(&c, run(dp.ingress_fd, buf,
		       frame(buf, sp.caddr, SERVER, sp.cport, sp.port, sp.cisn + 1,
			     sp.sisn + 1 + 0x80000000U, F_ACK, req, req_len, 0)),
	       TC_ACT_OK, "a request acknowledging what the server never sent");
	if (ps_dp_flow_lookup(&dp, &k1, &f) != efd)
		ck_fail(&c, "the established connection's flow is not in ps_flows_est");
	if (ps_dp_flow_lookup(&dp, &k2, &f) != lfd)
		ck_fail(&c, "the other connection's flow is not in ps_flows");
	for (i = 0; i < 3 * flows; i++)
		run(dp.ingress_fd, buf, frame(buf, 0xc6130000 + i, SERVER, 40000, PORT, 7, 0, F_SYN,
					      NULL, 0, 0));
	if (ps_dp_flow_lookup(&dp, &k1, &f) != efd)
		ck_fail(&c, "the established connection's flow is gone");
	if (ps_dp_flow_lookup(&dp, &k2, &f) >= 0)
		ck_fail(&c, "the flood left the other connection's flow");
	ssend(&cn, 0, req_len, resp, resp_len);
	expect(&c, csend(&cn, req_len, req, req_len), TC_ACT_OK, "the next request");
	if (ctr_of(cn.caddr, &ctr, &slot))
		ck_fail(&c, "no counters");
	else if (ctr.c.requests != 2 || ctr.c.inference_requests != 2)
		ck_fail(&c, "requests %llu, inference %llu: expected 2, 2",
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests);
	if (stat(PS_STAT_HUNTED) != hunted)
		ck_fail(&c, "stats.hunted moved: the stream lost its framing");
out:
	ck_end(&c);
}

/*
 * penstockd's sweep takes an established connection's flow 10 s after it
 * closed (FINs both ways), and leaves an open one until it is idle for
 * 300 s: the sweep is run as if 11 s had passed.
 */
static void closed_case(void)
{
	int efd = bpf_map__fd(dp.skel->maps.ps_flows_est);
	unsigned char buf[256];
	struct ps_flow_key k1, k2;
	struct conn cl, op;
	struct ps_flow f;
	uint32_t left, left_est;
	struct ck c;

	ck_init(&c, "closed-established-expired");
	if (handshake(&cl, CLIENT_BASE + 8) || handshake(&op, CLIENT_BASE + 9)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	k1 = flow_key(&cl);
	k2 = flow_key(&op);
	expect(&c, csend(&cl, 0, req, req_len), TC_ACT_OK, "a request");
	expect(&c, csend(&op, 0, req, req_len), TC_ACT_OK, "a request");
	expect(&c, run(dp.ingress_fd, buf,
		       frame(buf, cl.caddr, SERVER, cl.cport, cl.port, cl.cisn + 1 + req_len,
			     cl.sisn + 1, F_FIN | F_ACK, NULL, 0, 0)), TC_ACT_OK, "the client's FIN");
	expect(&c, run(dp.egress_fd, buf,
		       frame(buf, SERVER, cl.caddr, cl.port, cl.cport, cl.sisn + 1,
			     cl.cisn + 2 + req_len, F_FIN | F_ACK, NULL, 0, 0)),
	       TC_ACT_OK, "the server's FIN");
	if (ps_dp_flow_lookup(&dp, &k1, &f) != efd || ps_dp_flow_lookup(&dp, &k2, &f) != efd)
		ck_fail(&c, "the connections' flows are not in ps_flows_est");
	ps_flows_expire(&dp, boot_ns() + 11000000000ULL - 300000000000ULL, &left, &left_est,
			NULL, NULL);
	if (ps_dp_flow_lookup(&dp, &k1, &f) >= 0)
		ck_fail(&c, "the closed connection's flow is still there");
	if (ps_dp_flow_lookup(&dp, &k2, &f) != efd)
		ck_fail(&c, "the open connection's flow was taken");
out:
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	int err;

	default_request();
	resp_len = snprintf(resp, sizeof(resp),
			    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			    "Content-Length: 2\r\n\r\n{}");
	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PORT);
	return err ? err : dp_start(&cfg, 4096, 0);
}

int main(void)
{
	int err;

	if (geteuid()) {
		printf("SKIP evict: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	one_case("evicted-request-first", CLIENT_BASE + 1, 0);
	one_case("evicted-answer-first", CLIENT_BASE + 2, 1);
	one_case("evicted-ack-first", CLIENT_BASE + 3, 2);
	/* Cut 30 bytes into "POST /v1/chat/completions HTTP/1.1". */
	desync_case("evicted-desync-limited", CLIENT_BASE + 4, req, req_len, 30, 1);
	{
		/* A request line of 737 bytes: more than the parser keeps
		 * of a line; cut inside its version. */
		static char longreq[2048];
		char q[1024];
		unsigned int n, cut;

		memset(q, 'a', 700);
		q[700] = 0;
		n = snprintf(longreq, sizeof(longreq),
			     "POST /v1/chat/completions?q=%s HTTP/1.1\r\nHost: a\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     q, strlen(body), body);
		cut = strstr(longreq, " HTTP/1.1") - longreq + 4;
		desync_case("evicted-desync-long-line", CLIENT_BASE + 5, longreq, n, cut, 0);
	}
	closed_case();
	flood_case();	/* last: its flood fills the client table */
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
