// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/datapath.h"
#include "common/hpack_huffman.h"
#include "common/keyid.h"
#include "common/log.h"
#include "penstock.skel.h"
#include "penstock_abi_check.h"

const char *const ps_prog_names[PS_NPROGS] = { "ps_ingress", "ps_egress", "ps_xdp" };

/* FNV-1a over the object's bytes: which build the programs came from. */
static uint64_t object_id(void)
{
	size_t n, i;
	const unsigned char *p = penstock_bpf__elf_bytes(&n);
	uint64_t h = 0xcbf29ce484222325ULL;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

int ps_dp_prepare(struct ps_datapath *dp, const struct ps_dp_opts *opts)
{
	struct penstock_bpf *skel;
	struct bpf_map *map;
	uint32_t clients, flows;

	LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = opts->pin_root);

	memset(dp, 0, sizeof(*dp));
	skel = penstock_bpf__open_opts(&oopts);
	if (!skel) {
		int err = -errno;

		pr_warn("penstock: cannot open the BPF object: %s\n", strerror(-err));
		return err;
	}
	skel->rodata->ps_replay = opts->replay;
	skel->rodata->ps_build_id = object_id();
	clients = opts->max_clients ? opts->max_clients : opts->replay ? 65536 : PS_MAX_CLIENTS;
	flows = opts->max_flows ? opts->max_flows : opts->replay ? 65536 : PS_MAX_FLOWS;
	if (opts->pin_root && !opts->replay && !opts->own_maps) {
		/* Pinned maps are adopted as they are: their size wins. */
		char path[4096];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		int fd;

		snprintf(path, sizeof(path), "%s/" PS_MAP_CLIENT_CTRS, opts->pin_root);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.max_entries &&
			    info.max_entries != clients) {
				pr_info("penstock: the pinned maps hold %u client slots (not %u): "
					"kept until they are removed\n", info.max_entries, clients);
				clients = info.max_entries;
			}
			close(fd);
		}
	}
	bpf_map__set_max_entries(skel->maps.ps_clients, clients);
	bpf_map__set_max_entries(skel->maps.ps_client_ctrs, clients);
	bpf_map__set_max_entries(skel->maps.ps_slot_free, clients);
	bpf_map__set_max_entries(skel->maps.ps_flows, flows);
	bpf_map__set_max_entries(skel->maps.ps_flows_est, flows);
	if (opts->replay || opts->own_maps) {
		/* A replay has maps of its own, never the live pinned ones. */
		bpf_object__for_each_map(map, skel->obj)
			bpf_map__set_pin_path(map, NULL);
		bpf_map__set_max_entries(skel->maps.ps_ooo, 4096);
	}
	dp->skel = skel;
	return 0;
}

static struct bpf_program *prog_of(struct penstock_bpf *skel, int which)
{
	return which == PS_PROG_INGRESS ? skel->progs.ps_ingress :
	       which == PS_PROG_EGRESS	? skel->progs.ps_egress : skel->progs.ps_xdp;
}

int ps_dp_load(struct ps_datapath *dp)
{
	struct penstock_bpf *skel = dp->skel;
	int err, i;

	for (i = 0; i < PS_NPROGS; i++)
		if (dp->kept[i])
			bpf_program__set_autoload(prog_of(skel, i), false);
	err = penstock_bpf__load(skel);
	if (err) {
		pr_warn("penstock: cannot load the BPF programs: %s%s\n", strerror(-err),
			err == -EPERM ? " (run as root)" : "");
		ps_dp_close(dp);
		return err;
	}
	dp->ingress_fd = ps_dp_prog_fd(dp, PS_PROG_INGRESS);
	dp->egress_fd = ps_dp_prog_fd(dp, PS_PROG_EGRESS);
	dp->xdp_fd = ps_dp_prog_fd(dp, PS_PROG_XDP);
	if (ps_log_get_level() >= PS_LOG_DEBUG) {
		for (i = 0; i < PS_NPROGS; i++) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(ps_dp_prog_fd(dp, i), &info, &len))
				pr_debug("penstock: %s: %u instructions, %u verified%s\n",
					 ps_prog_names[i], info.xlated_prog_len / 8,
					 info.verified_insns, dp->kept[i] ? " (kept)" : "");
		}
	}
	return 0;
}

void ps_dp_keep_prog(struct ps_datapath *dp, int which, int fd)
{
	if (dp->kept[which])
		close(dp->kept_fd[which]);
	dp->kept_fd[which] = fd;
	dp->kept[which] = true;
}

int ps_dp_prog_fd(const struct ps_datapath *dp, int which)
{
	return dp->kept[which] ? dp->kept_fd[which] : bpf_program__fd(prog_of(dp->skel, which));
}

int ps_dp_open(struct ps_datapath *dp, const struct ps_dp_opts *opts)
{
	int err = ps_dp_prepare(dp, opts);

	return err ? err : ps_dp_load(dp);
}

/*
 * ps_trusted from the endpoints' trusted_proxies: one entry per prefix,
 * its bits the endpoints that trust it. What was there goes first (a
 * reload may trust fewer).
 */
static int configure_trusted(struct ps_datapath *dp, const struct ps_config *cfg)
{
	static struct ps_lpm_key keys[PS_MAX_ENDPOINTS * PS_MAX_TRUSTED];
	static struct ps_trusted vals[PS_MAX_ENDPOINTS * PS_MAX_TRUSTED];
	int fd = bpf_map__fd(dp->skel->maps.ps_trusted);
	struct ps_lpm_key k, next;
	int i, j, n = 0, m;

	while (!bpf_map_get_next_key(fd, NULL, &next))
		if (bpf_map_delete_elem(fd, &next))
			return -errno;
	for (i = 0; i < cfg->nendpoints; i++)
		for (j = 0; j < cfg->endpoints[i].ntrusted; j++) {
			ps_lpm_key_of(&k, &cfg->endpoints[i].trusted[j]);
			for (m = 0; m < n && memcmp(&keys[m], &k, sizeof(k)); m++)
				;
			if (m == n) {
				keys[n] = k;
				vals[n++].endpoints = 0;
			}
			vals[m].endpoints |= 1u << i;
		}
	for (m = 0; m < n; m++)
		if (bpf_map_update_elem(fd, &keys[m], &vals[m], BPF_ANY))
			return -errno;
	return 0;
}

/* Zero one endpoint slot's totals on every CPU. 0 or -errno. */
static int clear_endpoint_totals(struct ps_datapath *dp, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct ps_ep_ctr *zero;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	zero = calloc(ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.ps_ep_ctrs), &slot, zero, BPF_ANY))
		err = -errno;
	free(zero);
	return err;
}

int ps_dp_read_endpoints(struct ps_datapath *dp, int n, struct ps_ep_ctr *out)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_ep_ctrs), ncpu = libbpf_num_possible_cpus();
	struct ps_ep_ctr *v;
	uint32_t k;
	int c, err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(out, 0, n * sizeof(*out));
	for (k = 0; k < (uint32_t)n && k < PS_MAX_ENDPOINTS; k++) {
		if (bpf_map_lookup_elem(fd, &k, v)) {
			err = -errno;
			break;
		}
		for (c = 0; c < ncpu; c++) {
			out[k].connections += v[c].connections;
			out[k].requests += v[c].requests;
			out[k].inference_requests += v[c].inference_requests;
			out[k].rx_packets += v[c].rx_packets;
			out[k].tx_packets += v[c].tx_packets;
			out[k].rx_bytes += v[c].rx_bytes;
			out[k].tx_bytes += v[c].tx_bytes;
			out[k].throttled_requests += v[c].throttled_requests;
		}
	}
	free(v);
	return err;
}

int ps_dp_configure(struct ps_datapath *dp, const struct ps_config *cfg)
{
	int ports_fd = bpf_map__fd(dp->skel->maps.ps_ports);
	int eps_fd = bpf_map__fd(dp->skel->maps.ps_endpoints);
	int i, j, err;

	for (i = 0; i < cfg->nendpoints; i++) {
		const struct ps_endpoint_cfg *ec = &cfg->endpoints[i];
		struct ps_endpoint ep = {};
		struct ps_port pp = { .endpoint = i + 1 };
		uint32_t slot = i, port = ec->port;
		struct ps_endpoint old = {};

		ep.port = ec->port;
		ep.npaths = ec->npaths;
		ep.flags = ec->proxy_protocol == 1 ? PS_EP_PROXY_PROTOCOL : 0;
		if (ec->forwarded_for == PS_FWD_FOR_BOTH || ec->forwarded_for == PS_FWD_FOR_XFF)
			ep.flags |= PS_EP_XFF;
		if (ec->forwarded_for == PS_FWD_FOR_BOTH || ec->forwarded_for == PS_FWD_FOR_FORWARDED)
			ep.flags |= PS_EP_FORWARDED;
		if (ec->identity == PS_IDENTITY_API_KEY)
			ep.flags |= PS_EP_API_KEY;
		for (j = 0; j < ec->npaths && j < PS_MAX_PATHS; j++) {
			size_t n = strnlen(ec->paths[j], PS_PATH_MAX);

			uint8_t code[PS_PATH_MAX * 4];
			unsigned int bits = 0;
			int hn;

			memcpy(ep.paths[j], ec->paths[j], n);
			ep.path_len[j] = n;
			/* An HTTP/2 :path may come Huffman-coded: its code's first
			 * PS_PATH_MAX bytes, compared bit for bit. */
			hn = ps_huffman_encode(ec->paths[j], n, code, sizeof(code), &bits);
			if (hn > 0) {
				memcpy(ep.hpaths[j], code, hn < PS_PATH_MAX ? hn : PS_PATH_MAX);
				ep.hpath_bits[j] = bits <= PS_PATH_MAX * 8 ? bits : PS_PATH_MAX * 8;
			}
		}
		/* A slot that served another port: its totals were that
		 * endpoint's, not this one's. */
		if (!bpf_map_lookup_elem(eps_fd, &slot, &old) && old.port != ep.port &&
		    (err = clear_endpoint_totals(dp, slot))) {
			pr_warn("penstock: cannot clear the totals of endpoint slot %u: %s\n", slot,
				strerror(-err));
			return err;
		}
		if (bpf_map_update_elem(eps_fd, &slot, &ep, BPF_ANY) ||
		    bpf_map_update_elem(ports_fd, &port, &pp, BPF_ANY)) {
			err = -errno;
			pr_warn("penstock: cannot configure endpoint %s: %s\n", ec->name,
				strerror(-err));
			return err;
		}
	}
	err = configure_trusted(dp, cfg);
	if (err)
		pr_warn("penstock: cannot configure the trusted proxies: %s\n", strerror(-err));
	return err;
}

void ps_dp_unpin(struct ps_datapath *dp)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, dp->skel->obj)
		if (bpf_map__is_pinned(map))
			bpf_map__unpin(map, NULL);
}

/* An array map zeroed: every element written, in batches. 0 or -errno. */
static int clear_array(int fd, uint32_t n, size_t vsize)
{
	uint32_t batch = n < 1024 ? n : 1024, *keys, i, k, c;
	void *zero;
	int err = 0;

	if (!n)
		return 0;
	keys = calloc(batch, sizeof(*keys));
	zero = calloc(batch, vsize);
	if (!keys || !zero) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n && !err; i += c) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		c = n - i < batch ? n - i : batch;
		for (k = 0; k < c; k++)
			keys[k] = i + k;
		if (bpf_map_update_batch(fd, keys, zero, &c, &opts))
			err = -errno;
	}
out:
	free(keys);
	free(zero);
	return err;
}

/* A hash table or trie emptied: its keys gathered, then deleted. 0 or -errno. */
static int clear_keyed(int fd, size_t ksize)
{
	size_t n = 0, cap = 0;
	char *keys = NULL, *t;
	int err = 0;

	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			t = realloc(keys, cap * ksize);
			if (!t) {
				free(keys);
				return -ENOMEM;
			}
			keys = t;
		}
		if (bpf_map_get_next_key(fd, n ? keys + (n - 1) * ksize : NULL, keys + n * ksize))
			break;
		n++;
	}
	if (errno != ENOENT)
		err = -errno;
	while (n-- && !err)
		if (bpf_map_delete_elem(fd, keys + n * ksize) && errno != ENOENT)
			err = -errno;
	free(keys);
	return err;
}

int ps_dp_clear(struct ps_datapath *dp)
{
	int ncpu = libbpf_num_possible_cpus(), fd, err = 0;
	struct bpf_map *map;
	char v[512];

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	bpf_object__for_each_map(map, dp->skel->obj) {
		size_t vs = bpf_map__value_size(map);

		/* .rodata: the programs' constants, frozen. */
		if (bpf_map__is_internal(map))
			continue;
		fd = bpf_map__fd(map);
		switch (bpf_map__type(map)) {
		case BPF_MAP_TYPE_ARRAY:
			err = clear_array(fd, bpf_map__max_entries(map), vs);
			break;
		case BPF_MAP_TYPE_PERCPU_ARRAY:
			err = clear_array(fd, bpf_map__max_entries(map), ((vs + 7) & ~7UL) * ncpu);
			break;
		case BPF_MAP_TYPE_HASH:
		case BPF_MAP_TYPE_LRU_HASH:
		case BPF_MAP_TYPE_LPM_TRIE:
			err = clear_keyed(fd, bpf_map__key_size(map));
			break;
		case BPF_MAP_TYPE_QUEUE:
			if (vs > sizeof(v))
				return -E2BIG;
			while (!bpf_map_lookup_and_delete_elem(fd, NULL, v))
				;
			err = errno == ENOENT ? 0 : -errno;
			break;
		default:
			pr_warn("penstock: map %s: cannot clear a map of type %d\n",
				bpf_map__name(map), bpf_map__type(map));
			return -EOPNOTSUPP;
		}
		if (err) {
			pr_warn("penstock: cannot clear map %s: %s\n", bpf_map__name(map),
				strerror(-err));
			return err;
		}
	}
	return 0;
}

void ps_dp_close(struct ps_datapath *dp)
{
	int i;

	for (i = 0; i < PS_NPROGS; i++)
		if (dp->kept[i])
			close(dp->kept_fd[i]);
	memset(dp->kept, 0, sizeof(dp->kept));
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

int ps_dp_slots_used(struct ps_datapath *dp, uint32_t *next)
{
	struct ps_slot_state st;
	uint32_t zero = 0, max = bpf_map__max_entries(dp->skel->maps.ps_client_ctrs);

	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.ps_slot_state), &zero, &st))
		return -errno;
	*next = st.next < max ? st.next : max;
	return 0;
}

void *ps_ctrs_map(int fd, uint32_t first, uint32_t count, size_t *len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t off = (size_t)first * sizeof(struct ps_client_ctr);
	size_t end = off + (size_t)count * sizeof(struct ps_client_ctr);
	void *m;

	/* first is 0 or a multiple of 65536 slots: a page boundary. */
	off &= ~(size_t)(page - 1);
	*len = (end - off + page - 1) & ~(size_t)(page - 1);
	m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	return m == MAP_FAILED ? NULL : m;
}

int ps_dp_read_clients(struct ps_datapath *dp, struct ps_client **out)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_client_ctrs);
	struct ps_client *list = NULL;
	const struct ps_client_ctr *ctrs;
	uint32_t next, i, n = 0;
	size_t len;
	int err;

	err = ps_dp_slots_used(dp, &next);
	if (err)
		return err;
	list = calloc(next ? next : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	if (next) {
		ctrs = ps_ctrs_map(fd, 0, next, &len);
		if (!ctrs) {
			err = -errno;
			free(list);
			return err;
		}
		for (i = 0; i < next; i++) {
			if (!ctrs[i].key.family)
				continue;	/* free */
			list[n].key = ctrs[i].key;
			list[n].c = ctrs[i].c;
			list[n].would_throttle = ctrs[i].would_throttle + ctrs[i].throttled_requests;
			list[n].would_block = ctrs[i].would_block + ctrs[i].blocked_packets;
			list[n].would_refuse = ctrs[i].would_refuse + ctrs[i].refused_connections;
			list[n].fragments = ctrs[i].would_drop_fragments +
					    ctrs[i].dropped_fragments;
			list[n].tx_events = ctrs[i].tx_events;
			list[n].tx_tokens = ctrs[i].tx_tokens;
			list[n].rx_tokens = ctrs[i].rx_tokens;
			list[n].tx_tokens_estimated = ctrs[i].tx_tokens_estimated;
			list[n].rx_messages = ctrs[i].rx_messages;
			list[n].tx_messages = ctrs[i].tx_messages;
			n++;
		}
		munmap((void *)ctrs, len);
	}
	qsort(list, n, sizeof(*list), cmp_client);
	*out = list;
	return n;
}

long ps_dp_map_entries(struct bpf_map *map)
{
	int fd = bpf_map__fd(map);
	char key[64], next[64];
	void *prev = NULL;
	long n = 0, max = bpf_map__max_entries(map);

	if (bpf_map__key_size(map) > sizeof(key))
		return -1;
	while (n < max && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, bpf_map__key_size(map));
		prev = key;
		n++;
	}
	return n;
}

int ps_dp_test_run(int prog_fd, const void *frame, unsigned int len, uint64_t ts_ns,
		   int *retval)
{
	return ps_dp_test_run_piece(prog_fd, frame, len, ts_ns, NULL, retval);
}

int ps_dp_test_run_piece(int prog_fd, const void *frame, unsigned int len, uint64_t ts_ns,
			 const struct ps_piece *piece, int *retval)
{
	struct __sk_buff ctx = { .tstamp = ts_ns };

	if (piece) {
		ctx.cb[0] = PS_REPLAY_PIECE;
		ctx.cb[1] = piece->packets;
		ctx.cb[2] = piece->ip_bytes;
	}
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	*retval = (int)opts.retval;
	return 0;
}

int ps_dp_set_secret(struct ps_datapath *dp, const uint8_t key[PS_KEY_SECRET_LEN])
{
	struct ps_key_secret v;
	uint64_t k0, k1;
	uint32_t zero = 0;

	ps_key_secret_words(key, &k0, &k1);
	v.k0 = k0;
	v.k1 = k1;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.ps_key_secret), &zero, &v, BPF_ANY))
		return -errno;
	return 0;
}

const char *ps_client_str(const struct ps_client_key *k, char *buf, size_t len)
{
	if (k->family == PS_AF_KEY)
		return ps_key_str(ps_key_id_of(&k->addr), buf, len);
	if (!inet_ntop(k->family == PS_AF_INET ? AF_INET : AF_INET6, &k->addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

int ps_dp_flow_lookup(struct ps_datapath *dp, const struct ps_flow_key *k, struct ps_flow *f)
{
	int efd = bpf_map__fd(dp->skel->maps.ps_flows_est);
	int ffd = bpf_map__fd(dp->skel->maps.ps_flows);

	if (!bpf_map_lookup_elem(efd, k, f))
		return efd;
	if (!bpf_map_lookup_elem(ffd, k, f))
		return ffd;
	return -1;
}

void ps_dp_flow_forget(struct ps_datapath *dp, const struct ps_flow_key *k)
{
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.ps_flows_est), k);
	bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.ps_flows), k);
}
