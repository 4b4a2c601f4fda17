// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests of the daemon's client table and sliding windows
 * (userspace/count/clients.c) and of its state file (userspace/count/state.c).
 *
 * Every expected figure is a literal worked out by hand from the inputs
 * (the arithmetic is in the comment beside it), never a value asked of the
 * code under test. Times are explicit: T0 is a Unix time that starts a UTC
 * day (so also an hour and a minute), and each case says where in the
 * minute, hour or day it looks. Output: one line per case, "PASS name" or
 * "FAIL name: why"; the exit status is 1 if any case failed. State files
 * go to a private temporary directory, removed at the end.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "count/clients.h"
#include "count/state.h"
#include "../check.h"

/* The literals below list the counters in this order (that of struct ps_counters). */
_Static_assert(PS_F_CONNECTIONS == 0 && PS_F_REQUESTS == 1 && PS_F_INFERENCE == 2 &&
		       PS_F_RX_PACKETS == 3 && PS_F_TX_PACKETS == 4 && PS_F_RX_BYTES == 5 &&
		       PS_F_TX_BYTES == 6 && PS_F_RX_PAYLOAD == 7 && PS_F_TX_PAYLOAD == 8 &&
		       PS_NCTRFIELDS == 9 && PS_F_TX_EVENTS == 9 && PS_F_TX_TOKENS == 10 &&
		       PS_F_RX_TOKENS == 11 && PS_F_TX_TOKENS_ESTIMATED == 12 &&
		       PS_F_RX_MESSAGES == 13 && PS_F_TX_MESSAGES == 14 && PS_NFIELDS == 15,
	       "field order of the literals");

/* Counters, in the order conn, req, inf, rx_pkts, tx_pkts, rx_bytes, tx_bytes, rx_pl, tx_pl
 * (the token counters 0). */
#define CTR(conn, req, inf, rxp, txp, rxb, txb, rxpl, txpl) \
	{ (conn), (req), (inf), (rxp), (txp), (rxb), (txb), (rxpl), (txpl), 0, 0, 0, 0, 0, 0 }
/* A windowed view: the six windowed fields; connections, packets and tokens read 0. */
#define W6(req, inf, rxb, txb, rxpl, txpl) \
	{ 0, (req), (inf), 0, 0, (rxb), (txb), (rxpl), (txpl), 0, 0, 0, 0, 0, 0 }
#define ZERO6 W6(0, 0, 0, 0, 0, 0)
/* Counters and the token counters: tx_events, tx_tokens, rx_tokens, tx_tokens_estimated. */
#define CTRT(conn, req, inf, rxp, txp, rxb, txb, rxpl, txpl, ev, txt, rxt, est) \
	{ (conn), (req), (inf), (rxp), (txp), (rxb), (txb), (rxpl), (txpl), (ev), (txt), (rxt), (est), \
	  0, 0 }
/* ... and the gRPC message counters: rx_messages, tx_messages. */
#define CTRM(conn, req, inf, rxp, txp, rxb, txb, rxpl, txpl, ev, txt, rxt, est, rxm, txm) \
	{ (conn), (req), (inf), (rxp), (txp), (rxb), (txb), (rxpl), (txpl), (ev), (txt), (rxt), (est), \
	  (rxm), (txm) }
/* A windowed view with tokens: tx_events (totals only) and tx_tokens_estimated read 0. */
#define W8(req, inf, rxb, txb, rxpl, txpl, txt, rxt) \
	{ 0, (req), (inf), 0, 0, (rxb), (txb), (rxpl), (txpl), 0, (txt), (rxt), 0, 0, 0 }
/* The same with tx_tokens_estimated (windowed like tx_tokens and rx_tokens). */
#define W9(req, inf, rxb, txb, rxpl, txpl, txt, rxt, est) \
	{ 0, (req), (inf), 0, 0, (rxb), (txb), (rxpl), (txpl), 0, (txt), (rxt), (est), 0, 0 }
/* ... and with the gRPC message counters (windowed too). */
#define W11(req, inf, rxb, txb, rxpl, txpl, txt, rxt, est, rxm, txm) \
	{ 0, (req), (inf), 0, 0, (rxb), (txb), (rxpl), (txpl), 0, (txt), (rxt), (est), (rxm), (txm) }

#define GiB (1ULL << 30)
/* 2024-10-04T00:00:00Z = 20000 * 86400: starts a UTC day, hour and minute. */
#define T0 1728000000U
#define NS 1000000000ULL

static char tmpdir[] = "/tmp/penstock-unit-clients-XXXXXX";
static const char *const fname[PS_NFIELDS] = {
	"connections", "requests", "inference_requests", "rx_packets", "tx_packets",
	"rx_bytes",    "tx_bytes", "rx_payload",	 "tx_payload", "tx_events",
	"tx_tokens",   "rx_tokens", "tx_tokens_estimated", "rx_messages", "tx_messages",
};


/* Unix milliseconds of T0 + s seconds. */
static uint64_t at(double s)
{
	return (uint64_t)T0 * 1000 + (uint64_t)llround(s * 1000.0);
}

static struct ps_client_key key_of(int family, const char *s)
{
	struct ps_client_key k;

	memset(&k, 0, sizeof(k));
	k.family = family;
	if (inet_pton(family == PS_AF_INET ? AF_INET : AF_INET6, s, k.addr.a) != 1) {
		printf("FAIL setup: bad address literal %s\n", s);
		exit(1);
	}
	return k;
}

static struct ps_client_key key4(const char *s)
{
	return key_of(PS_AF_INET, s);
}

static struct ps_client_key key6(const char *s)
{
	return key_of(PS_AF_INET6, s);
}

/* The IPv4 address net + i (host order), or 2001:db8::i for IPv6. */
static struct ps_client_key key_num(int family, uint32_t net, uint32_t i)
{
	struct ps_client_key k;

	memset(&k, 0, sizeof(k));
	k.family = family;
	if (family == PS_AF_INET) {
		k.addr.a[0] = htonl(net + i);
	} else {
		k.addr.a[0] = htonl(0x20010db8);
		k.addr.a[3] = htonl(i);
	}
	return k;
}

static const char *key_str(const struct ps_client_key *k, char *buf, size_t len)
{
	if (!inet_ntop(k->family == PS_AF_INET ? AF_INET : AF_INET6, k->addr.a, buf,
		       (socklen_t)len))
		snprintf(buf, len, "(family %u)", k->family);
	return buf;
}

static void set_ctr(struct ps_counters *c, const uint64_t v[PS_NFIELDS], uint64_t first_ns,
		    uint64_t last_ns)
{
	memset(c, 0, sizeof(*c));
	c->connections = v[PS_F_CONNECTIONS];
	c->requests = v[PS_F_REQUESTS];
	c->inference_requests = v[PS_F_INFERENCE];
	c->rx_packets = v[PS_F_RX_PACKETS];
	c->tx_packets = v[PS_F_TX_PACKETS];
	c->rx_bytes = v[PS_F_RX_BYTES];
	c->tx_bytes = v[PS_F_TX_BYTES];
	c->rx_payload = v[PS_F_RX_PAYLOAD];
	c->tx_payload = v[PS_F_TX_PAYLOAD];
	c->first_seen_ns = first_ns;
	c->last_seen_ns = last_ns;
}

/* Feed one read of a map entry: counters v of incarnation first_ns at T0 + s. */
static bool upd_full(struct ck *ck, struct ps_ctable *t, const struct ps_client_key *k,
		     const uint64_t v[PS_NFIELDS], uint64_t first_ns, uint64_t last_ns, uint32_t s,
		     int64_t b2w)
{
	struct ps_counters c;
	struct ps_tokens tk;
	char a[64];
	int rc;

	set_ctr(&c, v, first_ns, last_ns);
	memcpy(tk.v, v + PS_NCTRFIELDS, sizeof(tk.v));
	rc = ps_ctable_update(t, k, &c, &tk, T0 + s, b2w);
	if (rc)
		ck_fail(ck, "ps_ctable_update(%s) returned %d", key_str(k, a, sizeof(a)), rc);
	return !rc;
}

/* boot_to_wall 0 and small first_seen_ns: first seen is the time of the first read. */
static bool upd(struct ck *ck, struct ps_ctable *t, const struct ps_client_key *k,
		const uint64_t v[PS_NFIELDS], uint64_t first_ns, uint32_t s)
{
	return upd_full(ck, t, k, v, first_ns, 0, s, 0);
}

static const struct ps_crec *find(struct ck *ck, const struct ps_ctable *t,
				  const struct ps_client_key *k, const char *label)
{
	const struct ps_crec *r = ps_ctable_find(t, k);
	char a[64];

	if (!r)
		ck_fail(ck, "%s: client %s not found", label, key_str(k, a, sizeof(a)));
	return r;
}

static void check_totals(struct ck *ck, const char *label, const struct ps_ctable *t,
			 const struct ps_client_key *k, const uint64_t want[PS_NFIELDS])
{
	const struct ps_crec *r = find(ck, t, k, label);
	uint64_t got[PS_NFIELDS];
	char a[64];
	int f;

	if (!r)
		return;
	ps_crec_totals(t, r, got);
	for (f = 0; f < PS_NFIELDS; f++)
		if (got[f] != want[f]) {
			ck_fail(ck, "%s: %s total %s %llu, expected %llu", label,
				key_str(k, a, sizeof(a)), fname[f], (unsigned long long)got[f],
				(unsigned long long)want[f]);
			return;
		}
}

/*
 * A view: the counters exactly (the inputs are chosen so that every weight
 * and product is exact in binary), rpm to 1e-9 relative.
 */
static void check_view(struct ck *ck, const char *label, const struct ps_ctable *t,
		       const struct ps_client_key *k, enum ps_window win, uint64_t now_ms,
		       const double want[PS_NFIELDS], double want_rpm)
{
	const struct ps_crec *r = find(ck, t, k, label);
	double off = ((double)now_ms - (double)T0 * 1000.0) / 1000.0;
	struct ps_cview v;
	char a[64];
	int f;

	if (!r)
		return;
	ps_crec_view(t, r, win, now_ms, &v);
	for (f = 0; f < PS_NFIELDS; f++)
		if (v.v[f] != want[f]) {
			ck_fail(ck, "%s: %s %s view at T0+%.3fs: %s %.4f, expected %.4f", label,
				key_str(k, a, sizeof(a)), ps_window_names[win], off, fname[f],
				v.v[f], want[f]);
			return;
		}
	if (fabs(v.rpm - want_rpm) > 1e-9 * fmax(1.0, fabs(want_rpm)))
		ck_fail(ck, "%s: %s %s view at T0+%.3fs: rpm %.9f, expected %.9f", label,
			key_str(k, a, sizeof(a)), ps_window_names[win], off, v.rpm, want_rpm);
}

/* ------------------------------------------------------------------ totals */

static void test_totals(void)
{
	struct ps_client_key a = key4("198.51.100.7"), b = key4("10.1.2.3");
	struct ps_client_key c = key6("2001:db8::42"), d = key6("fe80::1");
	static const uint64_t a1[] = CTR(1, 2, 1, 10, 12, 900, 15000, 300, 14000);
	static const uint64_t a2[] = CTR(1, 5, 4, 20, 25, 1800, 30000, 600, 28000);
	static const uint64_t a3[] = CTR(2, 9, 7, 31, 40, 2700, 47000, 900, 44500);
	static const uint64_t b1[] = CTR(3, 3, 0, 6, 6, 400, 500, 100, 200);
	static const uint64_t b3[] = CTR(4, 10, 2, 50, 70, 6000, 90000, 2000, 85000);
	static const uint64_t c1[] = CTR(1, 1, 1, 8, 9, 1200, 4000, 500, 3000);
	static const uint64_t c2[] = CTR(5, 20, 18, 100, 120, 30000, 400000, 20000, 380000);
	static const uint64_t d1[] = CTR(7, 0, 0, 7, 0, 420, 0, 0, 0);
	/* the same counters as views of the totals, as doubles */
	static const double a3d[] = CTR(2, 9, 7, 31, 40, 2700, 47000, 900, 44500);
	static const double d1d[] = CTR(7, 0, 0, 7, 0, 420, 0, 0, 0);
	struct ps_ctable t;
	struct ck ck;

	ck_init(&ck, "totals_ipv4_ipv6");
	ps_ctable_init(&t);
	/* reads interleaved across clients, each cumulative, one incarnation each */
	upd(&ck, &t, &a, a1, 1000, 1);
	upd(&ck, &t, &b, b1, 2000, 1);
	upd(&ck, &t, &c, c1, 3000, 1);
	upd(&ck, &t, &a, a2, 1000, 2);
	upd(&ck, &t, &b, b1, 2000, 2);	/* unchanged */
	upd(&ck, &t, &d, d1, 4000, 2);
	upd(&ck, &t, &c, c2, 3000, 3);
	upd(&ck, &t, &a, a3, 1000, 3);
	upd(&ck, &t, &b, b3, 2000, 3);
	if (t.n != 4)
		ck_fail(&ck, "%u records, expected 4", t.n);
	/* totals are the last counters read */
	check_totals(&ck, "a", &t, &a, a3);
	check_totals(&ck, "b", &t, &b, b3);
	check_totals(&ck, "c", &t, &c, c2);
	check_totals(&ck, "d", &t, &d, d1);
	/* the total view gives the same figures; rpm = inference / max(1, minutes) */
	check_view(&ck, "a", &t, &a, PS_WIN_TOTAL, at(3), a3d, 7.0);
	check_view(&ck, "d", &t, &d, PS_WIN_TOTAL, at(3), d1d, 0.0);
	ck_end(&ck);
	ps_ctable_free(&t);

	ck_init(&ck, "v4_mapped_is_another_client");
	{
		struct ps_client_key v4 = key4("192.0.2.1"), v6 = key6("::ffff:192.0.2.1");
		struct ps_client_key other = key6("::ffff:192.0.2.2");
		static const uint64_t x[] = CTR(1, 2, 2, 3, 4, 500, 600, 100, 200);
		static const uint64_t y[] = CTR(9, 8, 7, 6, 5, 4000, 3000, 2000, 1000);
		const struct ps_crec *r4, *r6;

		ps_ctable_init(&t);
		upd(&ck, &t, &v4, x, 1000, 10);
		upd(&ck, &t, &v6, y, 1000, 10);
		if (t.n != 2)
			ck_fail(&ck, "%u records, expected 2", t.n);
		check_totals(&ck, "IPv4", &t, &v4, x);
		check_totals(&ck, "v4-mapped", &t, &v6, y);
		r4 = ps_ctable_find(&t, &v4);
		r6 = ps_ctable_find(&t, &v6);
		if (r4 && r4 == r6)
			ck_fail(&ck, "both keys give the same record");
		if (r6 && r6->key.family != PS_AF_INET6)
			ck_fail(&ck, "v4-mapped record has family %u", r6->key.family);
		if (ps_ctable_find(&t, &other))
			ck_fail(&ck, "found ::ffff:192.0.2.2, never added");
		ck_end(&ck);
		ps_ctable_free(&t);
	}

	ck_init(&ck, "same_bytes_other_family");
	{
		/* 1.2.3.4 and 102:304:: hold the same 16 address bytes */
		struct ps_client_key v4 = key4("1.2.3.4"), v6 = key6("102:304::");
		static const uint64_t x[] = CTR(1, 1, 1, 1, 1, 1, 1, 1, 1);
		static const uint64_t y[] = CTR(2, 2, 2, 2, 2, 2, 2, 2, 2);

		if (memcmp(&v4.addr, &v6.addr, sizeof(v4.addr)))
			ck_fail(&ck, "setup: the two addresses differ in their bytes");
		ps_ctable_init(&t);
		upd(&ck, &t, &v4, x, 1000, 10);
		if (ps_ctable_find(&t, &v6))
			ck_fail(&ck, "102:304:: found before it was added");
		upd(&ck, &t, &v6, y, 1000, 10);
		if (t.n != 2)
			ck_fail(&ck, "%u records, expected 2", t.n);
		check_totals(&ck, "IPv4", &t, &v4, x);
		check_totals(&ck, "IPv6", &t, &v6, y);
		ck_end(&ck);
		ps_ctable_free(&t);
	}

	ck_init(&ck, "first_last_seen");
	{
		/* the kernel clock reads 0 at T0 - 1000 s */
		int64_t b2w = (int64_t)(T0 - 1000) * (int64_t)NS;
		struct ps_client_key e = key4("198.51.100.20"), f = key4("198.51.100.21");
		struct ps_client_key g = key4("198.51.100.22");
		static const uint64_t e1[] = CTR(1, 10, 10, 1, 1, 100, 100, 100, 100);
		static const uint64_t e2[] = CTR(1, 100, 100, 2, 2, 200, 200, 200, 200);
		static const double e2d[] = CTR(1, 100, 100, 2, 2, 200, 200, 200, 200);
		const struct ps_crec *r;

		ps_ctable_init(&t);
		/* first packet at 400 s: T0 - 600; last at 1005 s: T0 + 5; read at T0 + 10 */
		upd_full(&ck, &t, &e, e1, 400 * NS, 1005 * NS, 10, b2w);
		r = find(&ck, &t, &e, "e");
		if (r && (r->first_wall != T0 - 600 || r->last_wall != T0 + 5))
			ck_fail(&ck, "first/last seen T0%+llds/T0%+llds, expected T0-600s/T0+5s",
				(long long)r->first_wall - T0, (long long)r->last_wall - T0);
		/* last packet at 2000 s = T0 + 1000, after the read at T0 + 20: now */
		upd_full(&ck, &t, &e, e2, 400 * NS, 2000 * NS, 20, b2w);
		r = find(&ck, &t, &e, "e");
		if (r && (r->first_wall != T0 - 600 || r->last_wall != T0 + 20))
			ck_fail(&ck, "first/last seen T0%+llds/T0%+llds, expected T0-600s/T0+20s",
				(long long)r->first_wall - T0, (long long)r->last_wall - T0);
		/* T0 + 600 is 1200 s = 20 minutes after first seen: rpm 100 / 20 = 5 */
		check_view(&ck, "e", &t, &e, PS_WIN_TOTAL, at(600), e2d, 5.0);
		/* first packet at 5000 s = T0 + 4000, after the read: first seen = now */
		upd_full(&ck, &t, &f, e1, 5000 * NS, 0, 10, b2w);
		r = find(&ck, &t, &f, "f");
		if (r && (r->first_wall != T0 + 10 || r->last_wall != T0 + 10))
			ck_fail(&ck, "future first packet: first/last seen T0%+llds/T0%+llds, expected T0+10s/T0+10s",
				(long long)r->first_wall - T0, (long long)r->last_wall - T0);
		/* no clock (boot_to_wall 0, first_seen 1 ns): the time of the read */
		upd(&ck, &t, &g, e1, 1, 30);
		r = find(&ck, &t, &g, "g");
		if (r && (r->first_wall != T0 + 30 || r->last_wall != T0 + 30))
			ck_fail(&ck, "first/last seen T0%+llds/T0%+llds, expected T0+30s/T0+30s",
				(long long)r->first_wall - T0, (long long)r->last_wall - T0);
		ck_end(&ck);
		ps_ctable_free(&t);
	}

	ck_init(&ck, "fold_found_record");
	{
		/* ps_ctable_fold on a found record is the same as ps_ctable_update */
		struct ps_client_key k = key4("198.51.100.30");
		static const uint64_t f1[] = CTR(1, 4, 3, 5, 6, 700, 800, 90, 100);
		static const uint64_t f2[] = CTR(2, 8, 6, 10, 12, 1400, 1600, 180, 200);
		static const uint64_t f3[] = CTR(1, 1, 1, 1, 1, 10, 10, 10, 10);
		/* f2 + f3: a new entry after f2 */
		static const uint64_t f23[] = CTR(3, 9, 7, 11, 13, 1410, 1610, 190, 210);
		struct ps_counters cnt;
		struct ps_crec *r;
		int rc;

		ps_ctable_init(&t);
		upd(&ck, &t, &k, f1, 1000, 10);
		r = ps_ctable_find(&t, &k);
		if (!r) {
			ck_fail(&ck, "not found after ps_ctable_update");
		} else {
			set_ctr(&cnt, f2, 1000, 0);
			rc = ps_ctable_fold(&t, r, &cnt, NULL, T0 + 20, 0);
			if (rc)
				ck_fail(&ck, "ps_ctable_fold returned %d", rc);
			check_totals(&ck, "same entry", &t, &k, f2);
			set_ctr(&cnt, f3, 2000, 0);
			rc = ps_ctable_fold(&t, r, &cnt, NULL, T0 + 30, 0);
			if (rc)
				ck_fail(&ck, "ps_ctable_fold returned %d", rc);
			check_totals(&ck, "new entry", &t, &k, f23);
			if (t.n != 1)
				ck_fail(&ck, "%u records, expected 1", t.n);
		}
		ck_end(&ck);
		ps_ctable_free(&t);
	}

	ck_init(&ck, "total_rpm");
	{
		struct ps_client_key k = key6("2001:db8::77");
		static const uint64_t kc[] = CTR(2, 1600, 1520, 10, 10, 1000, 2000, 300, 400);
		static const double cd[] = CTR(2, 1600, 1520, 10, 10, 1000, 2000, 300, 400);

		ps_ctable_init(&t);
		upd(&ck, &t, &k, kc, 1000, 10);	/* first seen T0 + 10 */
		/* T0 + 610: 10 minutes; 1520 / 10 = 152 */
		check_view(&ck, "10 min", &t, &k, PS_WIN_TOTAL, at(610), cd, 152.0);
		/* T0 + 40: half a minute, counted as one: 1520 / 1 */
		check_view(&ck, "30 s", &t, &k, PS_WIN_TOTAL, at(40), cd, 1520.0);
		/* T0 + 3610: 60 minutes: 1520 / 60 */
		check_view(&ck, "60 min", &t, &k, PS_WIN_TOTAL, at(3610), cd, 1520.0 / 60.0);
		/* T0 + 100: 1.5 minutes: 1520 / 1.5 */
		check_view(&ck, "90 s", &t, &k, PS_WIN_TOTAL, at(100), cd, 1520.0 / 1.5);
		ck_end(&ck);
		ps_ctable_free(&t);
	}
}

/* ------------------------------------------------------------ incarnations */

static void test_incarnations(void)
{
	struct ps_ctable t;
	struct ck ck;

	ck_init(&ck, "incarnation_recreated");
	{
		struct ps_client_key k = key4("203.0.113.1");
		static const uint64_t a1[] = CTR(2, 10, 8, 20, 22, 3000, 9000, 1500, 7000);
		static const uint64_t a2[] = CTR(3, 15, 12, 30, 33, 4500, 13500, 2250, 10500);
		static const uint64_t b1[] = CTR(1, 2, 1, 4, 4, 600, 1800, 300, 1400);
		static const uint64_t b2[] = CTR(2, 4, 3, 8, 9, 1200, 3600, 600, 2800);
		/* a2 + b1 */
		static const uint64_t w1[] = CTR(4, 17, 13, 34, 37, 5100, 15300, 2550, 11900);
		/* a2 + b2 */
		static const uint64_t w2[] = CTR(5, 19, 15, 38, 42, 5700, 17100, 2850, 13300);
		/* all of it in minute T0: the windowed fields of w2 */
		static const double v2[] = W6(19, 15, 5700, 17100, 2850, 13300);
		const struct ps_crec *r;

		ps_ctable_init(&t);
		upd(&ck, &t, &k, a1, 1000, 10);
		upd(&ck, &t, &k, a2, 1000, 20);
		upd(&ck, &t, &k, b1, 5000, 30);	/* evicted and created again */
		check_totals(&ck, "after re-creation", &t, &k, w1);
		upd(&ck, &t, &k, b2, 5000, 40);
		check_totals(&ck, "second read of the new entry", &t, &k, w2);
		r = find(&ck, &t, &k, "k");
		if (r && r->inc_ns != 5000)
			ck_fail(&ck, "follows incarnation %llu, expected 5000",
				(unsigned long long)r->inc_ns);
		if (t.n != 1)
			ck_fail(&ck, "%u records, expected 1", t.n);
		check_view(&ck, "window", &t, &k, PS_WIN_1M, at(50), v2, 15.0);
		ck_end(&ck);
		ps_ctable_free(&t);
	}

	ck_init(&ck, "incarnation_counter_backwards");
	{
		struct ps_client_key k = key4("203.0.113.2"), j = key4("203.0.113.3");
		static const uint64_t x[] = CTR(5, 50, 40, 100, 120, 10000, 20000, 8000, 18000);
		/* all restart low, same first_seen_ns */
		static const uint64_t y[] = CTR(1, 2, 1, 3, 3, 300, 900, 100, 700);
		/* x + y */
		static const uint64_t xy[] = CTR(6, 52, 41, 103, 123, 10300, 20900, 8100, 18700);
		/* only tx_payload goes back (18000 -> 100), the rest grows a little */
		static const uint64_t z[] = CTR(5, 51, 41, 101, 121, 10100, 20100, 8050, 100);
		/* x + z: the whole of z is a new entry's count */
		static const uint64_t xz[] = CTR(10, 101, 81, 201, 241, 20100, 40100, 16050, 18100);
		/* windows: x then z, all within minute T0 */
		static const double vxz[] = W6(101, 81, 20100, 40100, 16050, 18100);

		ps_ctable_init(&t);
		upd(&ck, &t, &k, x, 1000, 10);
		upd(&ck, &t, &k, y, 1000, 20);
		check_totals(&ck, "all back", &t, &k, xy);
		upd(&ck, &t, &j, x, 1000, 10);
		upd(&ck, &t, &j, z, 1000, 20);
		check_totals(&ck, "one back", &t, &j, xz);
		check_view(&ck, "one back", &t, &j, PS_WIN_1M, at(30), vxz, 81.0);
		ck_end(&ck);
		ps_ctable_free(&t);
	}

	ck_init(&ck, "incarnation_several");
	{
		struct ps_client_key k = key6("2001:db8::99");
		static const uint64_t i1a[] = CTR(1, 10, 10, 10, 10, 1000, 1000, 100, 100);
		static const uint64_t i1b[] = CTR(2, 20, 20, 20, 20, 2000, 2000, 200, 200);
		static const uint64_t i2[] = CTR(1, 5, 5, 5, 5, 500, 500, 50, 50);
		static const uint64_t i3[] = CTR(3, 30, 30, 30, 30, 3000, 3000, 300, 300);
		static const uint64_t i4a[] = CTR(1, 1, 1, 1, 1, 100, 100, 10, 10);
		static const uint64_t i4b[] = CTR(2, 2, 2, 2, 2, 200, 200, 20, 20);
		/* i1b + i2 + i3 + i4b: 2+1+3+2, 20+5+30+2, ..., 2000+500+3000+200, 200+50+300+20 */
		static const uint64_t sum[] = CTR(8, 57, 57, 57, 57, 5700, 5700, 570, 570);
		/*
		 * 1m at T0 + 195 (minute T0+3m, 15 s in): current bucket i4b,
		 * previous (minute T0+2m: i3) x 0.75: 2 + 30 x 0.75 = 24.5,
		 * 200 + 3000 x 0.75 = 2450, 20 + 300 x 0.75 = 245
		 */
		static const double v1m[] = W6(24.5, 24.5, 2450, 2450, 245, 245);
		/* 1h at T0 + 195: all of it */
		static const double v1h[] = W6(57, 57, 5700, 5700, 570, 570);
		const struct ps_crec *r;

		ps_ctable_init(&t);
		upd(&ck, &t, &k, i1a, 1000, 10);
		upd(&ck, &t, &k, i1b, 1000, 20);
		upd(&ck, &t, &k, i2, 2000, 70);
		upd(&ck, &t, &k, i3, 3000, 130);
		upd(&ck, &t, &k, i4a, 4000, 190);
		upd(&ck, &t, &k, i4b, 4000, 200);
		check_totals(&ck, "four entries", &t, &k, sum);
		r = find(&ck, &t, &k, "k");
		if (r && r->inc_ns != 4000)
			ck_fail(&ck, "follows incarnation %llu, expected 4000",
				(unsigned long long)r->inc_ns);
		check_view(&ck, "1m", &t, &k, PS_WIN_1M, at(195), v1m, 24.5);
		check_view(&ck, "1h", &t, &k, PS_WIN_1H, at(195), v1h, 57.0 / 60.0);
		ck_end(&ck);
		ps_ctable_free(&t);
	}
}

/* ----------------------------------------------------------------- windows */

/* c1 then c2: everything in minute T0 (T0 + 10 and T0 + 40). */
static const uint64_t wc1[] = CTR(2, 800, 720, 25, 30, 20000, 40000, 12000, 36000);
static const uint64_t wc2[] = CTR(4, 1600, 1440, 50, 60, 40000, 80000, 24000, 72000);
/* wc2's windowed fields, whole and x 0.75 (1600 x 0.75 = 1200, 1440 x 0.75 = 1080 ...) */
static const double wfull[] = W6(1600, 1440, 40000, 80000, 24000, 72000);
static const double w075[] = W6(1200, 1080, 30000, 60000, 18000, 54000);
static const double w050[] = W6(800, 720, 20000, 40000, 12000, 36000);
static const double wzero[] = ZERO6;

static void test_windows(void)
{
	struct ps_client_key k = key4("192.0.2.50"), k2 = key4("192.0.2.51");
	struct ps_ctable t;
	struct ck ck;

	ps_ctable_init(&t);
	ck_init(&ck, "window_1m");
	upd(&ck, &t, &k, wc1, 1000, 10);
	upd(&ck, &t, &k, wc2, 1000, 40);
	/* within minute T0: the delta; rpm = inference in the window */
	check_view(&ck, "same minute", &t, &k, PS_WIN_1M, at(50), wfull, 1440);
	check_view(&ck, "last ms of the minute", &t, &k, PS_WIN_1M, at(59.999), wfull, 1440);
	/* T0 + 75 s: 15 s into the next minute, 45/60 = 0.75 of the bucket inside */
	check_view(&ck, "M+1m15s", &t, &k, PS_WIN_1M, at(75), w075, 1080);
	/* T0 + 90 s: 0.5 */
	check_view(&ck, "M+1m30s", &t, &k, PS_WIN_1M, at(90), w050, 720);
	/* T0 + 120 s: the bucket is out of the window */
	check_view(&ck, "M+2m", &t, &k, PS_WIN_1M, at(120), wzero, 0);
	check_view(&ck, "M+1h", &t, &k, PS_WIN_1M, at(3600), wzero, 0);
	ck_end(&ck);

	ck_init(&ck, "window_1h");
	/* rpm = window inference / 60: 1440 / 60 = 24, 1080 / 60 = 18 */
	check_view(&ck, "same minute", &t, &k, PS_WIN_1H, at(50), wfull, 24);
	check_view(&ck, "same hour", &t, &k, PS_WIN_1H, at(1800), wfull, 24);
	check_view(&ck, "last second of the hour", &t, &k, PS_WIN_1H, at(3599), wfull, 24);
	/* T0 + 1h15m: 45/60 of the previous hour inside */
	check_view(&ck, "H+1h15m", &t, &k, PS_WIN_1H, at(3600 + 900), w075, 18);
	/* T0 + 1h30m: 0.5; 720 / 60 = 12 */
	check_view(&ck, "H+1h30m", &t, &k, PS_WIN_1H, at(3600 + 1800), w050, 12);
	check_view(&ck, "H+2h", &t, &k, PS_WIN_1H, at(7200), wzero, 0);
	ck_end(&ck);

	ck_init(&ck, "window_24h");
	/* rpm = window inference / 1440: 1440 / 1440 = 1, 1080 / 1440 = 0.75 */
	check_view(&ck, "same day", &t, &k, PS_WIN_24H, at(43200), wfull, 1);
	check_view(&ck, "last second of the day", &t, &k, PS_WIN_24H, at(86399), wfull, 1);
	/* T0 + 1d6h: 18/24 = 0.75 of the previous day inside */
	check_view(&ck, "D+1d6h", &t, &k, PS_WIN_24H, at(86400 + 21600), w075, 0.75);
	/* T0 + 1d12h: 0.5; 720 / 1440 */
	check_view(&ck, "D+1d12h", &t, &k, PS_WIN_24H, at(86400 + 43200), w050, 0.5);
	check_view(&ck, "D+2d", &t, &k, PS_WIN_24H, at(2 * 86400), wzero, 0);
	ck_end(&ck);

	ck_init(&ck, "window_total_unchanged");
	{
		/* the total view keeps everything at any time, packets and connections too */
		static const double tot[] = CTR(4, 1600, 1440, 50, 60, 40000, 80000, 24000, 72000);

		/* first seen T0 + 10; at T0 + 2d + 10: 2880 minutes; 1440 / 2880 = 0.5 */
		check_view(&ck, "D+2d", &t, &k, PS_WIN_TOTAL, at(2 * 86400 + 10), tot, 0.5);
	}
	ck_end(&ck);

	ck_init(&ck, "window_two_minutes");
	{
		static const uint64_t c3[] = CTR(5, 1700, 1520, 55, 66, 41000, 82000, 24500, 73500);
		/* + 10 requests, 10 inference, 100 bytes of each in hour T0+1h */
		static const uint64_t c4[] = CTR(5, 1710, 1530, 55, 66, 41100, 82100, 24600, 73600);
		/*
		 * minute T0: wc2; minute T0+1m: e = c3 - wc2 = 100 req, 80 inf,
		 * 1000 rx, 2000 tx, 500 rx_pl, 1500 tx_pl.
		 * 1m at T0 + 75: e + 0.75 x wc2 = 100 + 1200, 80 + 1080, 1000 + 30000,
		 * 2000 + 60000, 500 + 18000, 1500 + 54000
		 */
		static const double m75[] = W6(1300, 1160, 31000, 62000, 18500, 55500);
		/* 1m at T0 + 135: 0.75 x e */
		static const double m135[] = W6(75, 60, 750, 1500, 375, 1125);
		/* 1h at T0 + 75: wc2 + e, the previous hour empty */
		static const double h75[] = W6(1700, 1520, 41000, 82000, 24500, 73500);
		/* 1m at T0 + 1h45s: only g = c4 - c3, the minute before had nothing */
		static const double m3645[] = W6(10, 10, 100, 100, 100, 100);
		/*
		 * 1h at T0 + 1h15m: g + 0.75 x (wc2 + e) = 10 + 1275, 10 + 1140,
		 * 100 + 30750, 100 + 61500, 100 + 18375, 100 + 55125
		 */
		static const double h4500[] = W6(1285, 1150, 30850, 61600, 18475, 55225);
		/* 24h at T0 + 1h15m: the whole day */
		static const double d4500[] = W6(1710, 1530, 41100, 82100, 24600, 73600);

		upd(&ck, &t, &k2, wc2, 1000, 10);
		upd(&ck, &t, &k2, c3, 1000, 70);
		upd(&ck, &t, &k2, c3, 1000, 100);	/* nothing new */
		upd(&ck, &t, &k2, c3, 1000, 130);	/* nothing new, next minute */
		check_view(&ck, "1m", &t, &k2, PS_WIN_1M, at(75), m75, 1160);
		check_view(&ck, "1m", &t, &k2, PS_WIN_1M, at(135), m135, 60);
		check_view(&ck, "1h", &t, &k2, PS_WIN_1H, at(75), h75, 1520.0 / 60);
		/* T0 + 195: minute T0+3m; the last traffic, minute T0+1m, is out */
		check_view(&ck, "1m", &t, &k2, PS_WIN_1M, at(195), wzero, 0);
		upd(&ck, &t, &k2, c4, 1000, 3600 + 30);
		check_view(&ck, "1m", &t, &k2, PS_WIN_1M, at(3645), m3645, 10);
		check_view(&ck, "1h", &t, &k2, PS_WIN_1H, at(4500), h4500, 1150.0 / 60);
		check_view(&ck, "24h", &t, &k2, PS_WIN_24H, at(4500), d4500, 1530.0 / 1440);
	}
	ck_end(&ck);
	ps_ctable_free(&t);

	ck_init(&ck, "window_unwindowed_fields");
	{
		/* only connections and packets move: every window reads 0, totals don't */
		struct ps_client_key k3 = key6("2001:db8::50");
		static const uint64_t p1[] = CTR(3, 0, 0, 40, 50, 0, 0, 0, 0);
		static const uint64_t p2[] = CTR(7, 0, 0, 90, 110, 0, 0, 0, 0);
		static const double p2d[] = CTR(7, 0, 0, 90, 110, 0, 0, 0, 0);

		ps_ctable_init(&t);
		upd(&ck, &t, &k3, p1, 1000, 10);
		upd(&ck, &t, &k3, p2, 1000, 20);
		check_view(&ck, "1m", &t, &k3, PS_WIN_1M, at(30), wzero, 0);
		check_view(&ck, "1h", &t, &k3, PS_WIN_1H, at(30), wzero, 0);
		check_view(&ck, "24h", &t, &k3, PS_WIN_24H, at(30), wzero, 0);
		check_view(&ck, "total", &t, &k3, PS_WIN_TOTAL, at(30), p2d, 0);
		ps_ctable_free(&t);
	}
	ck_end(&ck);
}

/* -------------------------------------------------------------------- wide */

static void test_wide(void)
{
	struct ps_client_key k = key4("198.18.0.1");
	/* tx_bytes 3 GiB, then 3 GiB more in the same minute; tx_payload ends at 2^32 - 1 */
	static const uint64_t a[] = CTR(1, 1, 1, 10, 10, 100, 3 * GiB, 50, 2 * GiB);
	static const uint64_t b[] = CTR(2, 3, 2, 20, 20, 200, 6 * GiB, 100, 4294967295ULL);
	/* 6 GiB = 6442450944 */
	static const double vb[] = W6(3, 2, 200, 6442450944.0, 100, 4294967295.0);
	/* next minute: + 2 req, 1 inf, 100 rx, 1 GiB tx, 50 rx_pl, 1000 tx_pl */
	static const uint64_t c[] = CTR(3, 5, 3, 30, 30, 300, 7 * GiB, 150, 4294968295ULL);
	/*
	 * 1m at T0 + 75: delta + 0.75 x minute T0 = 2 + 2.25, 1 + 1.5, 100 + 150,
	 * 1073741824 + 4831838208, 50 + 75, 1000 + 3221225471.25
	 */
	static const double m75[] = W6(4.25, 2.5, 250, 5905580032.0, 125, 3221226471.25);
	/* 1h at T0 + 75: all; 7 GiB = 7516192768 */
	static const double h75[] = W6(5, 3, 300, 7516192768.0, 150, 4294968295.0);
	/* 1m at T0 + 135: 0.75 x delta: 1.5, 0.75, 75, 805306368, 37.5, 750 */
	static const double m135[] = W6(1.5, 0.75, 75, 805306368.0, 37.5, 750);
	/* next hour: + 1 req, 1 inf, 100 rx, 1 GiB tx, 50 rx_pl, 1000 tx_pl */
	static const uint64_t d[] = CTR(3, 6, 4, 31, 31, 400, 8 * GiB, 200, 4294969295ULL);
	/*
	 * 1h at T0 + 1h15m: delta + 0.75 x hour T0 = 1 + 3.75, 1 + 2.25, 100 + 225,
	 * 1073741824 + 5637144576, 50 + 112.5, 1000 + 3221226221.25
	 */
	static const double h4500[] = W6(4.75, 3.25, 325, 6710886400.0, 162.5, 3221227221.25);
	/* 24h at T0 + 1h15m: the day so far; 8 GiB = 8589934592 */
	static const double d4500[] = W6(6, 4, 400, 8589934592.0, 200, 4294969295.0);
	struct ps_ctable t;
	struct ck ck;

	ps_ctable_init(&t);
	ck_init(&ck, "wide_promotion");
	upd(&ck, &t, &k, a, 1000, 5);
	upd(&ck, &t, &k, b, 1000, 30);
	check_totals(&ck, "totals", &t, &k, b);
	check_view(&ck, "1m", &t, &k, PS_WIN_1M, at(50), vb, 2);
	check_view(&ck, "1h", &t, &k, PS_WIN_1H, at(50), vb, 2.0 / 60);
	check_view(&ck, "24h", &t, &k, PS_WIN_24H, at(50), vb, 2.0 / 1440);
	ck_end(&ck);

	ck_init(&ck, "wide_after_rotation");
	upd(&ck, &t, &k, c, 1000, 65);
	check_view(&ck, "1m", &t, &k, PS_WIN_1M, at(75), m75, 2.5);
	check_view(&ck, "1h", &t, &k, PS_WIN_1H, at(75), h75, 3.0 / 60);
	check_view(&ck, "1m", &t, &k, PS_WIN_1M, at(135), m135, 0.75);
	upd(&ck, &t, &k, d, 1000, 3610);
	check_view(&ck, "1h", &t, &k, PS_WIN_1H, at(4500), h4500, 3.25 / 60);
	check_view(&ck, "24h", &t, &k, PS_WIN_24H, at(4500), d4500, 4.0 / 1440);
	check_totals(&ck, "totals", &t, &k, d);
	ck_end(&ck);
	ps_ctable_free(&t);

	ck_init(&ck, "wide_32bit_limit");
	{
		struct ps_client_key j = key4("198.18.0.2");
		/* exactly 2^32 - 1 in one bucket fits; one byte more does not */
		static const uint64_t e1[] = CTR(0, 0, 0, 0, 0, 4294967295ULL, 0, 0, 0);
		static const uint64_t e2[] = CTR(0, 0, 0, 0, 0, 4294967296ULL, 0, 0, 0);
		static const double v1[] = W6(0, 0, 4294967295.0, 0, 0, 0);
		static const double v2[] = W6(0, 0, 4294967296.0, 0, 0, 0);

		ps_ctable_init(&t);
		upd(&ck, &t, &j, e1, 1000, 5);
		check_view(&ck, "2^32-1", &t, &j, PS_WIN_24H, at(10), v1, 0);
		upd(&ck, &t, &j, e2, 1000, 6);
		check_view(&ck, "2^32", &t, &j, PS_WIN_1M, at(10), v2, 0);
		check_view(&ck, "2^32", &t, &j, PS_WIN_24H, at(10), v2, 0);
		ps_ctable_free(&t);
	}
	ck_end(&ck);

	ck_init(&ck, "wide_with_base");
	{
		/* an entry re-created (a base), then one read of 5 GiB */
		struct ps_client_key j = key6("2001:db8::5:1");
		static const uint64_t e1[] = CTR(0, 1, 1, 0, 0, 100, 100, 0, 0);
		static const uint64_t e2[] = CTR(0, 2, 2, 0, 0, 200, 5 * GiB, 0, 0);
		/* e1 + e2; 5 GiB + 100 = 5368709220 */
		static const uint64_t sum[] = CTR(0, 3, 3, 0, 0, 300, 5368709220ULL, 0, 0);
		static const double v[] = W6(3, 3, 300, 5368709220.0, 0, 0);

		ps_ctable_init(&t);
		upd(&ck, &t, &j, e1, 1000, 5);
		upd(&ck, &t, &j, e2, 2000, 10);
		check_totals(&ck, "totals", &t, &j, sum);
		check_view(&ck, "1m", &t, &j, PS_WIN_1M, at(20), v, 3);
		check_view(&ck, "1h", &t, &j, PS_WIN_1H, at(20), v, 3.0 / 60);
		ps_ctable_free(&t);
	}
	ck_end(&ck);
}

/* --------------------------------------------------------------------- top */

/* Compare ps_ctable_top() with the expected addresses, in order. */
static void check_top(struct ck *ck, const char *label, const struct ps_ctable *t,
		      enum ps_window win, enum ps_sort key, uint32_t limit, uint64_t now_ms,
		      const char *const *want, int nwant)
{
	char got[1024], a[64];
	uint32_t *idx = NULL;
	size_t o = 0;
	int n, i;
	bool bad;

	n = ps_ctable_top(t, win, key, limit, now_ms, &idx);
	if (n < 0) {
		ck_fail(ck, "%s: ps_ctable_top returned %d", label, n);
		return;
	}
	bad = n != nwant;
	got[0] = 0;
	for (i = 0; i < n; i++) {
		if (idx[i] >= t->n) {
			ck_fail(ck, "%s: index %u of %u records", label, idx[i], t->n);
			free(idx);
			return;
		}
		key_str(&t->rec[idx[i]].key, a, sizeof(a));
		if (i < nwant && strcmp(a, want[i]))
			bad = true;
		if (o < sizeof(got))
			o += snprintf(got + o, sizeof(got) - o, "%s%s", i ? " " : "", a);
	}
	free(idx);
	if (bad) {
		char exp[1024];
		size_t e = 0;

		exp[0] = 0;
		for (i = 0; i < nwant && e < sizeof(exp); i++)
			e += snprintf(exp + e, sizeof(exp) - e, "%s%s", i ? " " : "", want[i]);
		ck_fail(ck, "%s: got [%s], expected [%s]", label, got, exp);
	}
}

#define NA(x) (int)(sizeof(x) / sizeof((x)[0]))

static void test_top(void)
{
	/*
	 *                 conn req inf rxp txp rx_bytes tx_bytes rx_pl tx_pl
	 * A 10.0.0.2        1   50  10  5   5   300      4000     100   100
	 * B 9.0.0.3         1   50  40  5   5   100      1000     100   900
	 * C 192.168.1.1     1   20  30  5   5   500      2000     100   700
	 * D 2001:db8::1     1   50  20  5   5   500      3000     100   800
	 * E 2001:db8::2     1   70  10  5   5   200      5000     100   700
	 * F ::ffff:9.0.0.1  1   10  40  5   5   500      500      100   50
	 * Ties: IPv4 before IPv6, then by address bytes: 9.0.0.3 before
	 * 10.0.0.2 (though 10.0.0.2 is the smaller number on a little-endian
	 * host), ::ffff:9.0.0.1 (00 00 ...) before 2001:db8::1 (20 01 ...).
	 */
	static const struct {
		const char *addr;
		int family;
		uint64_t v[PS_NFIELDS];
	} cl[] = {
		/* added in an order unlike any expected one */
		{ "::ffff:9.0.0.1", PS_AF_INET6, CTR(1, 10, 40, 5, 5, 500, 500, 100, 50) },
		{ "2001:db8::1", PS_AF_INET6, CTR(1, 50, 20, 5, 5, 500, 3000, 100, 800) },
		{ "10.0.0.2", PS_AF_INET, CTR(1, 50, 10, 5, 5, 300, 4000, 100, 100) },
		{ "2001:db8::2", PS_AF_INET6, CTR(1, 70, 10, 5, 5, 200, 5000, 100, 700) },
		{ "192.168.1.1", PS_AF_INET, CTR(1, 20, 30, 5, 5, 500, 2000, 100, 700) },
		{ "9.0.0.3", PS_AF_INET, CTR(1, 50, 40, 5, 5, 100, 1000, 100, 900) },
	};
#define A_ "10.0.0.2"
#define B_ "9.0.0.3"
#define C_ "192.168.1.1"
#define D_ "2001:db8::1"
#define E_ "2001:db8::2"
#define F_ "::ffff:9.0.0.1"
	/* requests: E 70; A, B, D 50 (B before A: address; D: IPv6); C 20; F 10 */
	static const char *const by_req[] = { E_, B_, A_, D_, C_, F_ };
	/* inference: B, F 40 (IPv4 first); C 30; D 20; A, E 10 */
	static const char *const by_inf[] = { B_, F_, C_, D_, A_, E_ };
	/* rx_bytes: C, F, D 500 (C IPv4; F's address before D's); A 300; E 200; B 100 */
	static const char *const by_rx[] = { C_, F_, D_, A_, E_, B_ };
	/* tx_bytes: 5000, 4000, 3000, 2000, 1000, 500 */
	static const char *const by_tx[] = { E_, A_, D_, C_, B_, F_ };
	/* tx_payload: B 900; D 800; C, E 700 (C IPv4); A 100; F 50 */
	static const char *const by_txpl[] = { B_, D_, C_, E_, A_, F_ };
	struct ps_ctable t;
	struct ck ck;
	int ci;

	ps_ctable_init(&t);
	ck_init(&ck, "top_sort_keys");
	for (ci = 0; ci < NA(cl); ci++) {
		struct ps_client_key k = key_of(cl[ci].family, cl[ci].addr);

		upd(&ck, &t, &k, cl[ci].v, 1000, 10);
	}
	check_top(&ck, "requests total", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 0, at(30), by_req, 6);
	check_top(&ck, "requests 1m", &t, PS_WIN_1M, PS_SORT_REQUESTS, 0, at(30), by_req, 6);
	check_top(&ck, "inference", &t, PS_WIN_TOTAL, PS_SORT_INFERENCE, 0, at(30), by_inf, 6);
	check_top(&ck, "rx_bytes", &t, PS_WIN_TOTAL, PS_SORT_RX_BYTES, 0, at(30), by_rx, 6);
	check_top(&ck, "tx_bytes", &t, PS_WIN_TOTAL, PS_SORT_TX_BYTES, 0, at(30), by_tx, 6);
	check_top(&ck, "tx_payload", &t, PS_WIN_TOTAL, PS_SORT_TX_PAYLOAD, 0, at(30), by_txpl, 6);
	/* rpm: 1m = inference; 1h = inference / 60; total = inference / 10 at 10 min */
	check_top(&ck, "rpm 1m", &t, PS_WIN_1M, PS_SORT_RPM, 0, at(30), by_inf, 6);
	check_top(&ck, "rpm 1h", &t, PS_WIN_1H, PS_SORT_RPM, 0, at(30), by_inf, 6);
	check_top(&ck, "rpm total", &t, PS_WIN_TOTAL, PS_SORT_RPM, 0, at(610), by_inf, 6);
	ck_end(&ck);

	ck_init(&ck, "top_limit");
	{
		static const char *const req3[] = { E_, B_, A_ };
		static const char *const req1[] = { E_ };
		static const char *const rx2[] = { C_, F_ };	/* a cut inside a tie */
		static const char *const rx4[] = { C_, F_, D_, A_ };
		static const char *const inf5[] = { B_, F_, C_, D_, A_ };

		check_top(&ck, "limit 3", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 3, at(30), req3, 3);
		check_top(&ck, "limit 1", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 1, at(30), req1, 1);
		check_top(&ck, "limit 6 = n", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 6, at(30), by_req,
			  6);
		check_top(&ck, "limit 10 > n", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 10, at(30),
			  by_req, 6);
		check_top(&ck, "limit 0 = all", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 0, at(30),
			  by_req, 6);
		check_top(&ck, "rx limit 2", &t, PS_WIN_TOTAL, PS_SORT_RX_BYTES, 2, at(30), rx2, 2);
		check_top(&ck, "rx limit 4", &t, PS_WIN_TOTAL, PS_SORT_RX_BYTES, 4, at(30), rx4, 4);
		check_top(&ck, "inf limit 5", &t, PS_WIN_1M, PS_SORT_INFERENCE, 5, at(30), inf5, 5);
	}
	ck_end(&ck);
	ps_ctable_free(&t);

	ck_init(&ck, "top_empty_table");
	{
		uint32_t *idx = NULL;
		int n;

		ps_ctable_init(&t);
		n = ps_ctable_top(&t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 0, at(30), &idx);
		if (n != 0)
			ck_fail(&ck, "returned %d, expected 0", n);
		free(idx);
		n = ps_ctable_top(&t, PS_WIN_1M, PS_SORT_RPM, 5, at(30), &idx);
		if (n != 0)
			ck_fail(&ck, "limit 5: returned %d, expected 0", n);
		free(idx);
	}
	ck_end(&ck);

	ck_init(&ck, "top_window_changes_order");
	{
		/*
		 * X: 1000 requests at T0 + 10, nothing since. Y: 100 at T0 + 10,
		 * 300 more at T0 + 2h + 10. At T0 + 2h + 30:
		 *   total  X 1000, Y 400  -> X Y
		 *   24h    X 1000, Y 400  -> X Y (same day)
		 *   1h     X 0,    Y 300  -> Y X
		 *   1m     X 0,    Y 300  -> Y X
		 */
		struct ps_client_key x = key4("100.64.0.1"), y = key4("100.64.0.2");
		static const uint64_t x1[] = CTR(1, 1000, 1000, 1, 1, 1, 1, 1, 1);
		static const uint64_t y1[] = CTR(1, 100, 100, 1, 1, 1, 1, 1, 1);
		static const uint64_t y2[] = CTR(1, 400, 400, 1, 1, 1, 1, 1, 1);
		static const char *const xy[] = { "100.64.0.1", "100.64.0.2" };
		static const char *const yx[] = { "100.64.0.2", "100.64.0.1" };

		upd(&ck, &t, &x, x1, 1000, 10);
		upd(&ck, &t, &y, y1, 1000, 10);
		upd(&ck, &t, &x, x1, 1000, 7210);
		upd(&ck, &t, &y, y2, 1000, 7210);
		check_top(&ck, "total", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 0, at(7230), xy, 2);
		check_top(&ck, "24h", &t, PS_WIN_24H, PS_SORT_REQUESTS, 0, at(7230), xy, 2);
		check_top(&ck, "1h", &t, PS_WIN_1H, PS_SORT_REQUESTS, 0, at(7230), yx, 2);
		check_top(&ck, "1m", &t, PS_WIN_1M, PS_SORT_REQUESTS, 0, at(7230), yx, 2);
		check_top(&ck, "1m rpm", &t, PS_WIN_1M, PS_SORT_RPM, 0, at(7230), yx, 2);
		check_top(&ck, "1m limit 1", &t, PS_WIN_1M, PS_SORT_REQUESTS, 1, at(7230), yx, 1);
		check_top(&ck, "total limit 1", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 1, at(7230), xy,
			  1);
		ps_ctable_free(&t);
	}
	ck_end(&ck);

	ck_init(&ck, "top_many_with_limit");
	{
		/*
		 * 1000 clients 10.0.(i / 256).(i % 256), added in the order
		 * i = 337 j mod 1000. requests = i mod 100 (ten clients per
		 * value), tx_bytes = 7919 i mod 1000 (all distinct: 7919 is
		 * prime to 1000).
		 */
		enum { N = 1000 };
		char wantbuf[N][20];
		const char *want[N];
		uint32_t i, j, v, m, owner[N];

		ps_ctable_init(&t);
		for (j = 0; j < N && ck_ok(&ck); j++) {
			struct ps_client_key k;
			uint64_t c[PS_NFIELDS] = { 0 };

			i = (337 * j) % N;
			k = key_num(PS_AF_INET, 0x0a000000, i);
			c[PS_F_REQUESTS] = i % 100;
			c[PS_F_TX_BYTES] = (7919 * i) % 1000 + 1;
			upd(&ck, &t, &k, c, 1000, 10);
		}
		for (i = 0; i < N; i++)
			snprintf(wantbuf[i], sizeof(wantbuf[i]), "10.0.%u.%u", i / 256, i % 256);
		/*
		 * requests, top 25: value 99 (i = 99, 199, .., 999), then 98
		 * (i = 98 .. 998), then 97 (i = 97 .. 497)
		 */
		for (j = 0, v = 99; j < 25; v--)
			for (m = 0; m < 10 && j < 25; m++)
				want[j++] = wantbuf[m * 100 + v];
		check_top(&ck, "requests limit 25", &t, PS_WIN_1M, PS_SORT_REQUESTS, 25, at(30),
			  want, 25);
		/* all of them: value 99 .. 0, each by address */
		for (j = 0, v = 100; v-- > 0;)
			for (m = 0; m < 10; m++)
				want[j++] = wantbuf[m * 100 + v];
		check_top(&ck, "requests all", &t, PS_WIN_TOTAL, PS_SORT_REQUESTS, 0, at(30), want,
			  N);
		/* tx_bytes, top 10: values 1000 .. 991, owner[] found by scanning i */
		for (i = 0; i < N; i++)
			owner[(7919 * i) % 1000] = i;
		for (j = 0; j < 10; j++)
			want[j] = wantbuf[owner[999 - j]];
		check_top(&ck, "tx_bytes limit 10", &t, PS_WIN_24H, PS_SORT_TX_BYTES, 10, at(30),
			  want, 10);
		ps_ctable_free(&t);
	}
	ck_end(&ck);
#undef A_
#undef B_
#undef C_
#undef D_
#undef E_
#undef F_
}

/* ------------------------------------------------------------------ growth */

static void test_growth(void)
{
	enum { N = 200000, N4 = 100000 };
	struct ps_ctable t;
	struct ck ck;
	uint32_t i;

	/*
	 * 100000 IPv4 keys 10.0.0.0 + i and 100000 IPv6 keys 2001:db8::i;
	 * client i has requests i + 1 and tx_bytes 3 i + 7.
	 */
	ck_init(&ck, "growth_200000");
	ps_ctable_init(&t);
	for (i = 0; i < N && ck_ok(&ck); i++) {
		struct ps_client_key k = key_num(i < N4 ? PS_AF_INET : PS_AF_INET6, 0x0a000000, i);
		uint64_t c[PS_NFIELDS] = { 0 };

		c[PS_F_REQUESTS] = i + 1;
		c[PS_F_TX_BYTES] = 3ULL * i + 7;
		upd(&ck, &t, &k, c, i + 1, 10);
	}
	if (ck_ok(&ck) && t.n != N)
		ck_fail(&ck, "%u records, expected %u", t.n, N);
	for (i = 0; i < N && ck_ok(&ck); i++) {
		struct ps_client_key k = key_num(i < N4 ? PS_AF_INET : PS_AF_INET6, 0x0a000000, i);
		const struct ps_crec *r = ps_ctable_find(&t, &k);
		uint64_t tot[PS_NFIELDS];
		char a[64];

		if (!r) {
			ck_fail(&ck, "client %u (%s) not found", i, key_str(&k, a, sizeof(a)));
			break;
		}
		if (r->key.family != k.family || memcmp(&r->key.addr, &k.addr, sizeof(k.addr))) {
			ck_fail(&ck, "client %u: found the record of %s", i,
				key_str(&r->key, a, sizeof(a)));
			break;
		}
		ps_crec_totals(&t, r, tot);
		if (tot[PS_F_REQUESTS] != i + 1 || tot[PS_F_TX_BYTES] != 3ULL * i + 7 ||
		    tot[PS_F_RX_BYTES] || r->inc_ns != i + 1)
			ck_fail(&ck, "client %u: requests %llu tx_bytes %llu incarnation %llu, expected %u, %llu, %u",
				i, (unsigned long long)tot[PS_F_REQUESTS],
				(unsigned long long)tot[PS_F_TX_BYTES],
				(unsigned long long)r->inc_ns, i + 1, 3ULL * i + 7, i + 1);
	}
	/* keys never added: IPv4 past the range, IPv6 past it, IPv4 with an IPv6 number */
	for (i = 0; i < 10 && ck_ok(&ck); i++) {
		struct ps_client_key k4 = key_num(PS_AF_INET, 0x0a000000, N4 + i);
		struct ps_client_key k6 = key_num(PS_AF_INET6, 0, N + i);
		struct ps_client_key k6b = key_num(PS_AF_INET6, 0, i);
		char a[64];

		if (ps_ctable_find(&t, &k4))
			ck_fail(&ck, "found %s, never added", key_str(&k4, a, sizeof(a)));
		else if (ps_ctable_find(&t, &k6))
			ck_fail(&ck, "found %s, never added", key_str(&k6, a, sizeof(a)));
		else if (ps_ctable_find(&t, &k6b))
			ck_fail(&ck, "found %s, never added", key_str(&k6b, a, sizeof(a)));
	}
	/* a second read of every client finds its record: no duplicates */
	for (i = 0; i < N && ck_ok(&ck); i++) {
		struct ps_client_key k = key_num(i < N4 ? PS_AF_INET : PS_AF_INET6, 0x0a000000, i);
		uint64_t c[PS_NFIELDS] = { 0 };

		c[PS_F_REQUESTS] = i + 2;
		c[PS_F_TX_BYTES] = 3ULL * i + 7;
		upd(&ck, &t, &k, c, i + 1, 20);
	}
	if (ck_ok(&ck) && t.n != N)
		ck_fail(&ck, "after a second read: %u records, expected %u", t.n, N);
	for (i = 0; i < N && ck_ok(&ck); i += 997) {
		struct ps_client_key k = key_num(i < N4 ? PS_AF_INET : PS_AF_INET6, 0x0a000000, i);
		const struct ps_crec *r = find(&ck, &t, &k, "second read");
		uint64_t tot[PS_NFIELDS];

		if (!r)
			break;
		ps_crec_totals(&t, r, tot);
		if (tot[PS_F_REQUESTS] != i + 2)
			ck_fail(&ck, "client %u: requests %llu after a second read, expected %u", i,
				(unsigned long long)tot[PS_F_REQUESTS], i + 2);
	}
	ck_end(&ck);
	ps_ctable_free(&t);
}

/* ------------------------------------------------------------------- state */

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	struct stat st;
	ssize_t r;
	size_t o = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	*buf = malloc(st.st_size ? st.st_size : 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	while (o < (size_t)st.st_size) {
		r = read(fd, *buf + o, st.st_size - o);
		if (r <= 0)
			break;
		o += r;
	}
	close(fd);
	*len = o;
	return 0;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	if (len && fwrite(buf, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* Decompress a gzip file with zlib, independently of state.c. */
static int gunzip_file(const char *path, unsigned char **buf, size_t *len)
{
	size_t cap = 1 << 16;
	gzFile gz;
	int r;

	*len = 0;
	*buf = malloc(cap);
	if (!*buf)
		return -ENOMEM;
	gz = gzopen(path, "rb");
	if (!gz) {
		free(*buf);
		*buf = NULL;
		return -EIO;
	}
	for (;;) {
		if (*len == cap) {
			unsigned char *nb = realloc(*buf, cap * 2);

			if (!nb) {
				gzclose(gz);
				return -ENOMEM;
			}
			*buf = nb;
			cap *= 2;
		}
		r = gzread(gz, *buf + *len, (unsigned int)(cap - *len));
		if (r < 0) {
			gzclose(gz);
			return -EIO;
		}
		if (r == 0)
			break;
		*len += r;
	}
	return gzclose(gz) == Z_OK ? 0 : -EIO;
}

static int gzip_file(const char *path, const void *buf, size_t len)
{
	gzFile gz = gzopen(path, "wb");
	int w;

	if (!gz)
		return -EIO;
	w = len ? gzwrite(gz, buf, (unsigned int)len) : 0;
	if (gzclose(gz) != Z_OK || (size_t)w != len)
		return -EIO;
	return 0;
}

/* Make tmpdir/name, empty. */
static int mksub(const char *name, char *dir, size_t len)
{
	snprintf(dir, len, "%s/%s", tmpdir, name);
	return mkdir(dir, 0700) ? -errno : 0;
}

/* Remove the files in dir, then dir (one level: that is all a case makes). */
static void rmsub(const char *dir)
{
	char path[1024];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

/* The names in dir other than . and .., space-separated; their count. */
static int list_dir(const char *dir, char *out, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t o = 0;
	int n = 0;

	out[0] = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			if (o < len)
				o += snprintf(out + o, len - o, "%s%s", n ? " " : "", de->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static bool table_empty(const struct ps_ctable *t)
{
	return !t->n && !t->rec && !t->bucket && !t->ext && !t->nbuckets && !t->next_ext &&
	       !t->cap && !t->cap_ext;
}

enum { S_PLAIN4, S_PLAIN6, S_RECREATED, S_WIDE, S_WIDE_BASE, S_CLOCK, S_NSPECIAL };
enum { S_NFILL = 500 };

/* The special clients of the state tests, each with its figures worked out by hand. */
static struct ps_client_key sk[S_NSPECIAL];

static const uint64_t s1a[] = CTR(1, 5, 4, 10, 10, 1000, 2000, 800, 1800);
static const uint64_t s1b[] = CTR(2, 9, 8, 20, 20, 2000, 4000, 1600, 3600);
static const uint64_t s2a[] = CTR(3, 30, 30, 60, 60, 6000, 60000, 5000, 55000);
static const uint64_t s3a[] = CTR(1, 10, 8, 10, 12, 1000, 5000, 500, 4000);
static const uint64_t s3b[] = CTR(1, 3, 2, 4, 4, 300, 900, 100, 800);
/* s3a + s3b */
static const uint64_t s3sum[] = CTR(2, 13, 10, 14, 16, 1300, 5900, 600, 4800);
static const uint64_t s4a[] = CTR(0, 1, 1, 0, 0, 10, 3 * GiB, 0, 0);
static const uint64_t s4b[] = CTR(0, 2, 2, 0, 0, 20, 6 * GiB, 0, 0);
static const uint64_t s5a[] = CTR(0, 1, 1, 0, 0, 100, 100, 0, 0);
static const uint64_t s5b[] = CTR(0, 2, 2, 0, 0, 200, 5 * GiB, 0, 0);
/* s5a + s5b: 5 GiB + 100 = 5368709220 */
static const uint64_t s5sum[] = CTR(0, 3, 3, 0, 0, 300, 5368709220ULL, 0, 0);
static const uint64_t s6a[] = CTR(1, 1, 1, 1, 1, 100, 100, 100, 100);

#define S_SAVED_MS	at(200)
#define S_GEN		42

static bool build_state_table(struct ck *ck, struct ps_ctable *t)
{
	int64_t b2w = (int64_t)(T0 - 1000) * (int64_t)NS;
	uint32_t i;

	sk[S_PLAIN4] = key4("203.0.113.5");
	sk[S_PLAIN6] = key6("2001:db8:1::5");
	sk[S_RECREATED] = key4("203.0.113.6");
	sk[S_WIDE] = key6("2001:db8:1::6");
	sk[S_WIDE_BASE] = key4("203.0.113.7");
	sk[S_CLOCK] = key4("203.0.113.8");
	ps_ctable_init(t);
	t->gen = S_GEN;
	upd(ck, t, &sk[S_PLAIN4], s1a, 1000, 10);
	upd(ck, t, &sk[S_PLAIN4], s1b, 1000, 70);
	upd(ck, t, &sk[S_PLAIN6], s2a, 1000, 100);
	upd(ck, t, &sk[S_RECREATED], s3a, 1000, 10);
	upd(ck, t, &sk[S_RECREATED], s3b, 2000, 70);
	upd(ck, t, &sk[S_WIDE], s4a, 1000, 10);
	upd(ck, t, &sk[S_WIDE], s4b, 1000, 20);
	upd(ck, t, &sk[S_WIDE_BASE], s5a, 1000, 10);
	upd(ck, t, &sk[S_WIDE_BASE], s5b, 2000, 20);
	/* first packet 400 s = T0 - 600, last 1005 s = T0 + 5 */
	upd_full(ck, t, &sk[S_CLOCK], s6a, 400 * NS, 1005 * NS, 10, b2w);
	/*
	 * fillers: 100.64.0.0 + i for odd i, 2001:db8::i for even i; every
	 * seventh created again; read at T0 + 100 .. 149
	 */
	for (i = 0; i < S_NFILL && ck_ok(ck); i++) {
		struct ps_client_key k = key_num(i % 2 ? PS_AF_INET : PS_AF_INET6, 0x64400000, i);
		uint64_t c[PS_NFIELDS] = CTR(i % 3, i, i / 2, 2 * i, 3 * i, 100 * i, 1000 * i,
					     50 * i, 900 * i);

		upd(ck, t, &k, c, 10000 + i, 100 + i % 50);
		if (i % 7 == 0) {
			c[PS_F_REQUESTS] = 1;
			upd(ck, t, &k, c, 20000 + i, 100 + i % 50);
		}
	}
	return ck_ok(ck);
}

/* The records of a and b are the same (bar the hash chain) and their extensions too. */
/* The counters at the last read of a's ra and b's rb alike. */
static bool same_last(const struct ps_ctable *a, const struct ps_crec *ra,
		      const struct ps_ctable *b, const struct ps_crec *rb)
{
	uint64_t la[PS_NFIELDS], lb[PS_NFIELDS];

	ps_crec_last(a, ra, la);
	ps_crec_last(b, rb, lb);
	return !memcmp(la, lb, sizeof(la)) && !memcmp(ra->last32, rb->last32, sizeof(ra->last32)) &&
	       !memcmp(ra->last48, rb->last48, sizeof(ra->last48));
}

/* Their token entries alike, none being one of zeros (a reader makes none for it). */
static bool same_tok(const struct ps_ctable *a, const struct ps_crec *ra,
		     const struct ps_ctable *b, const struct ps_crec *rb)
{
	static const struct ps_ctok zero;
	static const struct ps_cmsg mzero;
	const struct ps_ctok *ka = ra->tok ? &a->tok[ra->tok - 1] : &zero;
	const struct ps_ctok *kb = rb->tok ? &b->tok[rb->tok - 1] : &zero;
	const struct ps_cmsg *ma = ka->msg ? &a->msg[ka->msg - 1] : &mzero;
	const struct ps_cmsg *mb = kb->msg ? &b->msg[kb->msg - 1] : &mzero;

	/* The message entries' places in their arrays may differ: their contents not. */
	return !memcmp(ka->last, kb->last, sizeof(ka->last)) && !memcmp(ka->w, kb->w, sizeof(ka->w)) &&
	       !memcmp(ma, mb, sizeof(*ma));
}

static void compare_tables(struct ck *ck, const struct ps_ctable *a, const struct ps_ctable *b)
{
	static const uint64_t times[] = { 200, 3600 + 900, 86400 + 21600 };
	uint32_t i;
	int w, j;

	if (a->n != b->n) {
		ck_fail(ck, "%u records, expected %u", b->n, a->n);
		return;
	}
	for (i = 0; i < a->n && ck_ok(ck); i++) {
		struct ps_crec ra = a->rec[i], rb;
		const struct ps_crec *p = ps_ctable_find(b, &ra.key);
		uint64_t ta[PS_NFIELDS], tb[PS_NFIELDS];
		char s[64];

		key_str(&ra.key, s, sizeof(s));
		if (!p) {
			ck_fail(ck, "%s not found after loading", s);
			break;
		}
		rb = *p;
		if (ra.inc_ns != rb.inc_ns || ra.first_wall != rb.first_wall ||
		    ra.last_wall != rb.last_wall || !same_last(a, &ra, b, p)) {
			ck_fail(ck, "%s: incarnation %llu, first T0%+llds, last T0%+llds; expected %llu, T0%+llds, T0%+llds",
				s, (unsigned long long)rb.inc_ns, (long long)rb.first_wall - T0,
				(long long)rb.last_wall - T0, (unsigned long long)ra.inc_ns,
				(long long)ra.first_wall - T0, (long long)ra.last_wall - T0);
			break;
		}
		ps_crec_totals(a, &ra, ta);
		ps_crec_totals(b, p, tb);
		if (memcmp(ta, tb, sizeof(ta))) {
			ck_fail(ck, "%s: totals differ after loading", s);
			break;
		}
		for (w = 0; w <= PS_NWINDOWS && ck_ok(ck); w++)
			for (j = 0; j < NA(times); j++) {
				struct ps_cview va, vb;

				ps_crec_view(a, &ra, w, at(times[j]), &va);
				ps_crec_view(b, p, w, at(times[j]), &vb);
				if (memcmp(&va, &vb, sizeof(va))) {
					ck_fail(ck, "%s: %s view at T0+%llus differs after loading", s,
						ps_window_names[w], (unsigned long long)times[j]);
					break;
				}
			}
		if (!ck_ok(ck))
			break;
		if (!!ra.ext != !!rb.ext ||
		    (ra.ext && memcmp(&a->ext[ra.ext - 1], &b->ext[rb.ext - 1], sizeof(*a->ext)))) {
			ck_fail(ck, "%s: extension (base, wide buckets) differs after loading", s);
			break;
		}
		if (!same_tok(a, &ra, b, &rb)) {
			ck_fail(ck, "%s: token entry (counters, buckets) differs after loading", s);
			break;
		}
		ra.next = rb.next = 0;
		if (ra.ext && rb.ext)
			ra.ext = rb.ext;
		ra.tok = rb.tok;	/* numbered as loaded */
		if (memcmp(&ra, &rb, sizeof(ra)))
			ck_fail(ck, "%s: record differs after loading", s);
	}
}

/* The hand-worked figures of the special clients, in table t. */
static void check_special(struct ck *ck, const char *when, const struct ps_ctable *t)
{
	/*
	 * plain IPv4: 1m at T0 + 75: s1b - s1a + 0.75 x s1a = 4 + 3.75, 4 + 3,
	 * 1000 + 750, 2000 + 1500, 800 + 600, 1800 + 1350
	 */
	static const double v1[] = W6(7.75, 7, 1750, 3500, 1400, 3150);
	/* wide: 1m at T0 + 50; 6 GiB = 6442450944 */
	static const double v4[] = W6(2, 2, 20, 6442450944.0, 0, 0);
	/* wide with base: 1h at T0 + 200 */
	static const double v5[] = W6(3, 3, 300, 5368709220.0, 0, 0);
	/* kernel clock: total at T0 + 1200 = 30 minutes after T0 - 600: 1 / 30 */
	static const double v6[] = CTR(1, 1, 1, 1, 1, 100, 100, 100, 100);
	const struct ps_crec *r;
	char label[128];

	snprintf(label, sizeof(label), "%s: plain IPv4", when);
	check_totals(ck, label, t, &sk[S_PLAIN4], s1b);
	check_view(ck, label, t, &sk[S_PLAIN4], PS_WIN_1M, at(75), v1, 7);
	snprintf(label, sizeof(label), "%s: plain IPv6", when);
	check_totals(ck, label, t, &sk[S_PLAIN6], s2a);
	snprintf(label, sizeof(label), "%s: re-created", when);
	check_totals(ck, label, t, &sk[S_RECREATED], s3sum);
	r = find(ck, t, &sk[S_RECREATED], label);
	if (r && r->inc_ns != 2000)
		ck_fail(ck, "%s: incarnation %llu, expected 2000", label,
			(unsigned long long)r->inc_ns);
	snprintf(label, sizeof(label), "%s: wide", when);
	check_totals(ck, label, t, &sk[S_WIDE], s4b);
	check_view(ck, label, t, &sk[S_WIDE], PS_WIN_1M, at(50), v4, 2);
	r = find(ck, t, &sk[S_WIDE], label);
	if (r && !(r->ext && t->ext[r->ext - 1].wide))
		ck_fail(ck, "%s: not a wide record", label);
	snprintf(label, sizeof(label), "%s: wide with base", when);
	check_totals(ck, label, t, &sk[S_WIDE_BASE], s5sum);
	check_view(ck, label, t, &sk[S_WIDE_BASE], PS_WIN_1H, at(200), v5, 3.0 / 60);
	snprintf(label, sizeof(label), "%s: kernel clock", when);
	check_view(ck, label, t, &sk[S_CLOCK], PS_WIN_TOTAL, at(1200), v6, 1.0 / 30);
	r = find(ck, t, &sk[S_CLOCK], label);
	if (r && (r->first_wall != T0 - 600 || r->last_wall != T0 + 5))
		ck_fail(ck, "%s: first/last seen T0%+llds/T0%+llds, expected T0-600s/T0+5s", label,
			(long long)r->first_wall - T0, (long long)r->last_wall - T0);
}

/* A load that must fail: negative, a message naming the file, the table empty, the file kept. */
static void check_load_fails(struct ck *ck, const char *label, const char *dir,
			     const char *want_word)
{
	char path[600], err[8400];
	unsigned char *before = NULL, *after = NULL;
	size_t lb = 0, la = 0;
	struct ps_ctable t;
	uint64_t saved = 12345;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	if (read_file(path, &before, &lb)) {
		ck_fail(ck, "cannot read %s", path);
		return;
	}
	ps_ctable_init(&t);
	err[0] = 0;
	rc = ps_state_load(&t, dir, &saved, err, sizeof(err));
	if (rc >= 0)
		ck_fail(ck, "%s: ps_state_load returned %d (%u records), expected a negative errno",
			label, rc, t.n);
	else if (!strstr(err, path))
		ck_fail(ck, "%s: message \"%s\" does not name %s", label, err, path);
	else if (want_word && !strstr(err, want_word))
		ck_fail(ck, "%s: message \"%s\" does not mention \"%s\"", label, err, want_word);
	else if (!table_empty(&t))
		ck_fail(ck, "%s: the table is not empty after a failed load (%u records)", label,
			t.n);
	else if (saved != 12345)
		ck_fail(ck, "%s: saved_ms was set by a failed load", label);
	else if (read_file(path, &after, &la) || la != lb || memcmp(before, after, lb))
		ck_fail(ck, "%s: the file was changed by a failed load", label);
	ps_ctable_free(&t);
	free(before);
	free(after);
}

/* Decompress dir/state.gz, let patch() change it, compress it back. */
static bool repack(struct ck *ck, const char *dir,
		   bool (*patch)(struct ck *ck, unsigned char *buf, size_t len))
{
	char path[600];
	unsigned char *buf;
	size_t len;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	if (gunzip_file(path, &buf, &len)) {
		ck_fail(ck, "zlib cannot decompress %s", path);
		free(buf);
		return false;
	}
	ok = patch(ck, buf, len);
	if (ok && gzip_file(path, buf, len)) {
		ck_fail(ck, "cannot write %s", path);
		ok = false;
	}
	free(buf);
	return ok;
}

/*
 * The header, as state.c documents it: "PSTKSTAT", then u32 version,
 * rec_size, ext_size, n, next_ext, gen, then u64 saved_ms: 40 bytes, at
 * the start and again at the end.
 */
#define HDR_LEN		40
#define HDR_VERSION	8
#define HDR_N		20
#define HDR_NEXT_EXT	24

static bool hdr_ok(struct ck *ck, const unsigned char *buf, size_t len)
{
	if (len < 2 * HDR_LEN || memcmp(buf, "PSTKSTAT", 8) ||
	    memcmp(buf, buf + len - HDR_LEN, HDR_LEN)) {
		ck_fail(ck, "the decompressed file (%zu bytes) does not start and end with the header",
			len);
		return false;
	}
	return true;
}

static bool patch_version(struct ck *ck, unsigned char *buf, size_t len)
{
	uint32_t v;

	if (!hdr_ok(ck, buf, len))
		return false;
	memcpy(&v, buf + HDR_VERSION, 4);
	if (v != 5) {
		ck_fail(ck, "the file says version %u, this test expects 5", v);
		return false;
	}
	v = 6;
	memcpy(buf + HDR_VERSION, &v, 4);
	memcpy(buf + len - HDR_LEN + HDR_VERSION, &v, 4);
	return true;
}

static bool patch_trailer(struct ck *ck, unsigned char *buf, size_t len)
{
	uint32_t n;

	if (!hdr_ok(ck, buf, len))
		return false;
	memcpy(&n, buf + len - HDR_LEN + HDR_N, 4);
	n++;
	memcpy(buf + len - HDR_LEN + HDR_N, &n, 4);
	return true;
}

/* Point the first record at an extension past the last one. */
static bool patch_ext(struct ck *ck, unsigned char *buf, size_t len)
{
	uint32_t next_ext, bad;

	if (!hdr_ok(ck, buf, len))
		return false;
	memcpy(&next_ext, buf + HDR_NEXT_EXT, 4);
	bad = next_ext + 5;
	memcpy(buf + HDR_LEN + offsetof(struct ps_crec, ext), &bad, 4);
	return true;
}

static void test_state(void)
{
	char dir[512], path[600], err[8400], names[1024];
	struct ps_ctable s, l, m;
	unsigned char *buf = NULL;
	uint64_t saved = 0;
	size_t len = 0;
	struct ck ck;
	int rc, n;

	ck_init(&ck, "state_round_trip");
	ps_ctable_init(&l);
	if (!build_state_table(&ck, &s)) {
		ck_end(&ck);
		ps_ctable_free(&s);
		return;
	}
	check_special(&ck, "before saving", &s);
	if (mksub("trip", dir, sizeof(dir))) {
		ck_fail(&ck, "mkdir %s: %s", dir, strerror(errno));
		ck_end(&ck);
		ps_ctable_free(&s);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	rc = ps_state_save(&s, dir, S_SAVED_MS, err, sizeof(err));
	if (rc) {
		ck_fail(&ck, "ps_state_save returned %d: %s", rc, err);
	} else {
		rc = ps_state_load(&l, dir, &saved, err, sizeof(err));
		if (rc != 1)
			ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", rc, err);
		else if (saved != S_SAVED_MS)
			ck_fail(&ck, "saved_ms %llu, expected %llu", (unsigned long long)saved,
				(unsigned long long)S_SAVED_MS);
		else if (l.n != S_NSPECIAL + S_NFILL)
			ck_fail(&ck, "%u records, expected %u", l.n, S_NSPECIAL + S_NFILL);
		else if (l.gen != S_GEN)
			ck_fail(&ck, "tick number %u, expected %u", l.gen, S_GEN);
		check_special(&ck, "after loading", &l);
		compare_tables(&ck, &s, &l);
	}
	ck_end(&ck);

	ck_init(&ck, "state_is_gzip");
	if (read_file(path, &buf, &len))
		ck_fail(&ck, "cannot read %s", path);
	else if (len < 2 || buf[0] != 0x1f || buf[1] != 0x8b)
		ck_fail(&ck, "%s starts with %02x %02x, expected 1f 8b", path, len ? buf[0] : 0,
			len > 1 ? buf[1] : 0);
	ck_end(&ck);

	ck_init(&ck, "state_no_temp_file");
	n = list_dir(dir, names, sizeof(names));
	if (n != 1 || strcmp(names, PS_STATE_FILE))
		ck_fail(&ck, "the directory holds [%s], expected [" PS_STATE_FILE "]", names);
	ck_end(&ck);

	ck_init(&ck, "state_continue_after_load");
	{
		/* the same entry read again: only its growth counts (s1b -> this) */
		static const uint64_t s1c[] = CTR(3, 10, 9, 21, 21, 2100, 4200, 1700, 3800);
		/*
		 * 1m at T0 + 135: minute T0+2m has s1c - s1b = 1, 1, 100, 200, 100, 200;
		 * minute T0+1m had s1b - s1a = 4, 4, 1000, 2000, 800, 1800, x 0.75:
		 * 1 + 3, 1 + 3, 100 + 750, 200 + 1500, 100 + 600, 200 + 1350
		 */
		static const double v1c[] = W6(4, 4, 850, 1700, 700, 1550);
		/* the re-created client's entry created again: s3sum + this */
		static const uint64_t s3c[] = CTR(1, 1, 1, 1, 1, 10, 10, 10, 10);
		static const uint64_t s3tot[] = CTR(3, 14, 11, 15, 17, 1310, 5910, 610, 4810);
		/* a new client after the load */
		struct ps_client_key nk = key6("2001:db8::abc");
		static const uint64_t nc[] = CTR(1, 2, 3, 4, 5, 6, 7, 8, 9);

		if (l.n) {
			upd(&ck, &l, &sk[S_PLAIN4], s1c, 1000, 130);
			upd(&ck, &s, &sk[S_PLAIN4], s1c, 1000, 130);
			check_totals(&ck, "plain IPv4", &l, &sk[S_PLAIN4], s1c);
			check_view(&ck, "plain IPv4", &l, &sk[S_PLAIN4], PS_WIN_1M, at(135), v1c,
				   4);
			upd(&ck, &l, &sk[S_RECREATED], s3c, 3000, 130);
			upd(&ck, &s, &sk[S_RECREATED], s3c, 3000, 130);
			check_totals(&ck, "re-created", &l, &sk[S_RECREATED], s3tot);
			upd(&ck, &l, &nk, nc, 1000, 130);
			upd(&ck, &s, &nk, nc, 1000, 130);
			check_totals(&ck, "new client", &l, &nk, nc);
			compare_tables(&ck, &s, &l);
		} else {
			ck_fail(&ck, "nothing was loaded");
		}
	}
	ck_end(&ck);

	ck_init(&ck, "state_save_replaces");
	rc = ps_state_save(&l, dir, at(300), err, sizeof(err));
	ps_ctable_init(&m);
	if (rc) {
		ck_fail(&ck, "ps_state_save returned %d: %s", rc, err);
	} else if ((rc = ps_state_load(&m, dir, &saved, err, sizeof(err))) != 1) {
		ck_fail(&ck, "ps_state_load returned %d: %s", rc, err);
	} else {
		static const uint64_t s1c[] = CTR(3, 10, 9, 21, 21, 2100, 4200, 1700, 3800);

		if (saved != at(300))
			ck_fail(&ck, "saved_ms T0+%llums, expected T0+300000ms",
				(unsigned long long)(saved - at(0)));
		check_totals(&ck, "plain IPv4", &m, &sk[S_PLAIN4], s1c);
		compare_tables(&ck, &l, &m);
		n = list_dir(dir, names, sizeof(names));
		if (n != 1 || strcmp(names, PS_STATE_FILE))
			ck_fail(&ck, "the directory holds [%s], expected [" PS_STATE_FILE "]",
				names);
	}
	ck_end(&ck);
	ps_ctable_free(&m);
	ps_ctable_free(&l);

	ck_init(&ck, "state_save_bg");
	{
		char bgdir[512];
		int status = 0;
		pid_t pid;

		if (mksub("bg", bgdir, sizeof(bgdir))) {
			ck_fail(&ck, "mkdir: %s", strerror(errno));
		} else {
			fflush(stdout);
			pid = ps_state_save_bg(&s, bgdir, S_SAVED_MS);
			if (pid < 0)
				ck_fail(&ck, "ps_state_save_bg returned %d", (int)pid);
			else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
				 WEXITSTATUS(status))
				ck_fail(&ck, "the saving child ended with status 0x%x", status);
			ps_ctable_init(&m);
			if (ck_ok(&ck) &&
			    (rc = ps_state_load(&m, bgdir, &saved, err, sizeof(err))) != 1)
				ck_fail(&ck, "ps_state_load returned %d: %s", rc, err);
			if (ck_ok(&ck))
				compare_tables(&ck, &s, &m);
			ps_ctable_free(&m);
			rmsub(bgdir);
		}
	}
	ck_end(&ck);

	ck_init(&ck, "state_missing_file");
	{
		char edir[512];

		ps_ctable_init(&m);
		if (mksub("missing", edir, sizeof(edir))) {
			ck_fail(&ck, "mkdir: %s", strerror(errno));
		} else {
			saved = 777;
			rc = ps_state_load(&m, edir, &saved, err, sizeof(err));
			if (rc != 0)
				ck_fail(&ck, "returned %d, expected 0", rc);
			else if (!table_empty(&m))
				ck_fail(&ck, "the table is not empty (%u records)", m.n);
			rmsub(edir);
		}
		ps_ctable_free(&m);
	}
	ck_end(&ck);

	ck_init(&ck, "state_save_missing_dir");
	{
		char nodir[512];

		snprintf(nodir, sizeof(nodir), "%s/no-such-dir", tmpdir);
		err[0] = 0;
		rc = ps_state_save(&s, nodir, S_SAVED_MS, err, sizeof(err));
		if (rc != -ENOENT)
			ck_fail(&ck, "returned %d, expected %d", rc, -ENOENT);
		else if (!strstr(err, nodir))
			ck_fail(&ck, "message \"%s\" does not name %s", err, nodir);
	}
	ck_end(&ck);

	/* The corrupt files: each a copy of the good one, spoiled. */
	{
		/*
		 * cut: keep that many bytes (a negative count: all but that
		 * many); flip: xor 0x01 into the byte at that offset from the end.
		 * A gzip file ends with 8 bytes: CRC-32 and length of the data.
		 */
		static const struct {
			const char *name, *label;
			int cut_num, cut_den, cut_minus, flip;
		} sp[] = {
			{ "state_truncated", "cut in half", 1, 2, 0, 0 },
			{ "state_truncated", "cut to a quarter", 1, 4, 0, 0 },
			{ "state_truncated", "cut to 30 bytes", 0, 1, -30, 0 },
			{ "state_truncated", "cut 20 bytes short", 1, 1, 20, 0 },
			{ "state_gzip_trailer_missing", "cut the 8-byte gzip trailer", 1, 1, 8, 0 },
			{ "state_bad_crc", "a bit of the CRC-32 flipped", 1, 1, 0, 8 },
		};
		char tdir[512], tpath[600];
		const char *cur = NULL;
		size_t keep;
		int i;

		for (i = 0; i < NA(sp); i++) {
			if (!cur || strcmp(cur, sp[i].name)) {
				if (cur)
					ck_end(&ck);
				cur = sp[i].name;
				ck_init(&ck, cur);
			}
			if (!ck_ok(&ck))
				continue;
			if (!buf || len < 64) {
				ck_fail(&ck, "no good state file to spoil (%zu bytes)", len);
				continue;
			}
			if (mksub("spoiled", tdir, sizeof(tdir))) {
				ck_fail(&ck, "mkdir: %s", strerror(errno));
				continue;
			}
			if (sp[i].cut_minus < 0)
				keep = -sp[i].cut_minus;
			else
				keep = len * sp[i].cut_num / sp[i].cut_den - sp[i].cut_minus;
			if (sp[i].flip)
				buf[len - sp[i].flip] ^= 0x01;
			snprintf(tpath, sizeof(tpath), "%s/%s", tdir, PS_STATE_FILE);
			if (write_file(tpath, buf, keep))
				ck_fail(&ck, "cannot write %s", tpath);
			else
				check_load_fails(&ck, sp[i].label, tdir, NULL);
			if (sp[i].flip)
				buf[len - sp[i].flip] ^= 0x01;
			rmsub(tdir);
		}
		ck_end(&ck);
	}

	ck_init(&ck, "state_garbage");
	{
		char gdir[512], gpath[600];
		unsigned char junk[4096];
		uint32_t x = 12345;
		size_t i;

		for (i = 0; i < sizeof(junk); i++) {
			x = x * 1103515245 + 12345;
			junk[i] = x >> 16;
		}
		junk[0] = 'G';
		if (mksub("garbage", gdir, sizeof(gdir))) {
			ck_fail(&ck, "mkdir: %s", strerror(errno));
		} else {
			snprintf(gpath, sizeof(gpath), "%s/%s", gdir, PS_STATE_FILE);
			if (write_file(gpath, junk, sizeof(junk)))
				ck_fail(&ck, "cannot write %s", gpath);
			else
				check_load_fails(&ck, "random bytes", gdir, NULL);
			/* short text */
			if (ck_ok(&ck) && write_file(gpath, "hello\n", 6))
				ck_fail(&ck, "cannot write %s", gpath);
			else if (ck_ok(&ck))
				check_load_fails(&ck, "short text", gdir, NULL);
			/* an empty file */
			if (ck_ok(&ck) && write_file(gpath, "", 0))
				ck_fail(&ck, "cannot write %s", gpath);
			else if (ck_ok(&ck))
				check_load_fails(&ck, "empty file", gdir, NULL);
			/* a good gzip file of the garbage */
			if (ck_ok(&ck) && gzip_file(gpath, junk, sizeof(junk)))
				ck_fail(&ck, "cannot write %s", gpath);
			else if (ck_ok(&ck))
				check_load_fails(&ck, "gzip of random bytes", gdir, NULL);
			/* gzip magic then garbage */
			junk[0] = 0x1f;
			junk[1] = 0x8b;
			if (ck_ok(&ck) && write_file(gpath, junk, sizeof(junk)))
				ck_fail(&ck, "cannot write %s", gpath);
			else if (ck_ok(&ck))
				check_load_fails(&ck, "gzip magic then random bytes", gdir, NULL);
			rmsub(gdir);
		}
	}
	ck_end(&ck);

	{
		static const struct {
			const char *name;
			bool (*patch)(struct ck *ck, unsigned char *buf, size_t len);
			const char *word;
		} pc[] = {
			{ "state_other_version", patch_version, "version" },
			{ "state_trailer_mismatch", patch_trailer, NULL },
			{ "state_bad_extension_index", patch_ext, NULL },
		};
		char pdir[512], ppath[600];
		int i;

		for (i = 0; i < NA(pc); i++) {
			ck_init(&ck, pc[i].name);
			if (!buf) {
				ck_fail(&ck, "no good state file");
			} else if (mksub(pc[i].name, pdir, sizeof(pdir))) {
				ck_fail(&ck, "mkdir: %s", strerror(errno));
			} else {
				snprintf(ppath, sizeof(ppath), "%s/%s", pdir, PS_STATE_FILE);
				if (write_file(ppath, buf, len))
					ck_fail(&ck, "cannot write %s", ppath);
				else if (repack(&ck, pdir, pc[i].patch))
					check_load_fails(&ck, pc[i].name, pdir, pc[i].word);
				rmsub(pdir);
			}
			ck_end(&ck);
		}
	}

	free(buf);
	rmsub(dir);
	ps_ctable_free(&s);
}

/*
 * Version 1 of the state file, as penstockd wrote it before records took
 * 248 bytes: records of 272 bytes (counters at the last read 64-bit, the
 * tick number 32-bit), extensions of 368. Read and converted by this one.
 */
struct v1hdr {
	char magic[8];
	uint32_t version, rec_size, ext_size, n, next_ext, gen;
	uint64_t saved_ms;
};
#define OLD_NFIELDS	9	/* the counters of struct ps_counters */
#define OLD_NWFIELDS	6	/* requests .. tx_payload */
struct v1rec {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint64_t last[OLD_NFIELDS];
	uint32_t first_wall, last_wall, minute, ext, gen;
	uint32_t w[PS_NWINDOWS][2][OLD_NWFIELDS];
};
struct v1ext {
	uint64_t base[OLD_NFIELDS];
	bool wide;
	uint64_t ww[PS_NWINDOWS][2][OLD_NWFIELDS];
};
_Static_assert(sizeof(struct v1rec) == 272 && sizeof(struct v1ext) == 368, "version 1");

/* The old windows of r (32-bit: not wide) into w (the first six fields). */
static void old_w(const struct ps_ctable *t, const struct ps_crec *r,
		  uint32_t w[PS_NWINDOWS][2][OLD_NWFIELDS])
{
	int i, b, f;

	for (i = 0; i < PS_NWINDOWS; i++)
		for (b = 0; b < 2; b++)
			for (f = 0; f < OLD_NWFIELDS; f++)
				w[i][b][f] = r->ext && t->ext[r->ext - 1].wide ? 0 :
					     (uint32_t)ps_crec_bucket(t, r, i, b, f);
}

static void old_ww(const uint64_t src[PS_NWINDOWS][2][PS_NWFIELDS],
		   uint64_t w[PS_NWINDOWS][2][OLD_NWFIELDS])
{
	int i, b;

	for (i = 0; i < PS_NWINDOWS; i++)
		for (b = 0; b < 2; b++)
			memcpy(w[i][b], src[i][b], sizeof(w[i][b]));
}

static void test_state_v1(void)
{
	/*
	 * A client past 48 bits with an extension (base, wide) already; and,
	 * in the file alone, one without: its counters rose a little at a
	 * time (no wide buckets), windows empty, hand-written.
	 */
	static const uint64_t big_a[] = CTR(0, 3, 3, 0, 0, 300, (1ULL << 50) + 5, 0, 0);
	/* its base (s5a) and the new last */
	static const uint64_t big_a_tot[] = CTR(0, 4, 4, 0, 0, 400, (1ULL << 50) + 105, 0, 0);
	static const uint64_t big_b[] = CTR(1, 1, 1, 1, 1, 1, (1ULL << 49) + 3, 1, 1);
	struct ps_client_key kb = key4("198.51.100.77");
	struct ps_ctable x, l;
	struct v1hdr h = { .version = 1, .rec_size = sizeof(struct v1rec),
			   .ext_size = sizeof(struct v1ext) };
	const struct ps_crec *rb;
	unsigned char *buf = NULL, *p;
	char dir[512], path[600], err[4200];
	uint64_t saved;
	size_t len;
	struct ck ck;
	uint32_t i;
	int rc;

	ck_init(&ck, "state_version_1_read");
	ps_ctable_init(&l);
	if (!build_state_table(&ck, &x) || !upd(&ck, &x, &sk[S_WIDE_BASE], big_a, 2000, 30))
		goto out;
	check_totals(&ck, "past 48 bits, live", &x, &sk[S_WIDE_BASE], big_a_tot);
	if (!ck_ok(&ck))
		goto out;
	memcpy(h.magic, "PSTKSTAT", 8);
	h.n = x.n + 1;
	h.next_ext = x.next_ext;
	h.gen = x.gen;
	h.saved_ms = S_SAVED_MS;
	len = 2 * sizeof(h) + (size_t)h.n * sizeof(struct v1rec) +
	      (size_t)h.next_ext * sizeof(struct v1ext);
	buf = calloc(1, len);
	if (!buf) {
		ck_fail(&ck, "out of memory");
		goto out;
	}
	p = buf;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (i = 0; i < x.n; i++, p += sizeof(struct v1rec)) {
		const struct ps_crec *r = &x.rec[i];
		struct v1rec v = { .key = r->key, .inc_ns = r->inc_ns, .first_wall = r->first_wall,
				   .last_wall = r->last_wall, .minute = r->minute,
				   .ext = r->ext, .gen = r->gen };
		uint64_t last[PS_NFIELDS];

		ps_crec_last(&x, r, last);
		memcpy(v.last, last, sizeof(v.last));
		old_w(&x, r, v.w);
		memcpy(p, &v, sizeof(v));
	}
	{
		struct v1rec v = { .key = kb, .inc_ns = 3000, .first_wall = T0, .last_wall = T0,
				   .gen = x.gen };

		memcpy(v.last, big_b, sizeof(v.last));
		memcpy(p, &v, sizeof(v));
		p += sizeof(v);
	}
	for (i = 0; i < h.next_ext; i++, p += sizeof(struct v1ext)) {
		struct v1ext e = { .wide = x.ext[i].wide };

		memcpy(e.base, x.ext[i].base, sizeof(e.base));
		old_ww(x.ext[i].ww, e.ww);
		memcpy(p, &e, sizeof(e));
	}
	memcpy(p, &h, sizeof(h));
	if (mksub("v1", dir, sizeof(dir))) {
		ck_fail(&ck, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	if (gzip_file(path, buf, len)) {
		ck_fail(&ck, "cannot write %s", path);
	} else {
		rc = ps_state_load(&l, dir, &saved, err, sizeof(err));
		if (rc != 1)
			ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", rc, err);
		else if (saved != S_SAVED_MS || l.gen != x.gen)
			ck_fail(&ck, "saved_ms %llu, tick %u; expected %llu, %u",
				(unsigned long long)saved, l.gen,
				(unsigned long long)S_SAVED_MS, x.gen);
		else if (l.n != x.n + 1)
			ck_fail(&ck, "%u records, expected %u", l.n, x.n + 1);
		if (ck_ok(&ck)) {
			/* kb, the last record, aside: the others as the table saved */
			l.n--;
			compare_tables(&ck, &x, &l);
			l.n++;
		}
		if (ck_ok(&ck)) {
			check_totals(&ck, "past 48 bits, from version 1", &l, &sk[S_WIDE_BASE],
				     big_a_tot);
			check_totals(&ck, "past 48 bits without extension, from version 1", &l,
				     &kb, big_b);
			rb = ps_ctable_find(&l, &kb);
			if (ck_ok(&ck) && !(rb && rb->ext && l.ext[rb->ext - 1].big))
				ck_fail(&ck, "the client past 48 bits keeps its counters in no extension");
		}
	}
	rmsub(dir);
out:
	free(buf);
	ps_ctable_free(&x);
	ps_ctable_free(&l);
	ck_end(&ck);
}

/*
 * Version 2 of the state file, as penstockd wrote it before the token
 * counters: records of 248 bytes (the nine counters at the last read in
 * 48 bits, windows of six fields), extensions of 440. Read and converted:
 * every figure as saved, the token counts 0.
 */
struct v2rec {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint32_t first_wall, last_wall, minute, ext;
	uint16_t gen;
	uint8_t last[OLD_NFIELDS][6];
	uint32_t w[PS_NWINDOWS][2][OLD_NWFIELDS];
};
struct v2ext {
	uint64_t base[OLD_NFIELDS];
	bool wide, big;
	uint64_t ww[PS_NWINDOWS][2][OLD_NWFIELDS];
	uint64_t last[OLD_NFIELDS];
};
_Static_assert(sizeof(struct v2rec) == 248 && sizeof(struct v2ext) == 440, "version 2");

static void test_state_v2(void)
{
	/* a client past 48 bits: its counters in its extension (big) */
	static const uint64_t big_a[] = CTR(0, 3, 3, 0, 0, 300, (1ULL << 50) + 5, 0, 0);
	static const uint64_t big_a_tot[] = CTR(0, 4, 4, 0, 0, 400, (1ULL << 50) + 105, 0, 0);
	struct ps_ctable x, l;
	struct v1hdr h = { .version = 2, .rec_size = sizeof(struct v2rec),
			   .ext_size = sizeof(struct v2ext) };
	unsigned char *buf = NULL, *p;
	char dir[512], path[600], err[4200];
	uint64_t saved;
	size_t len;
	struct ck ck;
	uint32_t i;
	int rc, f;

	ck_init(&ck, "state_version_2_read");
	ps_ctable_init(&l);
	if (!build_state_table(&ck, &x) || !upd(&ck, &x, &sk[S_WIDE_BASE], big_a, 2000, 30))
		goto out;
	memcpy(h.magic, "PSTKSTAT", 8);
	h.n = x.n;
	h.next_ext = x.next_ext;
	h.gen = x.gen;
	h.saved_ms = S_SAVED_MS;
	len = 2 * sizeof(h) + (size_t)h.n * sizeof(struct v2rec) +
	      (size_t)h.next_ext * sizeof(struct v2ext);
	buf = calloc(1, len);
	if (!buf) {
		ck_fail(&ck, "out of memory");
		goto out;
	}
	p = buf;
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (i = 0; i < x.n; i++, p += sizeof(struct v2rec)) {
		const struct ps_crec *r = &x.rec[i];
		struct v2rec v = { .key = r->key, .inc_ns = r->inc_ns, .first_wall = r->first_wall,
				   .last_wall = r->last_wall, .minute = r->minute,
				   .ext = r->ext, .gen = r->gen };
		uint64_t last[PS_NFIELDS];

		/* the record's own 48-bit counters (zeros when its extension holds them) */
		if (!(r->ext && x.ext[r->ext - 1].big)) {
			ps_crec_last(&x, r, last);
			for (f = 0; f < OLD_NFIELDS; f++)
				for (rc = 0; rc < 6; rc++)
					v.last[f][rc] = last[f] >> (8 * rc);
		}
		old_w(&x, r, v.w);
		memcpy(p, &v, sizeof(v));
	}
	for (i = 0; i < h.next_ext; i++, p += sizeof(struct v2ext)) {
		struct v2ext e = { .wide = x.ext[i].wide, .big = x.ext[i].big };

		memcpy(e.base, x.ext[i].base, sizeof(e.base));
		old_ww(x.ext[i].ww, e.ww);
		memcpy(e.last, x.ext[i].last, sizeof(e.last));
		memcpy(p, &e, sizeof(e));
	}
	memcpy(p, &h, sizeof(h));
	if (mksub("v2", dir, sizeof(dir))) {
		ck_fail(&ck, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	if (gzip_file(path, buf, len)) {
		ck_fail(&ck, "cannot write %s", path);
	} else {
		rc = ps_state_load(&l, dir, &saved, err, sizeof(err));
		if (rc != 1)
			ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", rc, err);
		else if (saved != S_SAVED_MS || l.gen != x.gen)
			ck_fail(&ck, "saved_ms %llu, tick %u; expected %llu, %u",
				(unsigned long long)saved, l.gen,
				(unsigned long long)S_SAVED_MS, x.gen);
		if (ck_ok(&ck))
			compare_tables(&ck, &x, &l);
		if (ck_ok(&ck)) {
			check_totals(&ck, "past 48 bits, from version 2", &l, &sk[S_WIDE_BASE],
				     big_a_tot);
		}
	}
	rmsub(dir);
out:
	free(buf);
	ps_ctable_free(&x);
	ps_ctable_free(&l);
	ck_end(&ck);
}

/*
 * Version 3 of the state file as penstockd held its records in memory
 * before token entries: 312 bytes (the nine counters at the last read in
 * 48 bits, the token ones in 32, windows of eight fields), extensions as
 * now. Still the file's layout: this build converts as it reads and writes.
 */
struct v3rec {
	struct ps_client_key key;
	uint32_t next;
	uint64_t inc_ns;
	uint32_t first_wall, last_wall, minute, ext;
	uint16_t gen;
	uint8_t last[OLD_NFIELDS][6];
	uint32_t last_tok[4];
	uint32_t w[PS_NWINDOWS][2][8];
};
/* Version 3's extensions: the thirteen fields before the message counters,
 * windows of eight fields. */
struct v3ext {
	uint64_t base[13];
	bool wide, big;
	uint64_t ww[PS_NWINDOWS][2][8];
	uint64_t last[13];
};
_Static_assert(sizeof(struct v3rec) == 312 && sizeof(struct v3ext) == 600, "version 3");

/*
 * Token figures in a token entry of the client's own, made at its first
 * token: none for a client that never counted one. Connections, requests
 * and packets in 32 bits at the last read, the extension past that.
 */
static void test_token_entries(void)
{
	/* no token ever */
	static const uint64_t na[] = CTR(1, 2, 2, 4, 6, 400, 9000, 300, 8000);
	static const uint64_t nb[] = CTR(2, 4, 3, 8, 12, 800, 18000, 600, 16000);
	/* tokens from the second read on (T0 + 70: minute 1) */
	static const uint64_t ka[] = CTRT(1, 1, 1, 2, 2, 100, 200, 50, 150, 0, 0, 0, 0);
	static const uint64_t kb[] = CTRT(1, 2, 2, 4, 4, 200, 400, 100, 300, 5, 250, 40, 1);
	/* 1m at T0 + 75: current bucket kb - ka (requests 1, ... tx_tokens 250, rx_tokens 40,
	 * tx_tokens_estimated 1), previous ka weighted 0.75 */
	static const double vk[] = W9(1.75, 1.75, 175, 350, 87.5, 262.5, 250, 40, 1);
	/* requests and tx_packets past 32 bits, bytes within 48 */
	static const uint64_t pa[] = CTR(1, (1ULL << 32) + 9, 3, 1, (1ULL << 33) + 1, 10, 10, 0, 0);
	static const uint64_t pb[] = CTR(1, (1ULL << 32) + 19, 4, 1, (1ULL << 33) + 2, 20, 20, 0, 0);
	/* 1h at T0 + 80: 4 G + 19 requests in hour 0's bucket: wide */
	static const double vp[] = W8(4294967315.0, 4, 20, 20, 0, 0, 0, 0);
	struct ps_client_key kn = key4("192.0.2.60"), kk = key6("2001:db8::61"),
			     kp = key4("192.0.2.62");
	const struct ps_crec *rn, *rk, *rp;
	struct ps_ctable t;
	struct ck ck;

	ps_ctable_init(&t);
	ck_init(&ck, "token_entry_at_first_token");
	upd(&ck, &t, &kn, na, 1000, 10);
	upd(&ck, &t, &kn, nb, 1000, 70);
	upd(&ck, &t, &kk, ka, 1000, 10);
	rk = find(&ck, &t, &kk, "before its tokens");
	if (rk && rk->tok)
		ck_fail(&ck, "a token entry before any token");
	upd(&ck, &t, &kk, kb, 1000, 70);
	rn = find(&ck, &t, &kn, "no token");
	rk = find(&ck, &t, &kk, "tokens");
	if (rn && (rn->tok || rn->ext))
		ck_fail(&ck, "a client without tokens has a token entry (%u) or extension (%u)",
			rn->tok, rn->ext);
	if (rk && (!rk->tok || rk->ext))
		ck_fail(&ck, "a client with tokens: token entry %u, extension %u", rk->tok, rk->ext);
	if (t.next_tok != 1)
		ck_fail(&ck, "%u token entries, expected 1", t.next_tok);
	check_totals(&ck, "no token", &t, &kn, nb);
	check_totals(&ck, "tokens", &t, &kk, kb);
	check_view(&ck, "tokens 1m", &t, &kk, PS_WIN_1M, at(75), vk, 1.75);
	ck_end(&ck);

	ck_init(&ck, "minute_requests_past_16_bits");
	{
		/* 70000 requests (65535 fit a minute's 16-bit bucket) at T0 + 10, 5 more at T0 + 70 */
		static const uint64_t ma[] = CTR(1, 70000, 70000, 9, 9, 900, 900, 0, 0);
		static const uint64_t mb[] = CTR(1, 70005, 70001, 9, 9, 1000, 1000, 0, 0);
		/* 1m at T0 + 75: 5 + 0.75 x 70000, 1 + 0.75 x 70000, 100 + 675 */
		static const double vm[] = W6(52505, 52501, 775, 775, 0, 0);
		struct ps_client_key km = key4("192.0.2.63");
		const struct ps_crec *rm;

		upd(&ck, &t, &km, ma, 1000, 10);
		upd(&ck, &t, &km, mb, 1000, 70);
		check_totals(&ck, "70000 requests a minute", &t, &km, mb);
		check_view(&ck, "70000 requests a minute, 1m", &t, &km, PS_WIN_1M, at(75), vm, 52501);
		rm = find(&ck, &t, &km, "70000 requests a minute");
		if (rm && !(rm->ext && t.ext[rm->ext - 1].wide && !t.ext[rm->ext - 1].big))
			ck_fail(&ck, "70000 requests a minute: not wide (or counters moved)");
	}
	ck_end(&ck);

	ck_init(&ck, "counters_past_32_bits");
	upd(&ck, &t, &kp, pa, 1000, 10);
	upd(&ck, &t, &kp, pb, 1000, 80);
	check_totals(&ck, "past 32 bits", &t, &kp, pb);
	check_view(&ck, "past 32 bits 1h", &t, &kp, PS_WIN_1H, at(80), vp, 4.0 / 60);
	rp = find(&ck, &t, &kp, "past 32 bits");
	if (rp && !(rp->ext && t.ext[rp->ext - 1].big && !rp->tok))
		ck_fail(&ck, "requests past 32 bits are not in the extension (or a token entry made)");
	ck_end(&ck);
	ps_ctable_free(&t);
}

/*
 * A version 3 file written as the 312-byte records were held (by hand):
 * a client with tokens, one without, one whose requests are past 32 bits
 * but within 48 (its extension holds them once read), one wide; read
 * (version 3 has no tx_tokens_estimated windows: they start at 0, the
 * counter's total kept), then saved (version 4) and read again.
 */
static void test_state_v3(void)
{
	struct ps_client_key k1 = key4("198.51.100.1"), k2 = key4("198.51.100.2"),
			     k3 = key6("2001:db8::3"), k4 = key4("198.51.100.4"),
			     k5 = key4("198.51.100.5");
	/* 5: 70000 requests in minute 100 (its 16-bit bucket would not hold them) */
	static const uint64_t l5[] = CTR(0, 70000, 2, 0, 0, 7, 7, 0, 0);
	static const double v5[] = W6(70000, 2, 7, 7, 0, 0);
	/* 1 with tokens: last read, and buckets of minute 100 (current) and 99 (previous) */
	static const uint64_t l1[] = CTRT(2, 7, 6, 20, 30, 1000, 9000, 800, 8000, 11, 600, 90, 2);
	static const uint64_t l3[] = CTR(1, (1ULL << 40) + 3, 5, 3, 3, 30, 30, 0, 0);
	static const uint64_t b4[] = CTR(0, 1, 1, 0, 0, 0, 0, 0, 0);
	/* 1m at 100 min + 15 s: current + 0.75 previous */
	static const double v1[] = W8(4 + 0.75 * 3, 3 + 0.75 * 3, 600 + 0.75 * 400,
				      5000 + 0.75 * 4000, 500 + 0.75 * 300,
				      4000 + 0.75 * 4000, 400 + 0.75 * 200, 50 + 0.75 * 40);
	static const double v3[] = W8(0.75 * 8, 0.75 * 5, 0.75 * 30, 0.75 * 30, 0, 0, 0, 0);
	static const double v4[] = W8(6e9 + 0.75 * 1, 0, 0, 0, 0, 0, 0, 0);
	struct { struct v1hdr h; struct v3rec r[5]; struct v3ext e[1]; struct v1hdr h2; }
		__attribute__((packed)) f;
	const uint64_t now_ms = (100ULL * 60 + 15) * 1000;
	char dir[512], path[600], err[4200];
	struct ps_ctable l, l2;
	uint64_t saved, tot[PS_NFIELDS];
	const struct ps_crec *r;
	struct ck ck;
	int i, k;

	ck_init(&ck, "state_version_3_read");
	ps_ctable_init(&l);
	ps_ctable_init(&l2);
	memset(&f, 0, sizeof(f));
	memcpy(f.h.magic, "PSTKSTAT", 8);
	f.h.version = 3;
	f.h.rec_size = sizeof(struct v3rec);
	f.h.ext_size = sizeof(struct v3ext);
	f.h.n = 5;
	f.h.next_ext = 1;
	f.h.gen = 77;
	f.h.saved_ms = now_ms;
	f.r[0].key = k1;
	f.r[1].key = k2;
	f.r[2].key = k3;
	f.r[3].key = k4;
	f.r[4].key = k5;
	for (i = 0; i < 5; i++) {
		f.r[i].inc_ns = 1000 + i;
		f.r[i].first_wall = 99 * 60;
		f.r[i].last_wall = 100 * 60 + 5;
		f.r[i].minute = 100;
		f.r[i].gen = 77;
	}
	for (i = 0; i < OLD_NFIELDS; i++)
		for (k = 0; k < 6; k++) {
			f.r[0].last[i][k] = l1[i] >> (8 * k);
			f.r[2].last[i][k] = l3[i] >> (8 * k);
			f.r[4].last[i][k] = l5[i] >> (8 * k);
		}
	f.r[4].w[PS_WIN_1M][0][PS_W_REQUESTS] = 70000;
	f.r[4].w[PS_WIN_1M][0][PS_W_INFERENCE] = 2;
	f.r[4].w[PS_WIN_1M][0][PS_W_RX_BYTES] = 7;
	f.r[4].w[PS_WIN_1M][0][PS_W_TX_BYTES] = 7;
	for (i = 0; i < 4; i++)
		f.r[0].last_tok[i] = l1[PS_NCTRFIELDS + i];
	{
		static const uint32_t cur[8] = { 4, 3, 600, 5000, 500, 4000, 400, 50 };
		static const uint32_t prev[8] = { 3, 3, 400, 4000, 300, 4000, 200, 40 };

		memcpy(f.r[0].w[PS_WIN_1M][0], cur, sizeof(cur));
		memcpy(f.r[0].w[PS_WIN_1M][1], prev, sizeof(prev));
	}
	/* client 3: minute 99's bucket only */
	f.r[2].w[PS_WIN_1M][1][PS_W_REQUESTS] = 8;
	f.r[2].w[PS_WIN_1M][1][PS_W_INFERENCE] = 5;
	f.r[2].w[PS_WIN_1M][1][PS_W_RX_BYTES] = 30;
	f.r[2].w[PS_WIN_1M][1][PS_W_TX_BYTES] = 30;
	/* client 4: wide, its base one request */
	f.r[3].ext = 1;
	f.e[0].wide = true;
	memcpy(f.e[0].base, b4, sizeof(f.e[0].base));
	f.e[0].ww[PS_WIN_1M][0][PS_W_REQUESTS] = 6000000000ULL;
	f.e[0].ww[PS_WIN_1M][1][PS_W_REQUESTS] = 1;
	f.h2 = f.h;
	if (mksub("v3", dir, sizeof(dir))) {
		ck_fail(&ck, "mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	if (gzip_file(path, &f, sizeof(f))) {
		ck_fail(&ck, "cannot write %s", path);
		goto rm;
	}
	if ((k = ps_state_load(&l, dir, &saved, err, sizeof(err))) != 1) {
		ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", k, err);
		goto rm;
	}
	if (l.n != 5 || l.gen != 77 || saved != now_ms || l.next_tok != 1)
		ck_fail(&ck, "%u clients, tick %u, saved %llu, %u token entries; expected 5, 77, %llu, 1",
			l.n, l.gen, (unsigned long long)saved, l.next_tok,
			(unsigned long long)now_ms);
	check_totals(&ck, "tokens", &l, &k1, l1);
	check_view(&ck, "tokens 1m", &l, &k1, PS_WIN_1M, now_ms, v1, v1[PS_F_INFERENCE]);
	check_totals(&ck, "nothing", &l, &k2, (const uint64_t[PS_NFIELDS]){ 0 });
	check_totals(&ck, "requests past 32 bits", &l, &k3, l3);
	check_view(&ck, "requests past 32 bits 1m", &l, &k3, PS_WIN_1M, now_ms, v3, 0.75 * 5);
	r = find(&ck, &l, &k3, "requests past 32 bits");
	if (r && !(r->ext == 2 && l.ext[1].big && !r->tok))
		ck_fail(&ck, "requests past 32 bits: extension %u, token entry %u", r->ext, r->tok);
	r = find(&ck, &l, &k2, "nothing");
	if (r && (r->tok || r->ext))
		ck_fail(&ck, "a client without tokens got a token entry");
	check_totals(&ck, "wide", &l, &k4, b4);
	check_view(&ck, "wide 1m", &l, &k4, PS_WIN_1M, now_ms, v4, 0);
	check_totals(&ck, "70000 requests a minute", &l, &k5, l5);
	check_view(&ck, "70000 requests a minute, 1m", &l, &k5, PS_WIN_1M, now_ms, v5, 2);
	r = find(&ck, &l, &k5, "70000 requests a minute");
	if (r && !(r->ext == 3 && l.ext[2].wide))
		ck_fail(&ck, "70000 requests a minute: extension %u, not wide", r->ext);
	if (!ck_ok(&ck))
		goto rm;
	/* Saved again (version 4 now) and read: the same table. */
	k = ps_state_save(&l, dir, now_ms, err, sizeof(err));
	if (k)
		ck_fail(&ck, "ps_state_save returned %d: %s", k, err);
	else if ((k = ps_state_load(&l2, dir, &saved, err, sizeof(err))) != 1)
		ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", k, err);
	if (ck_ok(&ck))
		compare_tables(&ck, &l, &l2);
	r = ps_ctable_find(&l2, &k1);
	if (r) {
		ps_crec_totals(&l2, r, tot);
		if (memcmp(tot, l1, sizeof(tot)))
			ck_fail(&ck, "tokens: totals differ after a second save");
	}
rm:
	rmsub(dir);
out:
	ps_ctable_free(&l);
	ps_ctable_free(&l2);
	ck_end(&ck);
}

/*
 * Load a state file penstockd wrote (tests/unit/count/FILE, gzip'd as it
 * is) from a directory of its own (sub, its path in dir): it must hold n
 * clients, saved at saved_ms. 0 when the directory was made (the caller
 * removes it), -1 when not; a failure is the check's.
 */
static int load_fixture(struct ck *ck, const char *file, const char *sub, struct ps_ctable *l,
			uint32_t n, uint64_t saved_ms, char *dir, size_t dlen)
{
	const char *top = getenv("PS_TOP");
	char src[1024], path[600], err[4200];
	unsigned char *buf = NULL;
	size_t len = 0;
	uint64_t saved = 0;
	int rc;

	snprintf(src, sizeof(src), "%s/tests/unit/count/%s", top ? top : ".", file);
	if (gunzip_file(src, &buf, &len)) {
		ck_fail(ck, "cannot read %s", src);
		return -1;
	}
	if (mksub(sub, dir, dlen)) {
		ck_fail(ck, "mkdir %s: %s", dir, strerror(errno));
		free(buf);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, PS_STATE_FILE);
	if (gzip_file(path, buf, len))
		ck_fail(ck, "cannot write %s", path);
	else if ((rc = ps_state_load(l, dir, &saved, err, sizeof(err))) != 1)
		ck_fail(ck, "ps_state_load returned %d, expected 1: %s", rc, err);
	else if (l->n != n || saved != saved_ms)
		ck_fail(ck, "%u clients saved at %llu ms, expected %u at %llu", l->n,
			(unsigned long long)saved, n, (unsigned long long)saved_ms);
	free(buf);
	return 0;
}

/*
 * A version 3 file as penstockd wrote it (tests/unit/count/state-v3-penstockd.gz:
 * the build before version 4, its state directory after real clients of
 * tests/lib/token_clients.py took answers from tests/lib/llm_server.py
 * on port 8000, as tests/e2e/test_tokens makes them). Every figure below
 * is what that penstockd answered (`penstock client ADDR --json`) before
 * it stopped, and its token counters what the clients counted themselves:
 * 198.18.0.2 two streams with usage (17 completion, 10 prompt tokens, 21
 * events), 198.18.0.3 two streams without (41 events, 39 estimated),
 * fd00:5053::2 a JSON answer and a stream without usage (9, 11; 8
 * events, 7 estimated). Read by this build: the totals and the windows
 * as they were, the tx_tokens_estimated windows 0 (version 3 had none)
 * while its total is kept. The file was saved at 01:23:08.712 UTC, the
 * traffic at 01:23:05-06: at that moment each window holds all of it.
 */
static void test_state_v3_penstockd(void)
{
	static const uint64_t t1[] = CTRT(1, 2, 2, 20, 18, 1577, 5475, 529, 4531, 21, 17, 10, 0);
	static const uint64_t t2[] = CTRT(1, 2, 2, 25, 26, 1895, 9924, 587, 8564, 41, 0, 0, 39);
	static const uint64_t t3[] = CTRT(1, 2, 2, 13, 11, 1489, 2902, 545, 2102, 8, 9, 11, 7);
	static const double w1[] = W9(2, 2, 1577, 5475, 529, 4531, 17, 10, 0);
	static const double w2[] = W9(2, 2, 1895, 9924, 587, 8564, 0, 0, 0);
	static const double w3[] = W9(2, 2, 1489, 2902, 545, 2102, 9, 11, 0);
	const uint64_t saved_ms = 1796606588712ULL;
	const struct { struct ps_client_key k; const uint64_t *tot; const double *w; } c[] = {
		{ key4("198.18.0.2"), t1, w1 },
		{ key4("198.18.0.3"), t2, w2 },
		{ key6("fd00:5053::2"), t3, w3 },
	};
	char dir[512];
	struct ps_ctable l;
	struct ck ck;
	int i;

	ck_init(&ck, "state_version_3_of_penstockd");
	ps_ctable_init(&l);
	if (load_fixture(&ck, "state-v3-penstockd.gz", "v3-penstockd", &l, 3, saved_ms, dir,
			 sizeof(dir)))
		goto out;
	for (i = 0; i < 3 && ck_ok(&ck); i++) {
		check_totals(&ck, "version 3 of penstockd", &l, &c[i].k, c[i].tot);
		check_view(&ck, "version 3 of penstockd, 1m", &l, &c[i].k, PS_WIN_1M, saved_ms,
			   c[i].w, 2);
		check_view(&ck, "version 3 of penstockd, 1h", &l, &c[i].k, PS_WIN_1H, saved_ms,
			   c[i].w, 2.0 / 60);
		check_view(&ck, "version 3 of penstockd, 24h", &l, &c[i].k, PS_WIN_24H, saved_ms,
			   c[i].w, 2.0 / 1440);
	}
	rmsub(dir);
out:
	ps_ctable_free(&l);
	ck_end(&ck);
}

/*
 * A version 4 file as penstockd wrote it (tests/unit/count/state-v4-penstockd.gz:
 * the build before version 5, its state directory after the gRPC clients
 * of tests/e2e/test_grpc made their calls, one over IPv4 and one over
 * IPv6). Every figure below is what that penstockd answered (`penstock
 * clients --window total --json`) before it stopped: 8 requests, 7 of
 * them inference calls, 13 messages in and 22 out each, as tshark's gRPC
 * dissector and grpcio counted them. Read by this build: the totals, the
 * message counters among them, and the windows as they were; the message
 * windows 0 (version 4 had none). Saved again (version 5) and read: the
 * same table. The file was saved at 04:40:46.829 UTC, the traffic at
 * 04:40:43: at that moment each window holds all of it.
 */
static void test_state_v4_penstockd(void)
{
	static const uint64_t t1[] = CTRM(1, 8, 7, 109, 107, 114749, 103884, 109073, 98312,
					  0, 0, 0, 0, 13, 22);
	static const uint64_t t2[] = CTRM(1, 8, 7, 110, 120, 117019, 106960, 109091, 98312,
					  0, 0, 0, 0, 13, 22);
	static const double w1[] = W11(8, 7, 114749, 103884, 109073, 98312, 0, 0, 0, 0, 0);
	static const double w2[] = W11(8, 7, 117019, 106960, 109091, 98312, 0, 0, 0, 0, 0);
	const uint64_t saved_ms = 1796618446829ULL;
	const struct { struct ps_client_key k; const uint64_t *tot; const double *w; } c[] = {
		{ key4("198.18.0.2"), t1, w1 },
		{ key6("fd00:5053::3"), t2, w2 },
	};
	char dir[512], err[4200];
	struct ps_ctable l, l2;
	uint64_t saved = 0;
	struct ck ck;
	int i, rc;

	ck_init(&ck, "state_version_4_of_penstockd");
	ps_ctable_init(&l);
	ps_ctable_init(&l2);
	if (load_fixture(&ck, "state-v4-penstockd.gz", "v4-penstockd", &l, 2, saved_ms, dir,
			 sizeof(dir)))
		goto out;
	for (i = 0; i < 2 && ck_ok(&ck); i++) {
		check_totals(&ck, "version 4 of penstockd", &l, &c[i].k, c[i].tot);
		check_view(&ck, "version 4 of penstockd, 1m", &l, &c[i].k, PS_WIN_1M, saved_ms,
			   c[i].w, 7);
		check_view(&ck, "version 4 of penstockd, 1h", &l, &c[i].k, PS_WIN_1H, saved_ms,
			   c[i].w, 7.0 / 60);
		check_view(&ck, "version 4 of penstockd, 24h", &l, &c[i].k, PS_WIN_24H, saved_ms,
			   c[i].w, 7.0 / 1440);
	}
	if (ck_ok(&ck)) {
		rc = ps_state_save(&l, dir, saved_ms, err, sizeof(err));
		if (rc)
			ck_fail(&ck, "ps_state_save returned %d: %s", rc, err);
		else if ((rc = ps_state_load(&l2, dir, &saved, err, sizeof(err))) != 1)
			ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", rc, err);
		if (ck_ok(&ck))
			compare_tables(&ck, &l, &l2);
	}
	rmsub(dir);
out:
	ps_ctable_free(&l);
	ps_ctable_free(&l2);
	ck_end(&ck);
}

/*
 * The gRPC message counters' windows: a client's messages in and out over
 * two minutes, as the tick reads them (rx_messages, tx_messages windowed
 * like the token fields, in its token entry), and through a save
 * (version 5) and a load.
 */
static void test_message_windows(void)
{
	/* T0 + 10: a gRPC call, 4 messages in, 9 out; T0 + 70: 6 and 20 more */
	static const uint64_t ma[] = CTRM(1, 1, 1, 4, 4, 400, 900, 300, 800, 0, 0, 0, 0, 4, 9);
	static const uint64_t mb[] = CTRM(1, 2, 2, 8, 8, 800, 1800, 600, 1600, 0, 0, 0, 0, 10, 29);
	/* 1m at T0 + 75: minute 1's bucket (mb - ma) + 0.75 of minute 0's (ma) */
	static const double v1m[] = W11(1 + 0.75, 1 + 0.75, 400 + 300, 900 + 675, 300 + 225,
					800 + 600, 0, 0, 0, 6 + 0.75 * 4, 20 + 0.75 * 9);
	/* 1h and 24h at T0 + 75: all of it */
	static const double v1h[] = W11(2, 2, 800, 1800, 600, 1600, 0, 0, 0, 10, 29);
	struct ps_client_key k = key4("192.0.2.60");
	char dir[512], err[4200];
	struct ps_ctable t, l;
	const struct ps_crec *r;
	uint64_t saved;
	struct ck ck;
	int rc;

	ps_ctable_init(&t);
	ps_ctable_init(&l);
	ck_init(&ck, "message_windows");
	upd(&ck, &t, &k, ma, 1000, 10);
	upd(&ck, &t, &k, mb, 1000, 70);
	check_totals(&ck, "messages", &t, &k, mb);
	check_view(&ck, "messages 1m", &t, &k, PS_WIN_1M, at(75), v1m, 1.75);
	check_view(&ck, "messages 1h", &t, &k, PS_WIN_1H, at(75), v1h, 2.0 / 60);
	check_view(&ck, "messages 24h", &t, &k, PS_WIN_24H, at(75), v1h, 2.0 / 1440);
	r = find(&ck, &t, &k, "messages");
	if (r && !r->tok)
		ck_fail(&ck, "a client with messages has no token entry");
	if (mksub("messages", dir, sizeof(dir))) {
		ck_fail(&ck, "mkdir %s: %s", dir, strerror(errno));
	} else {
		rc = ps_state_save(&t, dir, S_SAVED_MS, err, sizeof(err));
		if (rc)
			ck_fail(&ck, "ps_state_save returned %d: %s", rc, err);
		else if ((rc = ps_state_load(&l, dir, &saved, err, sizeof(err))) != 1)
			ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", rc, err);
		if (ck_ok(&ck)) {
			compare_tables(&ck, &t, &l);
			check_view(&ck, "loaded, messages 1m", &l, &k, PS_WIN_1M, at(75), v1m, 1.75);
		}
		rmsub(dir);
	}
	ps_ctable_free(&t);
	ps_ctable_free(&l);
	ck_end(&ck);
}

/* ------------------------------------------------------------------ tokens */

/*
 * The output token counters (tx_events, tx_tokens, rx_tokens,
 * tx_tokens_estimated): totals like every counter; windows for tx_tokens,
 * rx_tokens and tx_tokens_estimated (not tx_events); 32 bits at the last
 * read, the extension past that.
 */
static void test_tokens(void)
{
	/* T0 + 10: two answers, 40 events, 700 completion and 90 prompt tokens reported */
	static const uint64_t ta[] = CTRT(1, 2, 2, 4, 6, 400, 9000, 300, 8000, 40, 700, 90, 0);
	/* T0 + 70: one more, streamed without usage: 15 events estimated, 30 prompt
	 * tokens; and a gRPC call's 12 messages in, 30 out */
	static const uint64_t tb[] = CTRM(1, 3, 3, 6, 9, 600, 12000, 450, 10000, 55, 700, 120, 15,
					  12, 30);
	/* T0 + 80: only the tokens moved (a usage chunk at the end of a stream) */
	static const uint64_t tc[] = CTRM(1, 3, 3, 6, 9, 600, 12000, 450, 10000, 55, 800, 120, 15,
					  12, 30);
	/*
	 * 1m at T0 + 75: current bucket (minute 1) tb - ta, previous (minute 0)
	 * ta weighted 1 - 15/60 = 0.75: requests 1 + 1.5, rx_bytes 200 + 300,
	 * tx_bytes 3000 + 6750, rx_payload 150 + 225, tx_payload 2000 + 6000,
	 * tx_tokens 0 + 525, rx_tokens 30 + 67.5, tx_tokens_estimated 15 + 0,
	 * rx_messages 12 + 0, tx_messages 30 + 0; events none (totals only)
	 */
	static const double v1m[] = W11(2.5, 2.5, 500, 9750, 375, 8000, 525, 97.5, 15, 12, 30);
	/* 1h at T0 + 75: all in hour 0's bucket: tb */
	static const double v1h[] = W11(3, 3, 600, 12000, 450, 10000, 700, 120, 15, 12, 30);
	/* 1h at T0 + 80 after tc: tx_tokens 800 */
	static const double v1h_c[] = W11(3, 3, 600, 12000, 450, 10000, 800, 120, 15, 12, 30);
	/* past 32 bits: 4 G + 7 completion tokens */
	static const uint64_t big[] = CTRT(0, 1, 1, 0, 0, 10, 10, 0, 0, 0, (1ULL << 32) + 7, 3, 0);
	static const double vbig[] = W8(1, 1, 10, 10, 0, 0, 4294967303.0, 3);
	/* a new incarnation (first_ns 2000): the first one's tokens stay */
	static const uint64_t ia[] = CTRM(0, 1, 1, 0, 0, 10, 10, 0, 0, 20, 500, 40, 0, 4, 9);
	static const uint64_t ib[] = CTRM(0, 1, 1, 0, 0, 10, 10, 0, 0, 3, 30, 5, 3, 1, 2);
	static const uint64_t isum[] = CTRM(0, 2, 2, 0, 0, 20, 20, 0, 0, 23, 530, 45, 3, 5, 11);
	static const char *const by_tx_tokens[] = { "192.0.2.51", "192.0.2.50", "192.0.2.52" };
	static const char *const by_rx_tokens[] = { "192.0.2.50", "192.0.2.52", "192.0.2.51" };
	struct ps_client_key k = key4("192.0.2.50"), kb = key4("192.0.2.51"),
			     ki = key4("192.0.2.52");
	char dir[512], err[4200];
	const struct ps_crec *r;
	struct ps_ctable t, l;
	uint64_t saved;
	struct ck ck;
	int w, rc;

	ps_ctable_init(&t);
	ps_ctable_init(&l);
	ck_init(&ck, "tokens_totals_and_windows");
	upd(&ck, &t, &k, ta, 1000, 10);
	upd(&ck, &t, &k, tb, 1000, 70);
	check_totals(&ck, "after two reads", &t, &k, tb);
	check_view(&ck, "1m", &t, &k, PS_WIN_1M, at(75), v1m, 2.5);
	check_view(&ck, "1h", &t, &k, PS_WIN_1H, at(75), v1h, 3.0 / 60);
	for (w = 0; w < PS_NFIELDS; w++)
		if (ps_field_windowed(w) !=
		    (w != PS_F_CONNECTIONS && w != PS_F_RX_PACKETS && w != PS_F_TX_PACKETS &&
		     w != PS_F_TX_EVENTS))
			ck_fail(&ck, "%s: windowed %d", fname[w], ps_field_windowed(w));
	ck_end(&ck);

	ck_init(&ck, "tokens_alone_move_a_client");
	upd(&ck, &t, &k, tc, 1000, 80);
	check_totals(&ck, "tokens only", &t, &k, tc);
	check_view(&ck, "1h", &t, &k, PS_WIN_1H, at(80), v1h_c, 3.0 / 60);
	ck_end(&ck);

	ck_init(&ck, "tokens_past_32_bits");
	upd(&ck, &t, &kb, big, 1000, 10);
	check_totals(&ck, "past 32 bits", &t, &kb, big);
	check_view(&ck, "1m", &t, &kb, PS_WIN_1M, at(10), vbig, 1);
	r = find(&ck, &t, &kb, "past 32 bits");
	if (r && !(r->ext && t.ext[r->ext - 1].big && t.ext[r->ext - 1].wide))
		ck_fail(&ck, "a token counter past 32 bits is not in the extension (big, wide)");
	ck_end(&ck);

	ck_init(&ck, "tokens_new_incarnation");
	upd(&ck, &t, &ki, ia, 1000, 10);
	upd(&ck, &t, &ki, ib, 2000, 20);
	check_totals(&ck, "two incarnations", &t, &ki, isum);
	ck_end(&ck);

	ck_init(&ck, "tokens_sort");
	check_top(&ck, "tx_tokens total", &t, PS_WIN_TOTAL, PS_SORT_TX_TOKENS, 0, at(80),
		  by_tx_tokens, 3);
	check_top(&ck, "rx_tokens total", &t, PS_WIN_TOTAL, PS_SORT_RX_TOKENS, 0, at(80),
		  by_rx_tokens, 3);
	ck_end(&ck);

	ck_init(&ck, "state_tokens_round_trip");
	if (mksub("tokens", dir, sizeof(dir))) {
		ck_fail(&ck, "mkdir %s: %s", dir, strerror(errno));
	} else {
		rc = ps_state_save(&t, dir, S_SAVED_MS, err, sizeof(err));
		if (rc)
			ck_fail(&ck, "ps_state_save returned %d: %s", rc, err);
		else if ((rc = ps_state_load(&l, dir, &saved, err, sizeof(err))) != 1)
			ck_fail(&ck, "ps_state_load returned %d, expected 1: %s", rc, err);
		if (ck_ok(&ck))
			compare_tables(&ck, &t, &l);
		if (ck_ok(&ck)) {
			check_totals(&ck, "loaded", &l, &k, tc);
			check_view(&ck, "loaded 1h", &l, &k, PS_WIN_1H, at(80), v1h_c, 3.0 / 60);
			check_totals(&ck, "loaded, past 32 bits", &l, &kb, big);
			check_totals(&ck, "loaded, two incarnations", &l, &ki, isum);
		}
		rmsub(dir);
	}
	ck_end(&ck);
	ps_ctable_free(&t);
	ps_ctable_free(&l);
}


/* The pipe to the parent, in a child of run_in_child(). */
static int child_fd = -1;

/* In a child: say what it is about to do, in case it does not come back. */
static void __attribute__((format(printf, 1, 2))) child_note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (child_fd >= 0 && write(child_fd, line, n) < 0)
		child_fd = -1;
}

/*
 * Run fn in a child process, for a case that may corrupt memory: the
 * child sends notes and its verdict through a pipe (one per line, the
 * verdict after "="); a crash is a failure too, reported with the last
 * note.
 */
static void run_in_child(const char *name, bool (*fn)(char *why, size_t len))
{
	char buf[8192], *line, *save, *verdict = NULL, *note = NULL;
	ssize_t r;
	size_t o = 0;
	int pfd[2], status = 0;
	pid_t pid;

	fflush(stdout);
	if (pipe(pfd)) {
		fail(name, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		fail(name, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		char msg[1024] = "";
		bool ok;

		close(pfd[0]);
		child_fd = pfd[1];
		ok = fn(msg, sizeof(msg));
		if (!ok)
			child_note("=%s", msg[0] ? msg : "failed without a reason");
		close(pfd[1]);
		_exit(ok ? 0 : 1);
	}
	close(pfd[1]);
	while (o < sizeof(buf) - 1 && (r = read(pfd[0], buf + o, sizeof(buf) - 1 - o)) > 0)
		o += r;
	buf[o] = 0;
	close(pfd[0]);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '=')
			verdict = line + 1;
		else
			note = line;
	}
	if (waitpid(pid, &status, 0) != pid)
		fail(name, "waitpid: %s", strerror(errno));
	else if (verdict)
		fail(name, "%s", verdict);
	else if (WIFSIGNALED(status))
		fail(name, "crashed with signal %d (%s) while %s", WTERMSIG(status),
		     strsignal(WTERMSIG(status)), note ? note : "starting");
	else if (WEXITSTATUS(status))
		fail(name, "exit status %d (memory corrupted?) while %s", WEXITSTATUS(status),
		     note ? note : "starting");
	else
		pass(name);
}

/*
 * A daemon that saved no clients, restarted: the loaded table must take
 * new clients like a fresh one.
 */
static bool empty_state_then_grow(char *why, size_t len)
{
	char dir[512], err[8400];
	struct ps_ctable e, t;
	uint64_t saved = 0;
	struct ck ck;
	uint32_t i;
	int rc;

	ck_init(&ck, "");
	if (mksub("empty", dir, sizeof(dir))) {
		snprintf(why, len, "mkdir %s: %s", dir, strerror(errno));
		return false;
	}
	ps_ctable_init(&e);
	ps_ctable_init(&t);
	rc = ps_state_save(&e, dir, at(5), err, sizeof(err));
	if (!rc)
		rc = ps_state_load(&t, dir, &saved, err, sizeof(err));
	rmsub(dir);
	if (rc != 1 || t.n != 0) {
		snprintf(why, len, "save/load of an empty table returned %d, %u records: %s", rc,
			 t.n, rc < 0 ? err : "");
		ps_ctable_free(&t);
		return false;
	}
	for (i = 0; i < 20; i++) {
		struct ps_client_key k = key_num(PS_AF_INET, 0x64400000, i);
		uint64_t c[PS_NFIELDS] = { 0 };

		c[PS_F_REQUESTS] = i + 1;
		child_note("adding client %u to a table loaded from a state file of 0 clients",
			   i + 1);
		if (!upd(&ck, &t, &k, c, 1000, 10))
			break;
		if (t.n > t.cap) {
			/* memory is corrupt: report and leave at once */
			snprintf(why, len,
				 "after loading a state file of 0 clients, adding client %u leaves %u records in an array of %u (written past its end)",
				 i + 1, t.n, t.cap);
			return false;
		}
	}
	for (i = 0; i < 20 && ck_ok(&ck); i++) {
		struct ps_client_key k = key_num(PS_AF_INET, 0x64400000, i);
		uint64_t c[PS_NFIELDS] = { 0 };

		c[PS_F_REQUESTS] = i + 1;
		check_totals(&ck, "after loading an empty file", &t, &k, c);
	}
	ps_ctable_free(&t);
	if (!ck_ok(&ck))
		snprintf(why, len, "%s", ck.why);
	return ck_ok(&ck);
}

/* ------------------------------------------------------------------- names */

static void test_parse(void)
{
	static const char *const sorts[] = {
		"requests", "inference_requests", "rx_bytes", "tx_bytes", "tx_payload", "rpm",
	};
	static const int sort_vals[] = {
		PS_SORT_REQUESTS, PS_SORT_INFERENCE, PS_SORT_RX_BYTES,
		PS_SORT_TX_BYTES, PS_SORT_TX_PAYLOAD, PS_SORT_RPM,
	};
	static const char *const bad_sorts[] = {
		"", "Requests", "request", "requests ", "inference", "rx_payload", "connections",
		"tx_packets", "RPM", "total", "1m",
	};
	static const char *const wins[] = { "1m", "1h", "24h", "total" };
	static const int win_vals[] = { PS_WIN_1M, PS_WIN_1H, PS_WIN_24H, PS_WIN_TOTAL };
	static const char *const bad_wins[] = {
		"", "1M", "1d", "60m", "24H", "1440m", "Total", "all", "1m ", "rpm", "2h",
	};
	struct ck ck;
	int i, r;

	ck_init(&ck, "sort_parse");
	for (i = 0; i < NA(sorts); i++)
		if ((r = ps_name_find(ps_sort_names, sorts[i])) != sort_vals[i])
			ck_fail(&ck, "'%s' gives %d, expected %d", sorts[i], r, sort_vals[i]);
	for (i = 0; i < NA(bad_sorts); i++)
		if ((r = ps_name_find(ps_sort_names, bad_sorts[i])) != -1)
			ck_fail(&ck, "'%s' gives %d, expected -1", bad_sorts[i], r);
	ck_end(&ck);

	ck_init(&ck, "window_parse");
	for (i = 0; i < NA(wins); i++)
		if ((r = ps_name_find(ps_window_names, wins[i])) != win_vals[i])
			ck_fail(&ck, "'%s' gives %d, expected %d", wins[i], r, win_vals[i]);
	for (i = 0; i < NA(bad_wins); i++)
		if ((r = ps_name_find(ps_window_names, bad_wins[i])) != -1)
			ck_fail(&ck, "'%s' gives %d, expected -1", bad_wins[i], r);
	ck_end(&ck);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_totals();
	test_incarnations();
	test_windows();
	test_wide();
	test_top();
	test_growth();
	test_state();
	test_state_v1();
	test_state_v2();
	test_tokens();
	test_token_entries();
	test_state_v3();
	test_state_v3_penstockd();
	test_state_v4_penstockd();
	test_message_windows();
	run_in_child("state_empty_file_then_grow", empty_state_then_grow);
	test_parse();
	rmdir(tmpdir);
	return nfailed ? 1 : 0;
}
