// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scan of the bodies of answers to inference requests (response.h:
 * the word scan, and the parser it hands the bytes over to where it
 * must), through the live egress program, against a model of the test's
 * own, on random answers shaped as OpenAI, vLLM and TGI send them:
 *
 * - event streams of chat completion chunks ("data: {...}" and a blank
 *   line; "data:" with or without its space; lines ended by LF, CRLF or
 *   CR, or a mix), with comments, "event:", "id:" and "retry:" lines and
 *   lines that are not data lines ("dat", "ddata: x", "Data: x", "data"),
 *   empty data lines, "[DONE]" at the end or not, "usage":null in every
 *   chunk, a running usage in every chunk, a final usage chunk, or none;
 * - JSON answers, compact or spread over lines with spaces and tabs;
 * - decoys in the chunks' text and beside the usage: "chat.completion.chunk",
 *   "completion_tokens_details", "prompt_tokens_details", "total_tokens",
 *   "max_tokens", a key's text escaped in a string, snake_case words
 *   ending in "_tokens", "comp" and "prom", "[DONE]" and "data:" in a
 *   string, UTF-8, a key's text right after a key (no colon after the
 *   first key: neither counts);
 * - framed by Content-Length or chunked coding (chunks of 1 to 3000
 *   bytes), the header block sent alone or with the body's first bytes,
 *   and cut into segments of random sizes (1 byte to past the scan's
 *   2048-byte buffer); a few answers also sent again and again, cut in
 *   two at every byte.
 *
 * What is expected comes from the model, not from the datapath's code:
 * the events are the body's lines that start with "data:" (a line
 * splitter on CR, LF and CRLF of the test's own); the tokens are the
 * figures the generator put in the usage objects, the highest of each
 * answer once; an event stream without a completion figure is estimated
 * at its events less its "[DONE]" lines. Each answer's counts are
 * checked as it completes. PS_SSE_SEED sets the seed (printed on a
 * failure), PS_SSE_ANSWERS the number of random answers.
 *
 * Needs root (BPF); exits 77 without it.
 */
#include <time.h>

#include "harness.h"

static const char yaml[] = "endpoints: [{port: 8000}]\n";

/* The server's data offset on the connection. */
static uint32_t soff;

/* The server sends len bytes (at most 3400), acknowledging the client up to ack. */
static int ssend(const struct conn *c, uint32_t ack, const void *data, unsigned int len)
{
	static unsigned char buf[3600];
	int v = run(dp.egress_fd, buf,
		    frame(buf, SERVER, c->caddr, c->port, c->cport, c->sisn + 1 + soff,
			  c->cisn + 1 + ack, F_ACK, data, len, 0));

	soff += len;
	return v;
}

/* A growing text. */
struct txt {
	char b[24576];
	unsigned int n;
};

static void __attribute__((format(printf, 2, 3))) put(struct txt *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(t->b + t->n, sizeof(t->b) - t->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		t->n += (unsigned int)k < sizeof(t->b) - t->n ? (unsigned int)k
							     : sizeof(t->b) - 1 - t->n;
}

/* What the model expects of an answer. */
struct want {
	uint64_t events, tx, rx, est;
};

/*
 * The model's events of an event stream's body: lines split on CRLF, CR
 * and LF; those that start with "data:" are events. Of them, those kept
 * for an estimate: not the "data:[DONE]" or "data: [DONE]" lines that a
 * line end ends.
 */
static void model_lines(const char *b, unsigned int n, uint64_t *events, uint64_t *kept)
{
	unsigned int i = 0;

	*events = *kept = 0;
	while (i < n) {
		unsigned int e = i, len;

		while (e < n && b[e] != '\r' && b[e] != '\n')
			e++;
		len = e - i;
		if (len >= 5 && !memcmp(b + i, "data:", 5)) {
			++*events;
			if (e == n || !((len == 11 && !memcmp(b + i + 5, "[DONE]", 6)) ||
					(len == 12 && !memcmp(b + i + 5, " [DONE]", 7))))
				++*kept;
		}
		i = e + (e < n && b[e] == '\r' && e + 1 < n && b[e + 1] == '\n' ? 2 : 1);
	}
}

/* Words of a chunk's text: plain ones and decoys (JSON string content). */
static const char *const words[] = {
	"Lorem", "ipsum", "dolor", " sit", "amet,", "the", "of", "é", "日本語", "\\n", "\\t",
	"completion_tokens", "prompt_tokens", "\\\"completion_tokens\\\": 77",
	"\\\"prompt_tokens\\\":5", "{\\\"usage\\\":{\\\"completion_tokens\\\":9}}", "max_tokens",
	"total_tokens", "x_tokens\\\"", "snake_case_word", "_t", "_tokens", "__tokens\\\"",
	"comp", "prom", "\\\"comp", "\\\"prom", "completion", "prompt", "chat.completion.chunk",
	"data:", "data: [DONE]", "[DONE]", "\\\"", "\\\\", "co", "pr", "\\\"co", "\\\"pr",
	"completion_tokens_details", "\\\"completion_tokens_details\\\"", "prompt_tokens\\\":",
	"_tokens\\\":1", "\\r\\ndata: x",
};

/* A chunk's text: a few random words. */
static void chunk_text(char *d, size_t cap)
{
	unsigned int k = rndn(4), n = 0;

	d[0] = 0;
	while (k--) {
		int m = snprintf(d + n, cap - n, "%s%s", n && rndn(2) ? " " : "",
				 words[rndn(sizeof(words) / sizeof(words[0]))]);

		if (m < 0 || (size_t)m >= cap - n)
			break;
		n += m;
	}
}

/* Separators around a key's colon: none, spaces, a tab. */
static const char *colon(void)
{
	static const char *const c[] = { ":", ": ", " : ", ":\t", "\t:  " };

	return c[rndn(3) ? 0 : rndn(5)];
}

/*
 * A usage object reporting prompt p and completion c, its keys in a random
 * order, with decoy keys beside them; completion figure left out (null)
 * when c_null.
 */
static void usage_obj(struct txt *t, unsigned int p, unsigned int c, int c_null)
{
	char parts[6][160];
	unsigned int n = 0, i;

	snprintf(parts[n++], sizeof(parts[0]), "\"prompt_tokens\"%s%u", colon(), p);
	if (c_null)
		snprintf(parts[n++], sizeof(parts[0]), "\"completion_tokens\"%snull", colon());
	else
		snprintf(parts[n++], sizeof(parts[0]), "\"completion_tokens\"%s%u", colon(), c);
	snprintf(parts[n++], sizeof(parts[0]), "\"total_tokens\"%s%u", colon(), p + c + 11);
	if (rndn(2))
		snprintf(parts[n++], sizeof(parts[0]),
			 "\"completion_tokens_details\":{\"reasoning_tokens\":%u,"
			 "\"accepted_prediction_tokens\":0}", c + 3);
	if (rndn(2))
		snprintf(parts[n++], sizeof(parts[0]),
			 "\"prompt_tokens_details\":{\"cached_tokens\":%u}", p + 5);
	for (i = n - 1; i > 0; i--) {
		unsigned int j = rndn(i + 1);
		char s[160];

		memcpy(s, parts[i], sizeof(s));
		memcpy(parts[i], parts[j], sizeof(s));
		memcpy(parts[j], s, sizeof(s));
	}
	put(t, "{");
	for (i = 0; i < n; i++)
		put(t, "%s%s", i ? "," : "", parts[i]);
	put(t, "}");
}

/* The line ends of a stream: one kind, or a mix. */
static int eol_kind;

static const char *eol(void)
{
	static const char *const e[] = { "\n", "\r\n", "\r" };
	int k = eol_kind < 3 ? eol_kind : (int)rndn(3);

	return e[k];
}

/*
 * A random event stream's body into t, and what the model expects of it
 * (the events from its bytes, the tokens from what was put in).
 */
static void gen_stream(struct txt *t, struct want *w)
{
	static const char *const other[] = { ": ping", ": \tkeep-alive \"prompt\"", "event: delta",
					     "id: 17", "retry: 3000", "dat", "ddata: x",
					     "Data: x", "data", " data: x", "event: usage",
					     /* A key right after a key: no colon after the
					      * first, no quote opens the second. */
					     ": \"completion_tokens\"\"completion_tokens\": 5",
					     ": x\"prompt_tokens\"\"prompt_tokens\":7" };
	const char *sp = rndn(2) ? " " : "";
	unsigned int nev = 1 + rndn(14), e, p = 1 + rndn(90000), c = 0, maxc = 0, maxp = 0;
	int has_c = 0;
	int style = rndn(3), usage = rndn(4), tgi = rndn(4) == 0, c_null = rndn(8) == 0;
	uint64_t events, kept;
	char text[256];

	/* 0-2: one kind of line end; 3: a mix. */
	eol_kind = rndn(10) < 5 ? 0 : rndn(5) ? 1 + rndn(3) : 3;
	t->n = 0;
	if (rndn(4) == 0)
		put(t, "%s%s", other[rndn(5)], eol());
	for (e = 0; e < nev; e++) {
		chunk_text(text, sizeof(text));
		c += 1 + rndn(3);
		if (tgi) {
			put(t, "data:%s{\"index\":%u,\"token\":{\"id\":%u,\"text\":\"%s\","
			    "\"logprob\":-0.%u,\"special\":false},\"generated_text\":null,"
			    "\"details\":null}",
			    sp, e + 1, 1000 + rndn(30000), text, rndn(1000));
		} else {
			put(t, "data:%s{\"id\":\"chatcmpl-%x\",\"object\":\"chat.completion.chunk\","
			    "\"created\":%u,\"model\":\"llama-3.1-8b-instruct\"%s,\"choices\":"
			    "[{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":null,"
			    "\"finish_reason\":null%s}]",
			    sp, rndn(1 << 30), 1700000000 + rndn(1000000),
			    style == 1 ? ",\"system_fingerprint\":\"fp_44709d6fcb\"" : "", text,
			    style == 2 ? ",\"stop_reason\":null" : "");
			if (usage == 1) {
				put(t, ",\"usage\":null");
			} else if (usage == 2) {
				/* A running usage in every chunk (vLLM's continuous usage stats). */
				put(t, ",\"usage\":");
				usage_obj(t, p, c, c_null);
				if (!c_null) {
					maxc = c;
					has_c = 1;
				}
				maxp = p;
			}
			put(t, "}");
		}
		put(t, "%s", eol());
		if (rndn(6))
			put(t, "%s", eol());
		if (rndn(8) == 0)
			put(t, "%s%s", other[rndn(sizeof(other) / sizeof(other[0]))], eol());
		if (rndn(20) == 0)
			put(t, "data:%s", eol());
	}
	if (usage == 3 || (usage == 2 && rndn(2))) {
		/* The final usage chunk. */
		c += rndn(5);
		put(t, "data:%s{\"id\":\"chatcmpl-%x\",\"object\":\"chat.completion.chunk\","
		    "\"choices\":[],\"usage\":",
		    sp, rndn(1 << 30));
		usage_obj(t, p, c, c_null);
		put(t, "}%s%s", eol(), eol());
		if (!c_null) {
			maxc = c;
			has_c = 1;
		}
		maxp = p;
	}
	if (rndn(10) < 7)
		put(t, "data:%s[DONE]%s%s", sp, eol(), rndn(2) ? eol() : "");
	model_lines(t->b, t->n, &events, &kept);
	w->events = events;
	w->tx = maxc;
	w->rx = maxp;
	/* An event stream that reports no completion figure: its estimate. */
	w->est = has_c ? 0 : kept;
}

/* A random JSON answer's body into t, and what is expected of it. */
static void gen_json(struct txt *t, struct want *w)
{
	unsigned int p = 1 + rndn(90000), c = rndn(20000);
	int spread = rndn(2), c_null = rndn(8) == 0;
	const char *nl = spread ? (rndn(2) ? "\n" : "\r\n") : "", *ind = spread ? "  " : "";
	char text[256];

	chunk_text(text, sizeof(text));
	t->n = 0;
	put(t, "{%s%s\"id\"%s\"chatcmpl-%x\",%s%s\"object\"%s\"chat.completion\",%s%s\"model\""
	    "%s\"m\",%s%s\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
	    "\"content\":\"%s\"},\"finish_reason\":\"stop\"}],%s%s\"usage\"%s",
	    nl, ind, colon(), rndn(1 << 30), nl, ind, colon(), nl, ind, colon(), nl, ind, text,
	    nl, ind, colon());
	usage_obj(t, p, c, c_null);
	put(t, "%s}", nl);
	w->events = 0;
	w->tx = c_null ? 0 : c;
	w->rx = p;
	w->est = 0;
}

/* An answer's wire bytes: its header block and its body, framed. */
static unsigned int wire_of(char *out, size_t cap, const struct txt *bd, int sse, int chunked)
{
	unsigned int n, i, k;

	n = snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n",
		     sse ? "text/event-stream" : "application/json");
	if (!chunked) {
		n += snprintf(out + n, cap - n, "Content-Length: %u\r\n\r\n", bd->n);
		memcpy(out + n, bd->b, bd->n);
		return n + bd->n;
	}
	n += snprintf(out + n, cap - n, "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < bd->n; i += k) {
		k = rndn(3) ? 1 + rndn(3000) : 1 + rndn(40);
		if (k > bd->n - i)
			k = bd->n - i;
		n += snprintf(out + n, cap - n, "%x\r\n", k);
		memcpy(out + n, bd->b + i, k);
		memcpy(out + n + k, "\r\n", 2);
		n += k + 2;
	}
	n += snprintf(out + n, cap - n, "0\r\n\r\n");
	return n;
}

/* A segment's size: small, around an MSS, or past the scan's buffer. */
static unsigned int seg_size(void)
{
	switch (rndn(5)) {
	case 0:
		return 1 + rndn(16);
	case 1:
		return 1 + rndn(300);
	case 2:
		return 1300 + rndn(149);
	case 3:
		return 2000 + rndn(1400);
	}
	return 1 + rndn(3400);
}

static struct conn cn;
static unsigned int resp;

/* The counts so far. */
static int counts(struct ps_client_ctr *ctr)
{
	return ctr_of(cn.caddr, ctr, &(uint32_t){ 0 });
}

/*
 * An answer sent after its request: cut in two at cut, or (cut 0) its
 * first first bytes (0: at random) and the rest in segments of random
 * sizes; its counts checked against w. 0 or -1 (ck failed).
 */
static int send_answer(struct ck *c, const char *a, unsigned int n, unsigned int cut,
		       unsigned int first, const struct want *w, uint64_t seed, unsigned int idx)
{
	struct ps_client_ctr before, after;
	unsigned int i, k;

	if (counts(&before))
		memset(&before, 0, sizeof(before));
	expect(c, csend(&cn, resp * req_len, req, req_len), TC_ACT_OK, "a request");
	resp++;
	if (cut) {
		ssend(&cn, resp * req_len, a, cut);
		ssend(&cn, resp * req_len, a + cut, n - cut);
	} else {
		for (i = 0; i < n; i += k) {
			k = i || !first ? seg_size() : first;
			if (k > n - i)
				k = n - i;
			ssend(&cn, resp * req_len, a + i, k);
		}
	}
	if (counts(&after)) {
		ck_fail(c, "no slot");
		return -1;
	}
	if (after.tx_events - before.tx_events != w->events ||
	    after.tx_tokens - before.tx_tokens != w->tx ||
	    after.rx_tokens - before.rx_tokens != w->rx ||
	    after.tx_tokens_estimated - before.tx_tokens_estimated != w->est) {
		ck_fail(c, "seed %#llx, answer %u (cut %u, %u bytes): events %llu, tokens %llu/%llu, "
			"estimated %llu; the model: %llu, %llu/%llu, %llu; the answer:\n%.*s",
			(unsigned long long)seed, idx, cut, n,
			(unsigned long long)(after.tx_events - before.tx_events),
			(unsigned long long)(after.tx_tokens - before.tx_tokens),
			(unsigned long long)(after.rx_tokens - before.rx_tokens),
			(unsigned long long)(after.tx_tokens_estimated -
					     before.tx_tokens_estimated),
			(unsigned long long)w->events, (unsigned long long)w->tx,
			(unsigned long long)w->rx, (unsigned long long)w->est, n > 700 ? 700 : n,
			a);
		return -1;
	}
	return 0;
}

static void case_random(void)
{
	static struct txt bt;
	static char wire[40000];
	const char *e = getenv("PS_SSE_SEED"), *na = getenv("PS_SSE_ANSWERS");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 2654435761ULL;
	unsigned int a, answers = na ? (unsigned int)atoi(na) : 600, n, first;
	struct want w;
	struct ck c;

	rs = seed | 1;
	ck_init(&c, "scan-random-answers");
	for (a = 0; a < answers; a++) {
		int sse = rndn(5) != 0;

		if (sse)
			gen_stream(&bt, &w);
		else
			gen_json(&bt, &w);
		n = wire_of(wire, sizeof(wire), &bt, sse, rndn(3) == 0);
		/* The header block alone, or with the body's first bytes. */
		first = rndn(2) ? (unsigned int)(strstr(wire, "\r\n\r\n") - wire) + 4 : 0;
		if (send_answer(&c, wire, n, 0, first, &w, seed, a))
			break;
	}
	ck_end(&c);
}

/*
 * Answers cut in two at every byte: an event stream (LF, then CRLF, then
 * CR) and a JSON answer, each sent whole again for each cut.
 */
static void case_every_cut(void)
{
	static struct txt bt;
	static char wire[40000];
	const char *e = getenv("PS_SSE_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 2654435761ULL;
	unsigned int v, n, cut;
	struct want w;
	struct ck c;

	rs = (seed ^ 0x5bd1e995) | 1;
	ck_init(&c, "scan-every-cut");
	for (v = 0; v < 4; v++) {
		do {
			if (v < 3)
				gen_stream(&bt, &w);
			else
				gen_json(&bt, &w);
		} while (bt.n < 300 || bt.n > 1200 || (v < 3 && eol_kind != (int)v));
		n = wire_of(wire, sizeof(wire), &bt, v < 3, 0);
		for (cut = 1; cut < n; cut++)
			if (send_answer(&c, wire, n, cut, 0, &w, seed, v))
				goto out;
	}
out:
	ck_end(&c);
}

int main(void)
{
	static struct ps_config cfg;
	char err[512];
	int r;

	if (geteuid()) {
		printf("SKIP sse_scan: needs root (BPF)\n");
		return 77;
	}
	default_request();
	r = ps_config_parse("sse.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err));
	if (!r)
		r = dp_start(&cfg, 4096, 0);
	if (r) {
		fail("setup", "%s", r < 0 ? strerror(-r) : err);
		return 1;
	}
	if (handshake(&cn, CLIENT_BASE + 9)) {
		fail("setup", "handshake");
		return 1;
	}
	case_random();
	case_every_cut();
	ps_dp_close(&dp);
	return nfailed ? 1 : 0;
}
