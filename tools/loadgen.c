// SPDX-License-Identifier: GPL-2.0-only
/*
 * ps_load: HTTP/1.1 keep-alive load from many client addresses, for
 * `make bench-peers` (tools/bench_peers.sh). Each connection is bound to
 * a source address of its own client before it connects, so one process
 * on a veth stands for thousands of clients, each with its own address,
 * which wrk and h2load cannot do.
 *
 *   ps_load --dst ADDR --port PORT [--src FIRST] [--clients N]
 *           [--conns C] [--seconds S] [--warmup S] [--rate R]
 *           [--path PATH] [--per-client]
 *
 * --src FIRST, --clients N: the sources are N consecutive IPv4 addresses
 * from FIRST on (default: the kernel picks, one client); connection i is
 * client i mod N's. --conns C (default N): connections, kept open and
 * opened again when the server closes one. Closed loop by default: each
 * connection sends its next GET as soon as the answer to the last has
 * arrived. --rate R: open loop instead, each connection sends a request
 * every 1/R s (a request not answered by then is not sent over: the next
 * one waits for it), for limit precision. Answers are framed by their
 * Content-Length; anything else is an error and the connection is opened
 * again. Answers with a status other than 2xx (a limit's 429 or 503) are
 * counted apart, as non2xx, and are not answers.
 *
 * Counted after --warmup seconds (default 1) for --seconds (default 5):
 * one JSON line on stdout with answers, answers per second, latency
 * percentiles (request written to answer complete, in microseconds, from
 * a log-linear histogram of 1/64 resolution), errors, connects, and with
 * --per-client, each client's answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF 16384
#define SUB 64			/* sub-buckets per power of two */
#define NBUCKETS (40 * SUB)

struct conn {
	int fd;
	uint32_t client;
	bool connecting, busy;
	uint64_t sent_ns, due_ns;
	size_t have;
	int status;			/* of the answer being read */
	char buf[RBUF];
};

static struct {
	struct sockaddr_in dst;
	uint32_t src_first;		/* host order; 0: none */
	uint32_t nclients, nconns;
	double seconds, warmup, rate;
	const char *path;
	bool per_client;
	char req[512];
	size_t req_len;
} opt = { .nclients = 1, .seconds = 5, .warmup = 1, .path = "/" };

static uint64_t hist[NBUCKETS];
static uint64_t answers, non2xx, errors, connects;
static uint64_t *client_answers;
static volatile sig_atomic_t stop;
static int ep;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static unsigned bucket_of(uint64_t us)
{
	unsigned e, b;

	if (us < SUB)
		return us;
	e = 63 - __builtin_clzll(us);	/* us in [2^e, 2^(e+1)) */
	b = (e - 5) * SUB + (unsigned)((us >> (e - 6)) & (SUB - 1));
	return b < NBUCKETS ? b : NBUCKETS - 1;
}

static uint64_t bucket_low(unsigned b)
{
	unsigned e;

	if (b < SUB)
		return b;
	e = b / SUB + 5;
	return (1ull << e) + ((uint64_t)(b % SUB) << (e - 6));
}

static uint64_t percentile(double p)
{
	uint64_t total = 0, want, seen = 0;
	unsigned b;

	for (b = 0; b < NBUCKETS; b++)
		total += hist[b];
	if (!total)
		return 0;
	want = (uint64_t)(p * total);
	if (want >= total)
		want = total - 1;
	for (b = 0; b < NBUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return bucket_low(b);
	}
	return bucket_low(NBUCKETS - 1);
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (opt.src_first) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		src.sin_addr.s_addr = htonl(opt.src_first + c->client);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)))
			die("bind (are the client addresses on the interface?)");
	}
	if (connect(c->fd, (struct sockaddr *)&opt.dst, sizeof(opt.dst)) && errno != EINPROGRESS)
		return -1;
	c->connecting = true;
	c->busy = false;
	c->have = 0;
	connects++;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev))
		die("epoll_ctl");
	return 0;
}

static void conn_reopen(struct conn *c)
{
	errors++;
	close(c->fd);
	if (conn_open(c))
		die("connect");
}

static void conn_send(struct conn *c)
{
	ssize_t n = send(c->fd, opt.req, opt.req_len, MSG_NOSIGNAL);

	if (n != (ssize_t)opt.req_len) {	/* a small request fits in any socket buffer */
		conn_reopen(c);
		return;
	}
	c->busy = true;
	c->sent_ns = now_ns();
}

/* One whole answer at the start of buf: its length, 0 if not whole yet, -1 if not HTTP. */
static long answer_len(const char *buf, size_t have, int *status)
{
	const char *end, *p;
	long body = -1;

	end = memmem(buf, have, "\r\n\r\n", 4);
	if (!end)
		return have >= RBUF ? -1 : 0;
	if (have < 12 || memcmp(buf, "HTTP/1.", 7))
		return -1;
	*status = atoi(buf + 9);
	for (p = buf; p < end; p++) {
		if ((*p == 'C' || *p == 'c') && !strncasecmp(p, "content-length:", 15)) {
			body = strtol(p + 15, NULL, 10);
			break;
		}
	}
	if (body < 0)
		return -1;
	if ((size_t)(end + 4 - buf) + body > RBUF)
		return -1;
	if ((size_t)(end + 4 - buf) + body > have)
		return 0;
	return end + 4 - buf + body;
}

static void on_answer(struct conn *c, uint64_t t, uint64_t count_from)
{
	c->busy = false;
	if (t < count_from)
		return;
	if (c->status < 200 || c->status > 299) {	/* refused (429, 503): not an answer */
		non2xx++;
		return;
	}
	answers++;
	hist[bucket_of((t - c->sent_ns) / 1000)]++;
	if (client_answers)
		client_answers[c->client]++;
}

static void conn_event(struct conn *c, uint32_t events, uint64_t count_from)
{
	long len;
	ssize_t n;

	if (c->connecting) {
		int err = 0;
		socklen_t sl = sizeof(err);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			conn_reopen(c);
			return;
		}
		c->connecting = false;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		if (opt.rate <= 0)
			conn_send(c);
		return;
	}
	n = recv(c->fd, c->buf + c->have, RBUF - c->have, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		conn_reopen(c);
		return;
	}
	c->have += n;
	while ((len = answer_len(c->buf, c->have, &c->status)) > 0) {
		if (!c->busy) {		/* an answer nobody asked for */
			conn_reopen(c);
			return;
		}
		on_answer(c, now_ns(), count_from);
		memmove(c->buf, c->buf + len, c->have - len);
		c->have -= len;
		if (opt.rate <= 0)
			conn_send(c);
	}
	if (len < 0)
		conn_reopen(c);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: ps_load --dst ADDR --port PORT [--src FIRST] [--clients N] [--conns C]\n"
			"               [--seconds S] [--warmup S] [--rate R] [--path PATH] [--per-client]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "dst", 1, 0, 'd' }, { "port", 1, 0, 'p' }, { "src", 1, 0, 's' },
		{ "clients", 1, 0, 'n' }, { "conns", 1, 0, 'c' }, { "seconds", 1, 0, 't' },
		{ "warmup", 1, 0, 'w' }, { "rate", 1, 0, 'r' }, { "path", 1, 0, 'P' },
		{ "per-client", 0, 0, 'C' }, { 0 }
	};
	struct epoll_event evs[256];
	struct rlimit rl;
	uint64_t t0, count_from, end, t;
	struct conn *conns;
	char dst[64] = "";
	struct in_addr a;
	uint32_t i;
	int o, n;

	opt.dst.sin_family = AF_INET;
	while ((o = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (o) {
		case 'd':
			if (inet_pton(AF_INET, optarg, &opt.dst.sin_addr) != 1)
				usage();
			snprintf(dst, sizeof(dst), "%s", optarg);
			break;
		case 'p': opt.dst.sin_port = htons(atoi(optarg)); break;
		case 's':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			opt.src_first = ntohl(a.s_addr);
			break;
		case 'n': opt.nclients = strtoul(optarg, NULL, 10); break;
		case 'c': opt.nconns = strtoul(optarg, NULL, 10); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'P': opt.path = optarg; break;
		case 'C': opt.per_client = true; break;
		default: usage();
		}
	}
	if (!dst[0] || !opt.dst.sin_port || !opt.nclients || opt.seconds <= 0 ||
	    (!opt.src_first && opt.nclients != 1))
		usage();
	if (!opt.nconns)
		opt.nconns = opt.nclients;
	opt.req_len = snprintf(opt.req, sizeof(opt.req),
			       "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ps_load\r\n"
			       "Accept: application/json\r\n\r\n", opt.path, dst);
	rl.rlim_cur = rl.rlim_max = opt.nconns + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit RLIMIT_NOFILE");
	conns = calloc(opt.nconns, sizeof(*conns));
	if (!conns)
		die("calloc");
	if (opt.per_client && !(client_answers = calloc(opt.nclients, sizeof(uint64_t))))
		die("calloc");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");

	t0 = now_ns();
	count_from = t0 + (uint64_t)(opt.warmup * 1e9);
	end = count_from + (uint64_t)(opt.seconds * 1e9);
	for (i = 0; i < opt.nconns; i++) {
		conns[i].client = i % opt.nclients;
		/* Open-loop connections start spread over one period. */
		if (opt.rate > 0)
			conns[i].due_ns = t0 + (uint64_t)(1e9 / opt.rate * i / opt.nconns);
		if (conn_open(&conns[i]))
			die("connect");
	}
	while (!stop && (t = now_ns()) < end) {
		int wait_ms = opt.rate > 0 ? 1 : 100;

		n = epoll_wait(ep, evs, 256, wait_ms);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (o = 0; o < n; o++)
			conn_event(evs[o].data.ptr, evs[o].events, count_from);
		if (opt.rate > 0) {
			t = now_ns();
			for (i = 0; i < opt.nconns; i++) {
				struct conn *c = &conns[i];

				if (c->connecting || c->busy || t < c->due_ns)
					continue;
				c->due_ns += (uint64_t)(1e9 / opt.rate);
				if (c->due_ns < t)	/* a missed turn is not made up */
					c->due_ns = t + (uint64_t)(1e9 / opt.rate);
				conn_send(c);
			}
		}
	}
	t = now_ns();
	if (t > end)
		t = end;
	printf("{\"answers\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%llu,\"p90_us\":%llu,"
	       "\"p99_us\":%llu,\"non2xx\":%llu,\"errors\":%llu,\"connects\":%llu,\"clients\":%u,\"conns\":%u",
	       (unsigned long long)answers, (t - count_from) / 1e9,
	       t > count_from ? answers / ((t - count_from) / 1e9) : 0.0,
	       (unsigned long long)percentile(0.50), (unsigned long long)percentile(0.90),
	       (unsigned long long)percentile(0.99), (unsigned long long)non2xx,
	       (unsigned long long)errors,
	       (unsigned long long)connects, opt.nclients, opt.nconns);
	if (client_answers) {
		printf(",\"per_client\":[");
		for (i = 0; i < opt.nclients; i++)
			printf("%s%llu", i ? "," : "", (unsigned long long)client_answers[i]);
		printf("]");
	}
	printf("}\n");
	return 0;
}
