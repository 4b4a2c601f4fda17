/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP/2 cleartext for the datapath tests (test_http2.c, test_h2resp.c,
 * test_grpc.c): frames written byte by byte from RFC 9113 (a 9-byte
 * header: 24-bit length, type, flags, 31-bit stream), the connection
 * preface, and the server's side of a case's connection (what it has sent
 * so far, its SETTINGS, an answer's HEADERS).
 */
#ifndef PS_TEST_H2_H
#define PS_TEST_H2_H

#include "harness.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define INF_PATH	"/v1/chat/completions"

/* What the server has sent on the case's connection so far. */
static uint32_t soff __attribute__((unused));

/* A frame of type t, flags fl, on stream sid, with payload p[0..n), at b: its length. */
static inline unsigned int h2f(unsigned char *b, uint8_t t, uint8_t fl, uint32_t sid,
			       const void *p, unsigned int n)
{
	b[0] = n >> 16;
	b[1] = n >> 8;
	b[2] = n;
	b[3] = t;
	b[4] = fl;
	b[5] = sid >> 24;
	b[6] = sid >> 16;
	b[7] = sid >> 8;
	b[8] = sid;
	if (n)
		memcpy(b + 9, p, n);
	return 9 + n;
}

/* The server sends len bytes (acknowledging every client byte so far). */
static inline int ssend(const struct conn *c, const void *d, unsigned int len)
{
	unsigned char buf[4096];
	int v = run(dp.egress_fd, buf,
		    frame(buf, SERVER, c->caddr, c->port, c->cport, c->sisn + 1 + soff, c->cisn + 1,
			  F_ACK, d, len, 0));

	soff += len;
	return v;
}

/* The server's response HEADERS on sid: :status 200 (static 8). */
static inline unsigned int resp_headers(unsigned char *b, uint32_t sid)
{
	return h2f(b, 1, 0x4, sid, "\x88", 1);
}

/* The client: handshake, preface and an empty SETTINGS frame; *off after them. */
static inline void open_h2_client(struct ck *c, struct conn *cn, uint32_t caddr, uint32_t *off)
{
	unsigned char b[64];
	unsigned int n;

	soff = 0;
	if (handshake(cn, caddr))
		ck_fail(c, "handshake");
	memcpy(b, preface, 24);
	n = 24 + h2f(b + 24, 4, 0, 0, NULL, 0);
	expect(c, csend(cn, 0, b, n), TC_ACT_OK, "the preface");
	*off = n;
}

/* ... and the server: its SETTINGS (its preface). */
static inline void open_h2(struct ck *c, struct conn *cn, uint32_t caddr, uint32_t *off)
{
	unsigned char b[16];
	unsigned int n;

	open_h2_client(c, cn, caddr, off);
	/* SETTINGS_MAX_CONCURRENT_STREAMS 100 */
	n = h2f(b, 4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6);
	expect(c, ssend(cn, b, n), TC_ACT_OK, "the server's preface");
}

/* The datapath with port PORT an endpoint, 65536 clients (dp_start()'s limit). 0 or -errno. */
static inline int h2_setup(int limit)
{
	static struct ps_config cfg;
	int err;

	ps_config_init(&cfg);
	err = ps_config_add_port(&cfg, PORT);
	return err ? err : dp_start(&cfg, 65536, limit);
}

#endif
