// SPDX-License-Identifier: GPL-2.0-only
/*
 * Token limits at packet time, through the live ingress and egress
 * programs on the programs' own clock (BPF_PROG_TEST_RUN, every decision
 * taken), with the classes penstockd writes for a config
 * (ps_enf_apply_classes). The server's answers report their usage; each
 * case checks the TAT it moved against tokens x emission read around the
 * answer (CLOCK_BOOTTIME is the programs' clock), and the verdict of the
 * client's next request start against that TAT: held while it is more
 * than the tolerance ahead of the clock, let in once the clock has caught
 * up with it (a real wait for the minute limit).
 *
 * The default class: 60000 tokens a minute (1 ms a token), a burst of
 * 1000 tokens (1 s). Class dry: the same, dry run. Class day: 8640000
 * tokens a day (10 ms a token), the day's budget at once. Class reserve:
 * the default's minute limit, each request charged 400 tokens at its start.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include <ctype.h>
#include <time.h>

#include "enforce/enforce.h"
#include "harness.h"

#define MS		1000000ULL
#define DRY_BASE	0xc6120200	/* 198.18.2.0/24 */
#define DAY_BASE	0xc6120300	/* 198.18.3.0/24 */
#define RES_BASE	0xc6120400	/* 198.18.4.0/24 */

static const char yaml[] =
	"endpoints: [{port: 8000}]\n"
	"limits:\n"
	"  default: {tokens_per_minute: 60000, token_burst: 1000}\n"
	"  classes:\n"
	"    - {name: dry, clients: [198.18.2.0/24], dry_run: true}\n"
	"    - {name: day, clients: [198.18.3.0/24], tokens_per_day: 8640000}\n"
	"    - {name: reserve, clients: [198.18.4.0/24], tokens_per_minute: 60000,\n"
	"       token_burst: 1000, token_reserve: 400}\n";

/* What the server has sent on a connection so far (its data offset). */
static uint32_t soff[16];

/* The server sends len bytes on c (index i of soff), acknowledging the client up to ack. */
static int ssend(const struct conn *c, int i, uint32_t ack, const void *data, unsigned int len)
{
	unsigned char buf[2048];
	int v = run(dp.egress_fd, buf,
		    frame(buf, SERVER, c->caddr, c->port, c->cport, c->sisn + 1 + soff[i],
			  c->cisn + 1 + ack, F_ACK, data, len, 0));

	soff[i] += len;
	return v;
}

/* A JSON answer reporting prompt and completion tokens. */
static unsigned int json_answer(char *out, size_t cap, unsigned int prompt, unsigned int completion)
{
	char b[256];
	int n = snprintf(b, sizeof(b),
			 "{\"id\":\"x\",\"usage\":{\"prompt_tokens\": %u,\"completion_tokens\": %u,"
			 "\"total_tokens\": %u}}",
			 prompt, completion, prompt + completion);

	return snprintf(out, cap,
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			"Content-Length: %d\r\n\r\n%s",
			n, b);
}

static int ctr_now(uint32_t caddr, struct ps_client_ctr *ctr)
{
	uint32_t slot;

	return ctr_of(caddr, ctr, &slot);
}

static int ctr_write(uint32_t caddr, const struct ps_client_ctr *ctr)
{
	struct ps_client_ctr old;
	uint32_t slot;

	if (ctr_of(caddr, &old, &slot))
		return -1;
	return bpf_map_update_elem(bpf_map__fd(dp.skel->maps.ps_client_ctrs), &slot, ctr, BPF_ANY);
}

/* tat must be debit ns after a moment in [t0, t1]. */
static void expect_tat(struct ck *c, const char *what, uint64_t tat, uint64_t t0, uint64_t t1,
		       uint64_t debit)
{
	if (tat < t0 + debit || tat > t1 + debit)
		ck_fail(c, "%s: TAT %+lld ns from the answer's start, expected %llu (+ at most %llu)",
			what, (long long)(tat - t0), (unsigned long long)debit,
			(unsigned long long)(t1 - t0));
}

/*
 * The next request start of a client whose TAT is tat under tolerance
 * tau: held if the clock stays below tat - tau during the run. 1 if the
 * run was decisive, 0 if the clock crossed the line meanwhile.
 */
static int expect_held(struct ck *c, const struct conn *cn, uint32_t off, uint64_t tat,
		       uint64_t tau, const char *what)
{
	int v = csend(cn, off, req, req_len);

	if (boot_ns() >= tat - tau) {
		ck_fail(c, "%s: the clock passed the TAT before the check (too slow a machine)",
			what);
		return 0;
	}
	expect(c, v, TC_ACT_SHOT, what);
	return 1;
}

static void sleep_until(uint64_t t)
{
	uint64_t now;

	while ((now = boot_ns()) < t) {
		struct timespec ts = { .tv_sec = (t - now) / 1000000000ULL,
				       .tv_nsec = (t - now) % 1000000000ULL };

		nanosleep(&ts, NULL);
	}
}

/*
 * Over the minute's burst: the next request start is held, on another
 * connection too; let in once the TAT is within the tolerance again.
 */
static void case_minute(void)
{
	uint64_t held0 = stat(PS_STAT_TOKEN_HELD), t0, t1;
	struct ps_client_ctr ctr;
	struct conn a, b;
	char ans[512];
	unsigned int n;
	struct ck c;

	ck_init(&c, "minute-hold");
	soff[0] = soff[1] = 0;
	if (handshake(&a, CLIENT_BASE + 1)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	expect(&c, csend(&a, 0, req, req_len), TC_ACT_OK, "the first request");
	/* 3000 tokens: 2 s beyond the 1 s burst. */
	n = json_answer(ans, sizeof(ans), 1000, 2000);
	t0 = boot_ns();
	ssend(&a, 0, req_len, ans, n);
	t1 = boot_ns();
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tx_tokens != 2000 || ctr.rx_tokens != 1000)
		ck_fail(&c, "tokens %llu/%llu, expected 2000/1000",
			(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens);
	expect_tat(&c, "tpm", ctr.tpm_tat, t0, t1, 3000 * MS);
	if (ctr.tpd_tat)
		ck_fail(&c, "tpd_tat moved without a day limit");
	if (!expect_held(&c, &a, req_len, ctr.tpm_tat, 1000 * MS, "the next request"))
		goto out;
	expect(&c, csend(&a, req_len, req, req_len), TC_ACT_SHOT, "the same request again");
	b = a;
	b.cport = 40001;
	{
		unsigned char buf[256];

		run(dp.ingress_fd, buf, frame(buf, b.caddr, SERVER, b.cport, PORT, b.cisn, 0,
					      F_SYN, NULL, 0, 0));
		run(dp.egress_fd, buf, frame(buf, SERVER, b.caddr, PORT, b.cport, b.sisn,
					     b.cisn + 1, F_SYN | F_ACK, NULL, 0, 0));
	}
	if (!expect_held(&c, &b, 0, ctr.tpm_tat, 1000 * MS, "a request on another connection"))
		goto out;
	expect_counts(&c, a.caddr, 1, 2);
	if (ctr_now(a.caddr, &ctr) || ctr.token_held != 2 || ctr.would_throttle)
		ck_fail(&c, "token_held %llu, would_throttle %llu, expected 2 and 0",
			(unsigned long long)ctr.token_held, (unsigned long long)ctr.would_throttle);
	if (stat(PS_STAT_TOKEN_HELD) - held0 != 3)
		ck_fail(&c, "stats.token_held moved by %llu, expected 3",
			(unsigned long long)(stat(PS_STAT_TOKEN_HELD) - held0));
	/* The clock catches up: the TAT is 1 s (the burst) ahead, no more. */
	sleep_until(ctr.tpm_tat - 1000 * MS);
	expect(&c, csend(&a, req_len, req, req_len), TC_ACT_OK, "the request once time passed");
	expect(&c, csend(&b, 0, req, req_len), TC_ACT_OK, "the other connection's");
	expect_counts(&c, a.caddr, 3, 2);
out:
	ck_end(&c);
}

/*
 * A stream that reports its running totals in every event: its highest
 * figures are debited once (800 tokens: let in after it), and the next
 * answer's on top of them.
 */
static void case_stream(void)
{
	static const char *const ev[] = {
		"data: {\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":10}}\n\n",
		"data: {\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":200}}\n\n",
		"data: {\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":700}}\n\ndata: [DONE]\n\n",
	};
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	struct ps_client_ctr ctr;
	uint64_t t0, t1, tat0;
	char chunk[256], ans[512];
	unsigned int i, n;
	struct conn a;
	struct ck c;

	ck_init(&c, "stream-running-totals");
	soff[2] = 0;
	if (handshake(&a, CLIENT_BASE + 2)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	expect(&c, csend(&a, 0, req, req_len), TC_ACT_OK, "the first request");
	t0 = boot_ns();
	ssend(&a, 2, req_len, head, sizeof(head) - 1);
	for (i = 0; i < 3; i++) {
		n = snprintf(chunk, sizeof(chunk), "%zx\r\n%s\r\n", strlen(ev[i]), ev[i]);
		ssend(&a, 2, req_len, chunk, n);
		if (!i)
			t1 = boot_ns();
	}
	ssend(&a, 2, req_len, "0\r\n\r\n", 5);
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tx_tokens != 700 || ctr.rx_tokens != 100)
		ck_fail(&c, "tokens %llu/%llu, expected 700/100",
			(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens);
	/* Debited as the figures came, the first at a moment in [t0, t1]. */
	expect_tat(&c, "tpm", ctr.tpm_tat, t0, t1, 800 * MS);
	expect(&c, csend(&a, req_len, req, req_len), TC_ACT_OK, "a request within the burst");
	tat0 = ctr.tpm_tat;
	/* 1000 more on top: 1.8 s ahead of the answer's start. */
	n = json_answer(ans, sizeof(ans), 400, 600);
	ssend(&a, 2, 2 * req_len, ans, n);
	if (ctr_now(a.caddr, &ctr))
		ck_fail(&c, "no slot");
	else if (ctr.tpm_tat != tat0 + 1000 * MS)
		ck_fail(&c, "tpm TAT moved by %lld ns, expected %llu",
			(long long)(ctr.tpm_tat - tat0), 1000 * MS);
	else
		expect_held(&c, &a, 2 * req_len, ctr.tpm_tat, 1000 * MS, "a request over it");
out:
	ck_end(&c);
}

/*
 * A stream that reports no usage (no stream_options.include_usage) is
 * debited an event a token as it streams: after 600 of its events the
 * TAT is 600 ms on, whether or not the stream ever ends (a client may
 * cut it short); at its end, 1500 tokens (0.5 s beyond the burst), so
 * the next request is held.
 */
static void case_estimate(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char ev[] = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
	char evs[1400], chunk[1500];
	struct ps_client_ctr ctr;
	unsigned int i, k, n, len;
	uint64_t t0 = 0, t1 = 0;
	struct conn a;
	struct ck c;

	ck_init(&c, "stream-estimate-debited");
	soff[3] = 0;
	if (handshake(&a, CLIENT_BASE + 3)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	expect(&c, csend(&a, 0, req, req_len), TC_ACT_OK, "the first request");
	ssend(&a, 3, req_len, head, sizeof(head) - 1);
	/* 1500 events, 25 a chunk, then [DONE] (not an event of the estimate). */
	for (k = 0, len = 0; k < 25; k++, len += sizeof(ev) - 1)
		memcpy(evs + len, ev, sizeof(ev) - 1);
	n = snprintf(chunk, sizeof(chunk), "%x\r\n", len);
	memcpy(chunk + n, evs, len);
	memcpy(chunk + n + len, "\r\n", 2);
	for (i = 0; i < 1500 / 25; i++) {
		if (!i)
			t0 = boot_ns();
		ssend(&a, 3, req_len, chunk, n + len + 2);
		if (!i)
			t1 = boot_ns();
		if (i == 600 / 25 - 1) {
			if (ctr_now(a.caddr, &ctr)) {
				ck_fail(&c, "no slot");
				goto out;
			}
			expect_tat(&c, "tpm after 600 events", ctr.tpm_tat, t0, t1, 600 * MS);
		}
	}
	n = snprintf(chunk, sizeof(chunk), "e\r\ndata: [DONE]\n\n\r\n");
	ssend(&a, 3, req_len, chunk, n);
	ssend(&a, 3, req_len, "0\r\n\r\n", 5);
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tx_events != 1501 || ctr.tx_tokens_estimated != 1500 || ctr.tx_tokens ||
	    ctr.rx_tokens)
		ck_fail(&c, "events %llu, estimated %llu, tokens %llu/%llu: expected 1501, 1500, 0/0",
			(unsigned long long)ctr.tx_events,
			(unsigned long long)ctr.tx_tokens_estimated,
			(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens);
	expect_tat(&c, "tpm", ctr.tpm_tat, t0, t1, 1500 * MS);
	expect_held(&c, &a, req_len, ctr.tpm_tat, 1000 * MS, "the next request");
out:
	ck_end(&c);
}

/*
 * Usage keys at every alignment against the body scan's 8-byte words,
 * among quotes that open no key ("c..." and "p..." that are not one, a
 * key's text escaped inside a string, a quote ending a word): each of the
 * eight answers counts 5 completion and 3 prompt tokens, nothing else.
 */
static void case_alignment(void)
{
	static const char tail[] =
		"\",\"cat\":\"pp\",\"note\":\"say \\\"completion_tokens\\\": 77\","
		"\"completion_tokensx\": 99,\"usage\":{\"prompt_tokens\": 3,"
		"\"completion_tokens\": 5}}";
	char jb[256], ans[512];
	struct ps_client_ctr ctr;
	unsigned int k, n;
	struct conn a;
	struct ck c;

	ck_init(&c, "usage-keys-every-alignment");
	soff[4] = 0;
	if (handshake(&a, CLIENT_BASE + 4)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	for (k = 0; k < 8; k++) {
		int m = snprintf(jb, sizeof(jb), "{\"id\":\"%.*s%s", k, "xxxxxxxx", tail);

		expect(&c, csend(&a, k * req_len, req, req_len), TC_ACT_OK, "a request");
		n = snprintf(ans, sizeof(ans),
			     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "Content-Length: %d\r\n\r\n%s", m, jb);
		ssend(&a, 4, (k + 1) * req_len, ans, n);
	}
	if (ctr_now(a.caddr, &ctr))
		ck_fail(&c, "no slot");
	else if (ctr.tx_tokens != 8 * 5 || ctr.rx_tokens != 8 * 3)
		ck_fail(&c, "tokens %llu/%llu, expected 40/24", (unsigned long long)ctr.tx_tokens,
			(unsigned long long)ctr.rx_tokens);
out:
	ck_end(&c);
}

/*
 * The body scan's word steps (a quote's next four bytes, a line end and
 * the "data:" after it taken at once) against every cut: one event
 * stream of eight rounds, each shifted by one more byte against the
 * words, with data lines with and without their space, CR, LF and CRLF
 * line ends, lines that are not data lines ("dat", "ddata:", "event:",
 * comments), [DONE] lines, usage keys right after "data:" and decoys
 * ("comp", "prom", a key's text escaped in a string, a key with a letter
 * more, a key not followed by a colon). Sent 26 times on one connection
 * of a dry-run client (nothing held): with Content-Length, cut into
 * segments of 13 sizes from 1 to 1400 bytes (across the scan's 512-byte
 * buffers), and chunked in chunks of 1 to 55 bytes, cut the same ways.
 * The events expected are the body's lines that start with "data:",
 * split on CR, LF and CRLF by a line splitter of the test's own; the
 * tokens the highest figures the stream put in its keys (prompt 11,
 * completion 3 + 4 x 7 = 31), each response's once.
 */
static unsigned int sse_body(char *b, size_t cap)
{
	unsigned int r, n = 0;

	for (r = 0; r < 8; r++)
		n += snprintf(b + n, cap - n,
			      "data: {\"id\":\"chatcmpl-%.*s\",\"object\":\"chat.completion.chunk\","
			      "\"created\":1700000000,\"choices\":[{\"delta\":{\"content\":\"c\\\"p\"}}]}"
			      "\n\n"
			      "data:{\"note\":\"say \\\"completion_tokens\\\": 77\",\"comp\":1,"
			      "\"prom\":2}\r\n"
			      "data:  \"completion_tokensx\": 99\r"
			      "dat\nddata: x\nevent: usage\n: comment \"prompt_tokens\" 5\n"
			      "data:\"prompt_tokens\": 2\n"
			      "data: {\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":%u}}\n\n"
			      "data: \"c\"\ndata: \"p\ndata:[DONE]\ndata: [DONE]\r\n\r\n",
			      r, "xxxxxxx", 3 + 4 * r);
	return n;
}

/* Lines of b that start with "data:", split on CRLF, CR and LF. */
static unsigned int data_lines(const char *b, unsigned int n)
{
	unsigned int i = 0, k = 0;

	while (i < n) {
		unsigned int e = i;

		while (e < n && b[e] != '\r' && b[e] != '\n')
			e++;
		if (e - i >= 5 && !memcmp(b + i, "data:", 5))
			k++;
		i = e + (e < n && b[e] == '\r' && e + 1 < n && b[e + 1] == '\n' ? 2 : 1);
	}
	return k;
}

static void case_word_scan(void)
{
	static const unsigned int cuts[] = { 1, 5, 8, 9, 15, 16, 17, 100, 511, 512, 513, 700,
					     1400 };
	static const unsigned int chunks[] = { 1, 2, 3, 5, 8, 13, 21, 34, 55 };
	static char sb[8192], wire[16384], head[256];
	unsigned int nb = sse_body(sb, sizeof(sb)), ev = data_lines(sb, nb);
	unsigned int v, i, k, nw, nh, resp = 0;
	struct ps_client_ctr ctr;
	struct conn a;
	struct ck c;

	ck_init(&c, "sse-word-scan-cuts");
	soff[5] = 0;
	if (handshake(&a, DRY_BASE + 2)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	for (v = 0; v < 2; v++) {
		/* The wire bytes of a body: as it is, or chunked. */
		if (!v) {
			memcpy(wire, sb, nb);
			nw = nb;
		} else {
			for (i = 0, k = 0, nw = 0; i < nb; k++) {
				unsigned int m = chunks[k % 9] < nb - i ? chunks[k % 9] : nb - i;

				nw += snprintf(wire + nw, sizeof(wire) - nw, "%x\r\n", m);
				memcpy(wire + nw, sb + i, m);
				memcpy(wire + nw + m, "\r\n", 2);
				nw += m + 2;
				i += m;
			}
			memcpy(wire + nw, "0\r\n\r\n", 5);
			nw += 5;
		}
		for (k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++, resp++) {
			if (v)
				nh = snprintf(head, sizeof(head),
					      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
					      "Transfer-Encoding: chunked\r\n\r\n");
			else
				nh = snprintf(head, sizeof(head),
					      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
					      "Content-Length: %u\r\n\r\n", nb);
			expect(&c, csend(&a, resp * req_len, req, req_len), TC_ACT_OK, "a request");
			ssend(&a, 5, (resp + 1) * req_len, head, nh);
			for (i = 0; i < nw; i += cuts[k])
				ssend(&a, 5, (resp + 1) * req_len, wire + i,
				      cuts[k] < nw - i ? cuts[k] : nw - i);
		}
	}
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tx_events != (uint64_t)resp * ev || ctr.tx_tokens != resp * 31ULL ||
	    ctr.rx_tokens != resp * 11ULL || ctr.tx_tokens_estimated)
		ck_fail(&c, "events %llu, tokens %llu/%llu, estimated %llu: expected %llu (%u "
			"responses of %u data lines), %llu/%llu, 0",
			(unsigned long long)ctr.tx_events, (unsigned long long)ctr.tx_tokens,
			(unsigned long long)ctr.rx_tokens,
			(unsigned long long)ctr.tx_tokens_estimated, (unsigned long long)resp * ev,
			resp, ev, resp * 31ULL, resp * 11ULL);
out:
	ck_end(&c);
}

/*
 * The header block read a word at a time where it can be (the status
 * line, a header's name, a Content-Type's media type, a line's end)
 * against byte by byte where it cannot: answers with status lines of
 * HTTP/1.1 and 1.0, with and without a reason, 1xx interim answers before
 * them; header names in any case, with names that a wanted one is a
 * prefix of, or that are a prefix of a wanted one ("Content-Lengths",
 * "Content-Typ", "X-Content-Type", "Transfer-Encodings", ...), white space
 * before a colon, long lines; Content-Type values in any case, with
 * parameters, white space before them, and media types that are not read
 * ("application/jsonl" is; "application/jso", "text/event" are not);
 * lines ended by CRLF or LF; Content-Length or chunked framing. Each
 * answer is sent whole or cut at random places, one answer also cut at
 * every byte. What is expected is the generator's own: the prompt and
 * completion tokens of the answers whose media type it chose to be read.
 * PS_HDR_SEED sets the seed (printed on a failure).
 */
/* s with its letters' case chosen at random. */
static void hw_case(char *d, const char *s)
{
	for (; *s; s++)
		*d++ = (char)(rndn(2) ? toupper((unsigned char)*s) : tolower((unsigned char)*s));
	*d = 0;
}

static unsigned int hw_answer(char *out, size_t cap, unsigned int prompt, unsigned int completion,
			      int *read)
{
	static const char *const status[] = { "HTTP/1.1 200 OK", "HTTP/1.0 200 OK",
					       "HTTP/1.1 200", "HTTP/1.1 201 Created",
					       "HTTP/1.1 200 ", "HTTP/1.0 299 X" };
	static const char *const read_ct[] = { "application/json", "text/event-stream",
					       "application/json; charset=utf-8",
					       "application/jsonl", "text/event-stream;x=y" };
	static const char *const other_ct[] = { "application/jso", "text/event",
						"text/plain", "application/x-json",
						"text/html; charset=application/json", "" };
	static const char *const decoys[] = {
		"Content-Lengths: 99999", "Content-Length-X: 77", "X-Content-Length: 5",
		"Content-Lengt: 3", "Content-Typ: application/json", "X-Content-Type: text/event-stream",
		"Content-Type-Options: nosniff", "Content-Types: application/json",
		"Transfer-Encodings: chunked", "Transfer-Encodin: chunked",
		"Content-Encodings: gzip", "Content-Encodin: br", "Content-Encoding: identity",
		"Content-Length : 12", "Content-Type : application/json",
		"Server: nginx/1.22.1", "Date: Mon, 07 Dec 2026 07:29:05 GMT", "ETag: \"6934ed7b-f0\"",
		("X-Request-Id: 5f0d7a0c-55f1-4a43-9c3e-2d2b8cc1b4f4-5f0d7a0c-55f1-4a43-9c3e-"
		 "2d2b8cc1b4f4-5f0d7a0c-55f1-4a43-9c3e-2d2b8cc1b4f4-5f0d7a0c-55f1-4a43-9c3e"),
		"C: d", "Accept-Ranges: bytes",
	};
	char bd[256], lines[16][256], name[64], val[96];
	unsigned int nl = 0, i, n = 0, nb, chunked = rndn(4) == 0;
	const char *eol;

	nb = snprintf(bd, sizeof(bd),
		      "{\"id\":\"x\",\"usage\":{\"prompt_tokens\":%s%u,\"completion_tokens\": %u,"
		      "\"total_tokens\":%u}}",
		      rndn(2) ? " " : "", prompt, completion, prompt + completion);
	*read = rndn(3) != 0;
	hw_case(name, "content-type");
	snprintf(lines[nl++], sizeof(lines[0]), "%s:%s%s", name,
		 (const char *[]){ "", " ", "\t", "  " }[rndn(4)],
		 *read ? read_ct[rndn(5)] : other_ct[rndn(6)]);
	if (*read) {
		/* Its media type's own case changed too. */
		char *v = strchr(lines[0], ':') + 1;

		while (*v == ' ' || *v == '\t')
			v++;
		hw_case(val, v);
		strcpy(v, val);
	}
	hw_case(name, chunked ? "transfer-encoding" : "content-length");
	if (chunked)
		snprintf(lines[nl++], sizeof(lines[0]), "%s:%schunked", name,
			 rndn(2) ? " " : "");
	else
		snprintf(lines[nl++], sizeof(lines[0]), "%s:%s%u", name, rndn(2) ? " " : "",
			 nb);
	while (nl < 2 + rndn(8)) {
		hw_case(lines[nl], decoys[rndn(sizeof(decoys) / sizeof(decoys[0]))]);
		nl++;
	}
	/* Shuffled. */
	for (i = nl - 1; i > 0; i--) {
		unsigned int j = rndn(i + 1);
		char t[256];

		if (j == i)
			continue;
		strcpy(t, lines[i]);
		strcpy(lines[i], lines[j]);
		strcpy(lines[j], t);
	}
	if (rndn(4) == 0)
		n += snprintf(out + n, cap - n, "HTTP/1.1 100 Continue\r\n\r\n");
	eol = rndn(4) ? "\r\n" : "\n";
	n += snprintf(out + n, cap - n, "%s%s", status[rndn(6)], eol);
	for (i = 0; i < nl; i++) {
		eol = rndn(4) ? "\r\n" : "\n";
		n += snprintf(out + n, cap - n, "%s%s", lines[i], eol);
	}
	n += snprintf(out + n, cap - n, "%s", rndn(4) ? "\r\n" : "\n");
	if (chunked)
		n += snprintf(out + n, cap - n, "%x\r\n%s\r\n0\r\n\r\n", nb, bd);
	else
		n += snprintf(out + n, cap - n, "%s", bd);
	return n;
}

static void case_header_words(void)
{
	static char ans[4096];
	const char *e = getenv("PS_HDR_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 2654435761ULL;
	uint64_t want_rx = 0, want_tx = 0;
	unsigned int a, i, n, resp = 0, cut;
	struct ps_client_ctr ctr;
	struct conn cn;
	struct ck c;
	int rd;

	rs = seed | 1;
	ck_init(&c, "header-block-words");
	soff[6] = 0;
	if (handshake(&cn, DRY_BASE + 3)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	for (a = 0; a < 400; a++) {
		unsigned int p = 1 + rndn(5000), q = 1 + rndn(5000);

		n = hw_answer(ans, sizeof(ans), p, q, &rd);
		if (rd) {
			want_rx += p;
			want_tx += q;
		}
		/* The first answer cut in two at every byte, each time anew. */
		for (cut = a ? 0 : 1; cut < (a ? 1 : n); cut++, resp++) {
			if (!a && cut > 1 && rd) {
				want_rx += p;
				want_tx += q;
			}
			expect(&c, csend(&cn, resp * req_len, req, req_len), TC_ACT_OK, "a request");
			if (!a) {
				ssend(&cn, 6, (resp + 1) * req_len, ans, cut);
				ssend(&cn, 6, (resp + 1) * req_len, ans + cut, n - cut);
				continue;
			}
			for (i = 0; i < n;) {
				unsigned int k = rndn(3) ? n - i : 1 + rndn(n - i);

				ssend(&cn, 6, (resp + 1) * req_len, ans + i, k);
				i += k;
			}
		}
	}
	if (ctr_now(cn.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.rx_tokens != want_rx || ctr.tx_tokens != want_tx || ctr.tx_events ||
	    ctr.tx_tokens_estimated)
		ck_fail(&c, "seed %#llx: tokens %llu/%llu, events %llu, estimated %llu over %u "
			"answers: expected %llu/%llu, 0, 0", (unsigned long long)seed,
			(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens,
			(unsigned long long)ctr.tx_events,
			(unsigned long long)ctr.tx_tokens_estimated, resp,
			(unsigned long long)want_tx, (unsigned long long)want_rx);
out:
	ck_end(&c);
}

/* A dry-run class: over its budget, the request is let in and counted. */
static void case_dry(void)
{
	uint64_t held0 = stat(PS_STAT_TOKEN_HELD), would0 = stat(PS_STAT_WOULD_THROTTLE);
	struct ps_client_ctr ctr;
	char ans[512];
	unsigned int n;
	struct conn a;
	struct ck c;

	ck_init(&c, "dry-run");
	soff[3] = 0;
	if (handshake(&a, DRY_BASE + 1)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	expect(&c, csend(&a, 0, req, req_len), TC_ACT_OK, "the first request");
	n = json_answer(ans, sizeof(ans), 1000, 9000);
	ssend(&a, 3, req_len, ans, n);
	expect(&c, csend(&a, req_len, req, req_len), TC_ACT_OK, "a request over the budget");
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tpm_tat < boot_ns() + 8000 * MS)
		ck_fail(&c, "the dry run's TAT did not move by the 10000 tokens");
	if (ctr.would_throttle != 1 || ctr.token_would_throttle != 1 || ctr.throttled_requests ||
	    ctr.token_held)
		ck_fail(&c, "would_throttle %llu, token_would_throttle %llu, throttled %llu, "
			"token_held %llu: expected 1, 1, 0, 0",
			(unsigned long long)ctr.would_throttle,
			(unsigned long long)ctr.token_would_throttle,
			(unsigned long long)ctr.throttled_requests,
			(unsigned long long)ctr.token_held);
	if (stat(PS_STAT_TOKEN_HELD) != held0 || stat(PS_STAT_WOULD_THROTTLE) != would0 + 1)
		ck_fail(&c, "stats.token_held +%llu, would_throttle +%llu: expected 0 and 1",
			(unsigned long long)(stat(PS_STAT_TOKEN_HELD) - held0),
			(unsigned long long)(stat(PS_STAT_WOULD_THROTTLE) - would0));
	expect_counts(&c, a.caddr, 2, 0);
out:
	ck_end(&c);
}

/*
 * tokens_per_day: a day's budget at once (8640000 tokens: let in after
 * them), then held while the TAT is more than a day ahead; in again when
 * the clock has caught up (the TAT set back as if 3 s had passed).
 */
static void case_day(void)
{
	struct ps_client_ctr ctr;
	uint64_t t0, t1, day = 86400000 * MS;
	char ans[512];
	unsigned int n;
	struct conn a;
	struct ck c;

	ck_init(&c, "day-budget");
	soff[4] = 0;
	if (handshake(&a, DAY_BASE + 1)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	expect(&c, csend(&a, 0, req, req_len), TC_ACT_OK, "the first request");
	n = json_answer(ans, sizeof(ans), 8000000, 640000);
	t0 = boot_ns();
	ssend(&a, 4, req_len, ans, n);
	t1 = boot_ns();
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	/* The class's own tokens_per_minute: the default's. */
	expect_tat(&c, "tpd", ctr.tpd_tat, t0, t1, 8640000ULL * 10 * MS);
	expect_tat(&c, "tpm", ctr.tpm_tat, t0, t1, 8640000ULL * MS);
	/* Its minute limit out of the way: the day's alone is judged. */
	ctr.tpm_tat = 0;
	ctr_write(a.caddr, &ctr);
	expect(&c, csend(&a, req_len, req, req_len), TC_ACT_OK, "a day's budget at once");
	n = json_answer(ans, sizeof(ans), 300, 0);
	t0 = boot_ns();
	ssend(&a, 4, 2 * req_len, ans, n);
	ctr_now(a.caddr, &ctr);
	ctr.tpm_tat = 0;
	ctr_write(a.caddr, &ctr);
	/* 300 tokens beyond it: 3 s over. */
	expect_held(&c, &a, 2 * req_len, ctr.tpd_tat, day, "a request beyond the day's budget");
	ctr_now(a.caddr, &ctr);
	ctr.tpd_tat -= 3000 * MS + (boot_ns() - t0);
	ctr_write(a.caddr, &ctr);
	expect(&c, csend(&a, 2 * req_len, req, req_len), TC_ACT_OK, "in once refilled");
	expect_counts(&c, a.caddr, 3, 1);
out:
	ck_end(&c);
}

/*
 * Answers with a Content-Encoding (gzip here: the bytes are not read, so
 * any bytes do; these hold "data:" lines and a usage key that must not
 * count): no events, no tokens read; each byte of the body (chunk data, or
 * the Content-Length) is a token of the estimate, debited as it comes;
 * stats.resp_encoded counts each. "Content-Encoding: identity" changes
 * nothing: that answer is read as any other.
 */
static void case_encoded(void)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "content-encoding:  GZIP\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char ebody[] = "data: {\"usage\":{\"completion_tokens\": 5}}\n\n"
				   "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
	char b[512], j[256];
	struct ps_client_ctr ctr;
	uint64_t st0 = stat(PS_STAT_RESP_ENCODED), t0, t1;
	unsigned int n, blen = sizeof(ebody) - 1, m;
	struct conn a;
	struct ck c;

	ck_init(&c, "encoded-estimated");
	soff[5] = 0;
	if (handshake(&a, CLIENT_BASE + 5)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	expect(&c, csend(&a, 0, req, req_len), TC_ACT_OK, "the first request");
	ssend(&a, 5, req_len, head, sizeof(head) - 1);
	n = snprintf(b, sizeof(b), "%x\r\n", blen);
	memcpy(b + n, ebody, blen);
	memcpy(b + n + blen, "\r\n", 2);
	t0 = boot_ns();
	ssend(&a, 5, req_len, b, n + blen + 2);
	ssend(&a, 5, req_len, b, n + blen + 2);
	t1 = boot_ns();
	ssend(&a, 5, req_len, "0\r\n\r\n", 5);
	/* The next answer: a JSON ebody by Content-Length, encoded too. */
	expect(&c, csend(&a, req_len, req, req_len), TC_ACT_OK, "the second request");
	m = snprintf(j, sizeof(j),
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: br\r\n"
		     "Content-Length: %u\r\n\r\n",
		     blen);
	memcpy(j + m, ebody, blen);
	ssend(&a, 5, 2 * req_len, j, m + blen);
	/* And one "identity": read, its usage counted. */
	expect(&c, csend(&a, 2 * req_len, req, req_len), TC_ACT_OK, "the third request");
	m = snprintf(j, sizeof(j),
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: identity\r\n"
		     "Content-Length: %u\r\n\r\n",
		     blen);
	memcpy(j + m, ebody, blen);
	ssend(&a, 5, 3 * req_len, j, m + blen);
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tx_events || ctr.tx_tokens != 5 || ctr.tx_tokens_estimated != 3 * blen)
		ck_fail(&c, "events %llu, tokens %llu, estimated %llu: expected 0, 5, %u",
			(unsigned long long)ctr.tx_events, (unsigned long long)ctr.tx_tokens,
			(unsigned long long)ctr.tx_tokens_estimated, 3 * blen);
	if (stat(PS_STAT_RESP_ENCODED) - st0 != 2)
		ck_fail(&c, "resp_encoded moved by %llu, expected 2",
			(unsigned long long)(stat(PS_STAT_RESP_ENCODED) - st0));
	/* The stream's two chunks debited as they came (later answers move
	 * the TAT on from there). */
	if (ctr.tpm_tat < t0 + (3 * blen + 5) * MS || ctr.tpm_tat > t1 + (3 * blen + 5) * MS)
		ck_fail(&c, "TAT %+lld ns from the first chunk, expected about %llu",
			(long long)(ctr.tpm_tat - t0), (unsigned long long)((3 * blen + 5) * MS));
out:
	ck_end(&c);
}

/*
 * token_reserve 400 under a burst of 1000 tokens: four requests side by
 * side on four connections, none answered yet: three are let in (each
 * charged 400 at once: the TAT 0, 400 and 800 ms ahead of the clock when
 * judged), the fourth is held (1200 ms). Their answers: 300 tokens (fewer
 * than its reserve: nothing more), 1000 (600 more), exactly 400 (nothing
 * more); the tokens themselves all counted.
 */
static void case_reserve(void)
{
	static const unsigned int want[4] = { TC_ACT_OK, TC_ACT_OK, TC_ACT_OK, TC_ACT_SHOT };
	static const unsigned int prompt[3] = { 100, 400, 150 }, compl[3] = { 200, 600, 250 };
	static const uint64_t more[3] = { 0, 600, 0 };
	unsigned char buf[256];
	struct ps_client_ctr ctr;
	uint64_t t0, t1, tat;
	struct conn cn[4];
	char ans[512], what[64];
	unsigned int n, i;
	struct ck c;

	ck_init(&c, "reserve-side-by-side");
	for (i = 0; i < 4; i++) {
		cn[i] = (struct conn){ .caddr = RES_BASE + 1, .cport = 41000 + i, .port = PORT,
				       .cisn = 1000, .sisn = 5000 };
		soff[8 + i] = 0;
		if (run(dp.ingress_fd, buf, frame(buf, cn[i].caddr, SERVER, cn[i].cport, PORT,
						  cn[i].cisn, 0, F_SYN, NULL, 0, 0)) != TC_ACT_OK ||
		    run(dp.egress_fd, buf, frame(buf, SERVER, cn[i].caddr, PORT, cn[i].cport,
						 cn[i].sisn, cn[i].cisn + 1, F_SYN | F_ACK, NULL, 0,
						 0)) != TC_ACT_OK) {
			ck_fail(&c, "handshake %u", i);
			goto out;
		}
	}
	t0 = boot_ns();
	for (i = 0; i < 4; i++) {
		snprintf(what, sizeof(what), "request %u side by side", i + 1);
		expect(&c, csend(&cn[i], 0, req, req_len), want[i], what);
	}
	t1 = boot_ns();
	if (ctr_now(RES_BASE + 1, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (t1 - t0 >= 200 * MS) {
		ck_fail(&c, "four requests took %llu ms (too slow a machine)",
			(unsigned long long)((t1 - t0) / MS));
		goto out;
	}
	expect_tat(&c, "tpm after three reserves", ctr.tpm_tat, t0, t1, 1200 * MS);
	if (ctr.token_held != 1)
		ck_fail(&c, "token_held %llu, expected 1", (unsigned long long)ctr.token_held);
	for (i = 0; i < 3; i++) {
		tat = ctr.tpm_tat;
		n = json_answer(ans, sizeof(ans), prompt[i], compl[i]);
		ssend(&cn[i], 8 + i, req_len, ans, n);
		ctr_now(RES_BASE + 1, &ctr);
		if (ctr.tpm_tat - tat != more[i] * MS)
			ck_fail(&c, "answer %u (%u tokens): TAT moved %lld ms, expected %llu", i + 1,
				prompt[i] + compl[i], (long long)((ctr.tpm_tat - tat) / MS),
				(unsigned long long)more[i]);
	}
	if (ctr.tx_tokens != 200 + 600 + 250 || ctr.rx_tokens != 100 + 400 + 150)
		ck_fail(&c, "tokens %llu/%llu, expected 1050/650",
			(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens);
	expect_counts(&c, RES_BASE + 1, 3, 1);
out:
	ck_end(&c);
}

/*
 * A client pipelines more requests than the flow's queue of 64 holds
 * before the answers: ninf inference requests (352 bytes, five a
 * segment), then nother GET /v1/models (27 bytes, 70 a segment),
 * then ninf2 inference requests again, answered in order, ten answers a
 * segment (with between, the GETs are answered before the last inference
 * requests are sent). Every answer reports usage, the GETs' 1000 tokens.
 * The model: an inference request's answer counts; so does any answer to
 * a request more than 64 behind the newest sent when it comes (its kind
 * written over in the flow's ring: scanned, flow.h ps_rq_inference()),
 * so that requests pipelined behind an inference request cannot hide its
 * answer, and the answers stay paired with their requests however many
 * requests a segment holds.
 */
static void case_deep(const char *name, uint32_t caddr, unsigned int ninf,
		      unsigned int nother, unsigned int ninf2, int between)
{
	static const char get[] = "GET /v1/models HTTP/1.1\r\n\r\n";
	unsigned int i, k, n, total = ninf + nother + ninf2, sent = 0, answered = 0;
	uint64_t want_tx = 0, want_rx = 0;
	unsigned char seg[2048];
	struct ps_client_ctr ctr;
	uint32_t off = 0;
	char ans[4096];
	struct conn a;
	struct ck c;

	ck_init(&c, name);
	soff[2] = 0;
	if (handshake(&a, caddr)) {
		ck_fail(&c, "handshake");
		goto out;
	}
	/* Answers up to request upto (not included), ten a segment. */
#define ANSWER(upto)                                                                           \
	for (i = answered; i < (upto); i += 10) {                                              \
		for (n = 0, k = i; k < (upto) && k < i + 10; k++) {                            \
			int inf = k < ninf || k >= ninf + nother;                              \
                                                                                               \
			n += json_answer(ans + n, sizeof(ans) - n, inf ? 2 : 5,                \
					 inf ? 1 + k % 9 : 3);                                 \
			if (inf || sent - k > 64) {                                            \
				want_tx += inf ? 1 + k % 9 : 3;                                \
				want_rx += inf ? 2 : 5;                                        \
			}                                                                      \
		}                                                                              \
		ssend(&a, 2, off, ans, n);                                                     \
	}                                                                                      \
	answered = (upto)
	for (i = 0; i < ninf; i += 5) {
		for (n = 0, k = i; k < ninf && k < i + 5; k++, n += req_len)
			memcpy(seg + n, req, req_len);
		expect(&c, csend(&a, off, seg, n), TC_ACT_OK, "inference requests");
		off += n;
		sent = k;
	}
	for (i = 0; i < nother; i += 70) {
		for (n = 0, k = i; k < nother && k < i + 70; k++, n += sizeof(get) - 1)
			memcpy(seg + n, get, sizeof(get) - 1);
		expect(&c, csend(&a, off, seg, n), TC_ACT_OK, "GETs, 70 a segment");
		off += n;
	}
	sent += nother;
	if (between) {
		ANSWER(sent);
	}
	for (i = 0; i < ninf2; i += 5) {
		for (n = 0, k = i; k < ninf2 && k < i + 5; k++, n += req_len)
			memcpy(seg + n, req, req_len);
		expect(&c, csend(&a, off, seg, n), TC_ACT_OK, "inference requests again");
		off += n;
		sent = ninf + nother + k;
	}
	ANSWER(total);
#undef ANSWER
	if (ctr_now(a.caddr, &ctr)) {
		ck_fail(&c, "no slot");
		goto out;
	}
	if (ctr.tx_tokens != want_tx || ctr.rx_tokens != want_rx)
		ck_fail(&c, "tokens %llu/%llu, expected %llu/%llu",
			(unsigned long long)ctr.tx_tokens, (unsigned long long)ctr.rx_tokens,
			(unsigned long long)want_tx, (unsigned long long)want_rx);
	if (ctr.c.requests != total || ctr.c.inference_requests != ninf + ninf2)
		ck_fail(&c, "requests %llu, inference %llu: expected %u, %u",
			(unsigned long long)ctr.c.requests,
			(unsigned long long)ctr.c.inference_requests, total, ninf + ninf2);
out:
	ck_end(&c);
}

static int setup(void)
{
	static struct ps_config cfg;
	char err[512];
	int e;

	default_request();
	e = ps_config_parse("tokens.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err));
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
		printf("SKIP tokens: needs root (BPF)\n");
		return 77;
	}
	err = setup();
	if (err) {
		fail("setup", "%s", strerror(-err));
		return 1;
	}
	case_minute();
	case_stream();
	case_estimate();
	case_alignment();
	case_word_scan();
	case_header_words();
	case_dry();
	case_day();
	case_encoded();
	case_reserve();
	case_deep("deep-pipeline-64-then-64", CLIENT_BASE + 40, 64, 64, 0, 0);
	case_deep("deep-pipeline-70-in-a-segment", CLIENT_BASE + 41, 0, 70, 6, 0);
	case_deep("deep-pipeline-70-in-a-segment-answered", CLIENT_BASE + 43, 0, 70, 6, 1);
	case_deep("deep-pipeline-100", CLIENT_BASE + 42, 100, 0, 0, 0);
	case_deep("deep-pipeline-30-130-30", CLIENT_BASE + 44, 30, 130, 30, 1);
	expect_endpoint_sums("tokens endpoint totals = sum over clients");
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
