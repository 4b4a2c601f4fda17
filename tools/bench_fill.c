// SPDX-License-Identifier: GPL-2.0-only
/*
 * ps_bench_fill: the client load for the daemon's tick benchmark. Opens a
 * running penstockd's pinned maps and gives N clients (a quarter of them
 * IPv6) slots 0..N-1 as the BPF programs would (ps_client_ctrs through
 * mmap, ps_clients, ps_slot_state), then, once per second for R rounds,
 * raises every client's counters (all N changed, the worst case for a
 * tick), so that each of the daemon's ticks reads and folds N changed
 * clients.
 *
 *   ps_bench_fill --pin-dir DIR --clients N --rounds R
 *
 * --tokens PCT: the share of the clients whose answers report tokens
 * (default 100: every client's token counters rise too); the others'
 * stay 0, as a flood's or a client's that asks for no answer with usage.
 *
 * Prints "filled N" (entries the map then holds) and exits when done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "penstock_abi.h"

#define CHUNK 8192

static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Each round's counters; first_seen stays that of the first round (the
 * same map entries, not new ones). */
static void make_key(struct ps_client_key *k, uint32_t id)
{
	memset(k, 0, sizeof(*k));
	if (id % 4 == 3) {
		k->family = PS_AF_INET6;
		k->addr.a[0] = htonl(0xfd005053);
		k->addr.a[3] = htonl(id);
	} else {
		k->family = PS_AF_INET;
		k->addr.a[0] = htonl(0x0a000000 + id);
	}
}

/* Round r's counters of every client; first_seen stays the first round's. */
static uint32_t tokens_pct = 100;

static void fill(struct ps_client_ctr *ctrs, uint32_t n, uint32_t round, uint64_t born)
{
	uint64_t now = boot_ns(), r = round + 1;
	uint32_t id;

	for (id = 0; id < n; id++) {
		struct ps_counters *v = &ctrs[id].c;

		__atomic_store_n(&v->connections, r, __ATOMIC_RELAXED);
		v->requests = 3 * r;
		v->inference_requests = 2 * r;
		v->rx_packets = 10 * r;
		v->tx_packets = 12 * r;
		v->rx_bytes = 3000 * r + id % 977;
		v->tx_bytes = 40000 * r + id % 3001;
		v->rx_payload = 2500 * r;
		v->tx_payload = 38000 * r;
		v->last_seen_ns = now;
		/* the token clients' answers report tokens: their windows move too */
		if (id % 100 < tokens_pct) {
			ctrs[id].tx_events = 300 * r;
			ctrs[id].tx_tokens = 290 * r;
			ctrs[id].rx_tokens = 600 * r;
			ctrs[id].tx_tokens_estimated = 10 * r;
		}
		if (!round) {
			v->first_seen_ns = born;
			ctrs[id].gen = 1;
			make_key(&ctrs[id].key, id);
		}
	}
}

static int open_pinned(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "ps_bench_fill: %s: %s\n", path, strerror(errno));
	return fd;
}

/* Map n clients to slots 0..n-1 (ps_clients) and hand those slots out. */
static int link_slots(int clients_fd, int state_fd, uint32_t n)
{
	struct ps_client_key *keys = calloc(CHUNK, sizeof(*keys));
	struct ps_client_slot *vals = calloc(CHUNK, sizeof(*vals));
	struct ps_slot_state st = { .next = n };
	uint32_t i, zero = 0;
	int err = -1;

	if (!keys || !vals)
		goto out;
	for (i = 0; i < n; i += CHUNK) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t cnt = n - i < CHUNK ? n - i : CHUNK, j;

		for (j = 0; j < cnt; j++) {
			make_key(&keys[j], i + j);
			vals[j].slot = i + j;
			vals[j].gen = 1;
		}
		if (bpf_map_update_batch(clients_fd, keys, vals, &cnt, &opts)) {
			fprintf(stderr, "ps_bench_fill: ps_clients: %s\n", strerror(errno));
			goto out;
		}
	}
	if (bpf_map_update_elem(state_fd, &zero, &st, BPF_ANY)) {
		fprintf(stderr, "ps_bench_fill: ps_slot_state: %s\n", strerror(errno));
		goto out;
	}
	err = 0;
out:
	free(keys);
	free(vals);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "clients", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "tokens", required_argument, NULL, 't' },
		{},
	};
	const char *pin_dir = NULL;
	uint32_t n = 0, rounds = 5, r;
	struct ps_client_ctr *ctrs;
	int opt, clients_fd, ctrs_fd, state_fd;
	uint64_t born;
	size_t len;

	while ((opt = getopt_long(argc, argv, "P:n:r:t:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'P':
			pin_dir = optarg;
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rounds = strtoul(optarg, NULL, 10);
			break;
		case 't':
			tokens_pct = strtoul(optarg, NULL, 10);
			if (tokens_pct > 100) {
				fprintf(stderr, "ps_bench_fill: --tokens %s: a percentage, 0 to 100\n",
					optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: ps_bench_fill --pin-dir DIR --clients N --rounds R [--tokens PCT]\n");
			return 2;
		}
	}
	if (!pin_dir || !n) {
		fprintf(stderr, "usage: ps_bench_fill --pin-dir DIR --clients N --rounds R [--tokens PCT]\n");
		return 2;
	}
	clients_fd = open_pinned(pin_dir, PS_MAP_CLIENTS);
	ctrs_fd = open_pinned(pin_dir, PS_MAP_CLIENT_CTRS);
	state_fd = open_pinned(pin_dir, PS_MAP_SLOT_STATE);
	if (clients_fd < 0 || ctrs_fd < 0 || state_fd < 0)
		return 1;
	len = (size_t)n * sizeof(*ctrs);
	ctrs = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ctrs_fd, 0);
	if (ctrs == MAP_FAILED) {
		fprintf(stderr, "ps_bench_fill: mmap: %s\n", strerror(errno));
		return 1;
	}
	born = boot_ns();
	fill(ctrs, n, 0, born);
	if (link_slots(clients_fd, state_fd, n))
		return 1;
	printf("filled %u\n", n);
	fflush(stdout);
	for (r = 1; r <= rounds; r++) {
		sleep(1);
		fill(ctrs, n, r, born);
	}
	munmap(ctrs, len);
	return 0;
}
