// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "common/datapath.h"
#include "common/units.h"
#include "count/keyaddrs.h"

/* Pairs asked for in one batch. */
#define BATCH	1024

static int push(struct ps_kpairs *p, const struct ps_key_addr_key *k,
		const struct ps_key_addr_val *v)
{
	struct ps_kpair *x;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;

		x = realloc(p->v, cap * sizeof(*x));
		if (!x)
			return -ENOMEM;
		p->v = x;
		p->cap = cap;
	}
	x = &p->v[p->n++];
	memset(x, 0, sizeof(*x));
	x->id = k->id;
	x->addr.addr = k->addr;
	x->addr.family = k->family;
	x->requests = v->requests;
	x->inference_requests = v->inference_requests;
	x->first_ns = v->first_ns;
	x->last_ns = v->last_ns;
	return 0;
}

/* One key at a time: where the kernel has no batch lookup. */
static int read_one_by_one(int fd, struct ps_kpairs *p)
{
	struct ps_key_addr_key k, next;
	struct ps_key_addr_val v;
	int err = 0;
	bool more;

	more = !bpf_map_get_next_key(fd, NULL, &k);
	while (more && !err) {
		more = !bpf_map_get_next_key(fd, &k, &next);
		if (!bpf_map_lookup_elem(fd, &k, &v))
			err = push(p, &k, &v);
		k = next;
	}
	return err;
}

int ps_kpairs_read(int fd, struct ps_kpairs *p)
{
	static struct ps_key_addr_key keys[BATCH];
	static struct ps_key_addr_val vals[BATCH];
	__u64 in = 0, out = 0;
	bool first = true;
	int err = 0;
	__u32 i, n;

	p->n = 0;
	for (;;) {
		n = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, NULL);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (i = 0; i < n; i++)
			if (push(p, &keys[i], &vals[i])) {
				p->n = 0;
				return -ENOMEM;
			}
		if (err)	/* ENOENT: the last batch */
			return 0;
		in = out;
		first = false;
	}
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */) {
		p->n = 0;
		err = read_one_by_one(fd, p);
	}
	if (err)
		p->n = 0;
	return err;
}

void ps_kpairs_free(struct ps_kpairs *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int by_requests(const void *a, const void *b)
{
	const struct ps_kpair *x = a, *y = b;

	if (x->requests != y->requests)
		return x->requests > y->requests ? -1 : 1;
	return x->last_ns > y->last_ns ? -1 : x->last_ns < y->last_ns;
}

static json_int_t ago_s(uint64_t now_ns, uint64_t t)
{
	return now_ns > t ? (json_int_t)((now_ns - t) / 1000000000ULL) : 0;
}

json_t *ps_kpairs_of(int fd, const struct ps_client_key *subj, size_t max, uint64_t now_ns)
{
	struct ps_kpairs all = {};
	bool is_key = subj->family == PS_AF_KEY;
	uint64_t id = (uint64_t)subj->addr.a[0] | ((uint64_t)subj->addr.a[1] << 32);
	char buf[64];
	json_t *list, *o;
	size_t i, m = 0;

	if (ps_kpairs_read(fd, &all))
		return NULL;
	for (i = 0; i < all.n; i++) {
		const struct ps_kpair *x = &all.v[i];
		bool mine = is_key ? x->id == id
				   : x->addr.family == subj->family &&
					     !memcmp(&x->addr.addr, &subj->addr, sizeof(subj->addr));

		if (mine)
			all.v[m++] = *x;
	}
	if (m)
		qsort(all.v, m, sizeof(*all.v), by_requests);
	list = json_array();
	for (i = 0; i < m && i < max; i++) {
		const struct ps_kpair *x = &all.v[i];
		struct ps_client_key k = x->addr;

		if (!is_key)
			ps_key_client(x->id, &k);
		json_array_append_new(
		    list, json_pack("{s:s, s:I, s:I, s:I, s:I}", "client",
				    ps_client_str(&k, buf, sizeof(buf)), "requests",
				    (json_int_t)x->requests, "inference_requests",
				    (json_int_t)x->inference_requests, "first_seen_s_ago",
				    ago_s(now_ns, x->first_ns), "last_seen_s_ago",
				    ago_s(now_ns, x->last_ns)));
	}
	o = json_pack("{s:I, s:o}", "distinct", (json_int_t)m, is_key ? "addresses" : "keys", list);
	ps_kpairs_free(&all);
	return o;
}
