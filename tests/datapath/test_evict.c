// SPDX-License-Identifier: GPL-2.0-only
/*
 * A connection whose flow state is taken from the flow table (LRU
 * eviction under a flood of new connections) between two requests: the
 * next request is counted all the same, whatever comes first after the
 * eviction (the client's next request, or the server's answer, ACK or
 * FIN to the last one).
 */
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

	bpf_map_delete_elem(bpf_map__fd(dp.skel->maps.ps_flows), &k);
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
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
