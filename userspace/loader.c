// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "log.h"
#include "penstock.skel.h"

_Static_assert(sizeof(struct ps_client_key) == 20, "ps_client_key ABI");
_Static_assert(sizeof(struct ps_counters) == 88, "ps_counters ABI");
_Static_assert(sizeof(struct ps_flow_key) == 40, "ps_flow_key ABI");
_Static_assert(sizeof(struct ps_port) == 4, "ps_port ABI");
_Static_assert(sizeof(struct ps_endpoint) == 8 + PS_MAX_PATHS * (1 + PS_PATH_MAX),
	       "ps_endpoint ABI");

int ps_dp_open(struct ps_datapath *dp, const struct ps_dp_opts *opts)
{
	struct penstock_bpf *skel;
	struct bpf_map *map;
	uint32_t clients, flows;
	int err;

	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = opts->pin_root);

	memset(dp, 0, sizeof(*dp));
	skel = penstock_bpf__open_opts(&oopts);
	if (!skel) {
		err = -errno;
		pr_warn("penstock: cannot open the BPF object: %s\n", strerror(-err));
		return err;
	}
	skel->rodata->ps_replay = opts->replay;
	clients = opts->max_clients ? opts->max_clients : opts->replay ? 65536 : PS_MAX_CLIENTS;
	flows = opts->max_flows ? opts->max_flows : opts->replay ? 65536 : PS_MAX_FLOWS;
	bpf_map__set_max_entries(skel->maps.ps_clients, clients);
	bpf_map__set_max_entries(skel->maps.ps_flows, flows);
	if (opts->replay) {
		/* A replay has maps of its own, never the live pinned ones. */
		bpf_object__for_each_map(map, skel->obj)
			bpf_map__set_pin_path(map, NULL);
		bpf_map__set_max_entries(skel->maps.ps_ooo, 4096);
	}
	err = penstock_bpf__load(skel);
	if (err) {
		pr_warn("penstock: cannot load the BPF programs: %s%s\n", strerror(-err),
			err == -EPERM ? " (run as root)" : "");
		penstock_bpf__destroy(skel);
		return err;
	}
	dp->skel = skel;
	dp->ingress_fd = bpf_program__fd(skel->progs.ps_ingress);
	dp->egress_fd = bpf_program__fd(skel->progs.ps_egress);
	if (ps_log_get_level() >= PS_LOG_DEBUG) {
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, skel->obj) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
				pr_debug("penstock: %s: %u instructions, %u verified\n",
					 bpf_program__name(prog), info.xlated_prog_len / 8,
					 info.verified_insns);
		}
	}
	return 0;
}

int ps_dp_configure(struct ps_datapath *dp, const struct ps_config *cfg)
{
	int ports_fd = bpf_map__fd(dp->skel->maps.ps_ports);
	int eps_fd = bpf_map__fd(dp->skel->maps.ps_endpoints);
	int i, j;

	for (i = 0; i < cfg->nendpoints; i++) {
		const struct ps_endpoint_cfg *ec = &cfg->endpoints[i];
		struct ps_endpoint ep = {};
		struct ps_port pp = { .endpoint = i + 1 };
		uint32_t slot = i, port = ec->port;

		ep.port = ec->port;
		ep.npaths = ec->npaths;
		for (j = 0; j < ec->npaths && j < PS_MAX_PATHS; j++) {
			size_t n = strnlen(ec->paths[j], PS_PATH_MAX);

			memcpy(ep.paths[j], ec->paths[j], n);
			ep.path_len[j] = n;
		}
		if (bpf_map_update_elem(eps_fd, &slot, &ep, BPF_ANY) ||
		    bpf_map_update_elem(ports_fd, &port, &pp, BPF_ANY)) {
			int err = -errno;

			pr_warn("penstock: cannot configure endpoint %s: %s\n", ec->name,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

void ps_dp_unpin(struct ps_datapath *dp)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, dp->skel->obj)
		if (bpf_map__is_pinned(map))
			bpf_map__unpin(map, NULL);
}

void ps_dp_close(struct ps_datapath *dp)
{
	penstock_bpf__destroy(dp->skel);
	dp->skel = NULL;
}

static int cmp_client(const void *a, const void *b)
{
	const struct ps_client *x = a, *y = b;

	if (x->key.family != y->key.family)
		return x->key.family - y->key.family;
	return memcmp(&x->key.addr, &y->key.addr, sizeof(x->key.addr));
}

static void sum_counters(struct ps_counters *dst, const struct ps_counters *v, int ncpu)
{
	int i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < ncpu; i++) {
		dst->connections += v[i].connections;
		dst->requests += v[i].requests;
		dst->inference_requests += v[i].inference_requests;
		dst->rx_packets += v[i].rx_packets;
		dst->tx_packets += v[i].tx_packets;
		dst->rx_bytes += v[i].rx_bytes;
		dst->tx_bytes += v[i].tx_bytes;
		dst->rx_payload += v[i].rx_payload;
		dst->tx_payload += v[i].tx_payload;
		if (v[i].first_seen_ns &&
		    (!dst->first_seen_ns || v[i].first_seen_ns < dst->first_seen_ns))
			dst->first_seen_ns = v[i].first_seen_ns;
		if (v[i].last_seen_ns > dst->last_seen_ns)
			dst->last_seen_ns = v[i].last_seen_ns;
	}
}

int ps_dp_read_clients(struct ps_datapath *dp, struct ps_client **out)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_clients);
	int ncpu = libbpf_num_possible_cpus();
	struct ps_client_key key, next, *prev = NULL;
	struct ps_client *list = NULL, *tmp;
	struct ps_counters *vals;
	size_t n = 0, cap = 0;
	int err = 0;

	if (ncpu < 0)
		return ncpu;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;	/* evicted meanwhile */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(list, cap * sizeof(*list));
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			list = tmp;
		}
		list[n].key = key;
		sum_counters(&list[n].c, vals, ncpu);
		n++;
	}
	qsort(list, n, sizeof(*list), cmp_client);
out:
	free(vals);
	if (err) {
		free(list);
		return err;
	}
	*out = list;
	return n;
}

int ps_dp_test_run(int prog_fd, const void *frame, unsigned int len, uint64_t ts_ns,
		   int *retval)
{
	struct __sk_buff ctx = { .tstamp = ts_ns };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	*retval = (int)opts.retval;
	return 0;
}

const char *ps_client_str(const struct ps_client_key *k, char *buf, size_t len)
{
	if (!inet_ntop(k->family == PS_AF_INET ? AF_INET : AF_INET6, &k->addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}
