// SPDX-License-Identifier: GPL-2.0-only
/*
 * Egress shaping: the root HTB qdisc and one class per shape entry, made
 * and removed with libnl-route (shape.h says what and why). Every change
 * goes through ps_shape_sync(), which compares the classes on each
 * interface with the shape entries in ps_enforce and fixes the difference,
 * so a daemon that adopts a datapath, an entry that expires and an entry
 * that is replaced all take the same path.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/errno.h>
#include <netlink/cache.h>
#include <netlink/route/tc.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/msg.h>
#include <netlink/attr.h>

#include "common/log.h"
#include "enforce/enforce.h"
#include "enforce/shape.h"
#include "penstock.skel.h"

#define HTB_HANDLE	TC_H_MAKE((uint32_t)PS_SHAPE_MAJOR << 16, 0)
#define CLASSID(minor)	TC_H_MAKE(HTB_HANDLE, (minor))
/* Minors are 16 bits; 0xffff is left alone (TC_H_UNSPEC-like values). */
#define MINOR_MAX	0xfffe

/* The default class: unshaped traffic, at a rate no link reaches. */
#define UNLIMITED_BPS	1000000000000ULL	/* 1 Tbit/s */
/* A class may send this long at its rate in one go (HTB's buffer). */
#define BURST_MS	10
#define ETH_FRAME_MAX	1514

/* Shape entries of ps_enforce, as read for one sync. */
struct entry {
	struct ps_lpm_key key;
	struct ps_enforcement e;
	int want;		/* shaped now: needs its class */
};

static int nl_to_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_INVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

int ps_shape_init(struct ps_shaper *s, void (*record)(void *ctx), void *ctx)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->record = record;
	s->ctx = ctx;
	s->sk = nl_socket_alloc();
	if (!s->sk)
		return -ENOMEM;
	err = nl_connect(s->sk, NETLINK_ROUTE);
	if (err) {
		pr_warn("penstockd: shaping: netlink: %s\n", nl_geterror(err));
		nl_socket_free(s->sk);
		s->sk = NULL;
		return nl_to_errno(err);
	}
	return 0;
}

void ps_shape_free(struct ps_shaper *s)
{
	if (s->sk)
		nl_socket_free(s->sk);
	json_decref(s->adopt);
	s->sk = NULL;
	s->adopt = NULL;
}

/* ---- the root qdisc ---- */

static const char *handle_str(uint32_t h, char *buf, size_t len)
{
	snprintf(buf, len, "%x:", TC_H_MAJ(h) >> 16);
	return buf;
}

/* Root kinds whose dumped options the kernel takes back as they are. */
static const char *const restorable[] = { "pfifo", "bfifo", "pfifo_head_drop", "tbf" };

/* What a dump of ifindex's qdiscs found. */
struct qdisc_scan {
	int ifindex;
	bool root_seen;
	bool child;		/* a qdisc under the root (not the root's own) */
	bool too_big;		/* the root's options do not fit prev */
	uint32_t root_handle;
	char kind[16];
	struct ps_shape_prev *prev;
};

static int scan_qdisc(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct qdisc_scan *sc = arg;
	struct nlattr *tb[TCA_MAX + 1];
	struct tcmsg *tcm;

	if (nlh->nlmsg_type != RTM_NEWQDISC || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*tcm)))
		return NL_OK;
	tcm = nlmsg_data(nlh);
	if (tcm->tcm_ifindex != sc->ifindex || nlmsg_parse(nlh, sizeof(*tcm), tb, TCA_MAX, NULL))
		return NL_OK;
	if (tcm->tcm_parent != TC_H_ROOT) {
		/* The dump lists the root before what hangs under it. A
		 * qdisc under a classless root's major is one someone added
		 * (tbf's own inner qdisc is not listed). */
		if (sc->root_seen && sc->root_handle &&
		    TC_H_MAJ(tcm->tcm_parent) == TC_H_MAJ(sc->root_handle))
			sc->child = true;
		return NL_OK;
	}
	sc->root_seen = true;
	sc->root_handle = tcm->tcm_handle;
	snprintf(sc->kind, sizeof(sc->kind), "%s",
		 tb[TCA_KIND] ? nla_get_string(tb[TCA_KIND]) : "");
	sc->prev->optlen = 0;
	if (tb[TCA_OPTIONS]) {
		if ((size_t)nla_len(tb[TCA_OPTIONS]) > sizeof(sc->prev->opts)) {
			sc->too_big = true;
		} else {
			sc->prev->optlen = nla_len(tb[TCA_OPTIONS]);
			memcpy(sc->prev->opts, nla_data(tb[TCA_OPTIONS]), sc->prev->optlen);
		}
	}
	return NL_OK;
}

/*
 * Look at ifindex's root qdisc. 1: it is our HTB; 0: it is something we
 * can put back, described in *prev; -EOPNOTSUPP: something we cannot
 * (why in why); another -errno: netlink failed. A raw dump rather than
 * libnl's qdisc cache: the options are wanted byte for byte, not parsed
 * and rebuilt (libnl rounds tbf's buckets).
 */
static int root_inspect(struct ps_shaper *s, int ifindex, struct ps_shape_prev *prev, char *why,
			size_t whylen)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex };
	struct qdisc_scan sc = { .ifindex = ifindex, .prev = prev };
	struct nl_cb *cb;
	char hb[16];
	size_t k;
	int err;

	memset(prev, 0, sizeof(*prev));
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, scan_qdisc, &sc);
	err = nl_send_simple(s->sk, RTM_GETQDISC, NLM_F_DUMP, &t, sizeof(t));
	if (err >= 0)
		err = nl_recvmsgs(s->sk, cb);
	nl_cb_put(cb);
	if (err < 0) {
		snprintf(why, whylen, "cannot list qdiscs: %s", nl_geterror(err));
		return nl_to_errno(err);
	}
	/* None listed (noop), or handle 0: the kernel's own choice
	 * (noqueue, pfifo_fast, mq, fq_codel, ...), which deleting ours
	 * brings back, children and all. */
	if (!sc.root_seen || !sc.root_handle) {
		memset(prev, 0, sizeof(*prev));
		return 0;
	}
	if (sc.root_handle == HTB_HANDLE && !strcmp(sc.kind, "htb"))
		return 1;
	snprintf(prev->kind, sizeof(prev->kind), "%s", sc.kind);
	prev->handle = sc.root_handle;
	for (k = 0; k < sizeof(restorable) / sizeof(restorable[0]); k++)
		if (!strcmp(sc.kind, restorable[k]))
			break;
	if (k == sizeof(restorable) / sizeof(restorable[0]) || sc.too_big) {
		snprintf(why, whylen, "its root qdisc, %s %s, is not one penstock can put back "
			 "(the kernel's default, pfifo, bfifo, pfifo_head_drop or tbf)", sc.kind,
			 handle_str(sc.root_handle, hb, sizeof(hb)));
		return -EOPNOTSUPP;
	}
	if (sc.child) {
		snprintf(why, whylen, "its root qdisc, %s %s, has a qdisc of its own that "
			 "penstock could not put back", sc.kind,
			 handle_str(sc.root_handle, hb, sizeof(hb)));
		return -EOPNOTSUPP;
	}
	return 0;
}

static struct rtnl_qdisc *root_qdisc(int ifindex, uint32_t handle, const char *kind)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	if (rtnl_tc_set_kind(TC_CAST(q), kind) < 0) {
		rtnl_qdisc_put(q);
		return NULL;
	}
	return q;
}

/*
 * Add or change an HTB class: rate = ceil (no borrowing), a burst of
 * BURST_MS at that rate, a quantum in the bounds HTB asks for (it warns
 * below 1000 or above 200000 bytes). Its leaf is HTB's default pfifo.
 */
static int class_set(struct ps_shaper *s, int ifindex, uint16_t minor, uint64_t bps)
{
	uint64_t Bps = bps / 8 ? bps / 8 : 1;
	uint64_t burst = Bps * BURST_MS / 1000 + ETH_FRAME_MAX, quantum = Bps / 10;
	struct rtnl_class *c = rtnl_class_alloc();
	int err;

	if (!c)
		return -ENOMEM;
	if (burst > (1U << 30))
		burst = 1U << 30;
	quantum = quantum < 1600 ? 1600 : quantum > 200000 ? 200000 : quantum;
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), HTB_HANDLE);
	rtnl_tc_set_handle(TC_CAST(c), CLASSID(minor));
	err = rtnl_tc_set_kind(TC_CAST(c), "htb");
	if (!err)
		err = rtnl_htb_set_rate64(c, Bps);
	if (!err)
		err = rtnl_htb_set_ceil64(c, Bps);
	if (!err)
		err = rtnl_htb_set_rbuffer(c, burst);
	if (!err)
		err = rtnl_htb_set_cbuffer(c, burst);
	if (!err)
		err = rtnl_htb_set_quantum(c, quantum);
	if (!err)
		err = rtnl_class_add(s->sk, c, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_class_put(c);
	return err < 0 ? nl_to_errno(err) : 0;
}

static int class_del(struct ps_shaper *s, int ifindex, uint16_t minor)
{
	struct rtnl_class *c = rtnl_class_alloc();
	int err;

	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), HTB_HANDLE);
	rtnl_tc_set_handle(TC_CAST(c), CLASSID(minor));
	err = rtnl_class_delete(s->sk, c);
	rtnl_class_put(c);
	return err < 0 ? nl_to_errno(err) : 0;
}

static void record(struct ps_shaper *s)
{
	if (s->record)
		s->record(s->ctx);
}

/* Put our HTB at the root of one interface, remembering what was there. */
static int install(struct ps_shaper *s, struct ps_shape_if *i)
{
	struct ps_shape_prev prev;
	struct rtnl_qdisc *q;
	char why[256] = "", hb[16];
	int err;

	err = root_inspect(s, i->ifindex, &prev, why, sizeof(why));
	if (err == 1) {
		/* Ours already: what it replaced is known from before. */
		i->installed = true;
		i->refused = false;
		return 0;
	}
	if (err < 0) {
		if (!i->refused)
			pr_warn("penstockd: %s: no shaping here: %s\n", i->ifname, why);
		i->refused = true;
		snprintf(i->why, sizeof(i->why), "%s", why);
		return err;
	}
	i->refused = false;
	i->prev = prev;
	if (i->prev.kind[0])
		pr_warn("penstockd: %s: shaping replaces the root qdisc %s %s; it comes back "
			"when penstockd exits\n", i->ifname, i->prev.kind,
			handle_str(i->prev.handle, hb, sizeof(hb)));
	/* Recorded before the replace: a daemon killed in between leaves
	 * its successor what it needs to put the old qdisc back. */
	i->installed = true;
	record(s);
	q = root_qdisc(i->ifindex, HTB_HANDLE, "htb");
	err = q ? rtnl_htb_set_defcls(q, CLASSID(PS_SHAPE_DEFAULT)) : -NLE_NOMEM;
	if (!err)
		err = rtnl_htb_set_rate2quantum(q, 10);
	if (!err)
		err = rtnl_qdisc_add(s->sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	if (q)
		rtnl_qdisc_put(q);
	if (err < 0) {
		pr_warn("penstockd: %s: cannot install the HTB root qdisc: %s\n", i->ifname,
			nl_geterror(err));
		i->installed = false;
		record(s);
		return nl_to_errno(err);
	}
	/* Until the default class exists HTB sends unclassified packets
	 * straight through (its direct queue): nothing is held meanwhile. */
	err = class_set(s, i->ifindex, PS_SHAPE_DEFAULT, UNLIMITED_BPS);
	if (err)
		pr_warn("penstockd: %s: cannot add the default HTB class: %s\n", i->ifname,
			strerror(-err));
	pr_info("penstockd: %s: HTB root qdisc %s installed for shaping (was %s)\n", i->ifname,
		handle_str(HTB_HANDLE, hb, sizeof(hb)), i->prev.kind[0] ? i->prev.kind :
		"the kernel's default");
	return 0;
}

/* The previous root qdisc again, with its handle and options as dumped. */
static int root_put_back(struct ps_shaper *s, const struct ps_shape_if *i)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = i->ifindex,
		.tcm_handle = i->prev.handle,
		.tcm_parent = TC_H_ROOT,
	};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE);
	int err;

	if (!m)
		return -NLE_NOMEM;
	err = nlmsg_append(m, &t, sizeof(t), NLMSG_ALIGNTO);
	if (!err)
		err = nla_put_string(m, TCA_KIND, i->prev.kind);
	if (!err && i->prev.optlen)
		err = nla_put(m, TCA_OPTIONS, i->prev.optlen, i->prev.opts);
	if (err) {
		nlmsg_free(m);
		return err;
	}
	return nl_send_sync(s->sk, m);	/* frees m */
}

/* Put back what our HTB replaced, if our HTB is still there. */
static void restore(struct ps_shaper *s, struct ps_shape_if *i)
{
	struct ps_shape_prev now;
	char why[256], hb[16];
	int err;

	if (!i->installed)
		return;
	if (root_inspect(s, i->ifindex, &now, why, sizeof(why)) != 1) {
		pr_info("penstockd: %s: the root qdisc is not penstock's any more: left as it "
			"is\n", i->ifname);
		goto done;
	}
	if (!i->prev.kind[0]) {
		/* Deleting the root (by its handle: only if it is ours) makes
		 * the kernel attach its default again. */
		struct rtnl_qdisc *q = root_qdisc(i->ifindex, HTB_HANDLE, "htb");

		err = q ? rtnl_qdisc_delete(s->sk, q) : -NLE_NOMEM;
		if (q)
			rtnl_qdisc_put(q);
	} else {
		err = root_put_back(s, i);
	}
	if (err < 0 && i->prev.kind[0]) {
		/* Never leave the HTB behind: the kernel's default instead. */
		pr_warn("penstockd: %s: cannot put the root qdisc %s %s back (%s): the kernel's "
			"default takes its place\n", i->ifname, i->prev.kind,
			handle_str(i->prev.handle, hb, sizeof(hb)), nl_geterror(err));
		i->prev.kind[0] = 0;
		restore(s, i);
		return;
	}
	if (err < 0) {
		pr_warn("penstockd: %s: cannot remove the HTB root qdisc: %s\n", i->ifname,
			nl_geterror(err));
		return;
	}
	if (i->prev.kind[0])
		pr_info("penstockd: %s: shaping removed, the root qdisc %s %s is back\n",
			i->ifname, i->prev.kind, handle_str(i->prev.handle, hb, sizeof(hb)));
	else
		pr_info("penstockd: %s: shaping removed, the kernel's default root qdisc is "
			"back\n", i->ifname);
done:
	i->installed = false;
	record(s);
}

void ps_shape_restore(struct ps_shaper *s)
{
	int i;

	for (i = 0; i < s->nifs; i++)
		restore(s, &s->ifs[i]);
}

/* ---- the record: what a successor needs to put the roots back ---- */

json_t *ps_shape_record(const struct ps_shaper *s)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < s->nifs; i++) {
		const struct ps_shape_if *f = &s->ifs[i];

		if (!f->installed)
			continue;
		char hex[2 * PS_SHAPE_OPTS_MAX + 1];
		uint32_t k;

		for (k = 0; k < f->prev.optlen && k < PS_SHAPE_OPTS_MAX; k++)
			snprintf(hex + 2 * k, 3, "%02x", f->prev.opts[k]);
		hex[2 * k] = 0;
		json_array_append_new(arr, json_pack("{s:s, s:i, s:{s:s, s:I, s:s}}", "name",
						     f->ifname, "ifindex", f->ifindex,
						     "previous_root", "kind", f->prev.kind,
						     "handle", (json_int_t)f->prev.handle,
						     "options", hex));
	}
	return arr;
}

void ps_shape_adopt(struct ps_shaper *s, json_t *rec)
{
	json_decref(s->adopt);
	s->adopt = json_is_array(rec) ? json_incref(rec) : NULL;
}

/* What the previous daemon recorded for an interface: 0, or -ENOENT. */
static int adopted_prev(struct ps_shaper *s, const struct ps_shape_if *i,
			struct ps_shape_prev *prev)
{
	json_t *it, *p;
	size_t k;

	json_array_foreach(s->adopt, k, it) {
		const char *name = json_string_value(json_object_get(it, "name"));
		const char *kind, *hex;
		uint32_t n;

		if (!name || strcmp(name, i->ifname) ||
		    json_integer_value(json_object_get(it, "ifindex")) != i->ifindex)
			continue;
		p = json_object_get(it, "previous_root");
		kind = json_string_value(json_object_get(p, "kind"));
		memset(prev, 0, sizeof(*prev));
		snprintf(prev->kind, sizeof(prev->kind), "%s", kind ? kind : "");
		prev->handle = json_integer_value(json_object_get(p, "handle"));
		hex = json_string_value(json_object_get(p, "options"));
		for (n = 0; hex && hex[2 * n] && hex[2 * n + 1] && n < PS_SHAPE_OPTS_MAX; n++) {
			unsigned int byte;

			if (sscanf(hex + 2 * n, "%2x", &byte) != 1)
				break;
			prev->opts[n] = byte;
		}
		prev->optlen = n;
		return 0;
	}
	return -ENOENT;
}

void ps_shape_ifaces(struct ps_shaper *s, const struct ps_attachment *att, int n)
{
	struct ps_shape_if keep[PS_MAX_IFACES];
	int i, j, nk = 0;

	if (!s->sk)
		return;
	for (i = 0; i < s->nifs; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(att[j].ifname, s->ifs[i].ifname) &&
			    att[j].ifindex == s->ifs[i].ifindex)
				break;
		if (j < n)
			keep[nk++] = s->ifs[i];
		else
			restore(s, &s->ifs[i]);
	}
	for (j = 0; j < n && nk < PS_MAX_IFACES; j++) {
		struct ps_shape_if *f;
		struct ps_shape_prev cur;
		char why[256];

		for (i = 0; i < nk; i++)
			if (!strcmp(att[j].ifname, keep[i].ifname))
				break;
		if (i < nk)
			continue;
		f = &keep[nk++];
		memset(f, 0, sizeof(*f));
		snprintf(f->ifname, sizeof(f->ifname), "%s", att[j].ifname);
		f->ifindex = att[j].ifindex;
		/* An HTB of ours already there: a previous daemon's, kept. */
		if (root_inspect(s, f->ifindex, &cur, why, sizeof(why)) == 1) {
			f->installed = true;
			if (adopted_prev(s, f, &f->prev))
				pr_warn("penstockd: %s: penstock's HTB is at the root but no "
					"record says what it replaced: the kernel's default "
					"comes back at exit\n", f->ifname);
			else
				pr_info("penstockd: %s: shaping qdisc adopted (it replaced %s)\n",
					f->ifname, f->prev.kind[0] ? f->prev.kind :
					"the kernel's default");
		}
	}
	memcpy(s->ifs, keep, nk * sizeof(keep[0]));
	s->nifs = nk;
	/* The previous daemon's HTBs on interfaces this one does not shape:
	 * put back (only the first time: then the record is used up). */
	if (s->adopt) {
		json_t *it;
		size_t k;

		json_array_foreach(s->adopt, k, it) {
			struct ps_shape_if old = {};
			const char *name = json_string_value(json_object_get(it, "name"));

			if (!name)
				continue;
			snprintf(old.ifname, sizeof(old.ifname), "%s", name);
			old.ifindex = json_integer_value(json_object_get(it, "ifindex"));
			for (i = 0; i < nk; i++)
				if (!strcmp(keep[i].ifname, old.ifname))
					break;
			if (i < nk || adopted_prev(s, &old, &old.prev))
				continue;
			pr_info("penstockd: %s is no longer configured: removing its shaping\n",
				old.ifname);
			old.installed = true;
			restore(s, &old);
		}
		json_decref(s->adopt);
		s->adopt = NULL;
	}
}

/* ---- classes ---- */

/* Every entry of ps_enforce: the shape entries, and the others to clear their class. */
static int read_entries(int fd, struct entry **out)
{
	struct ps_lpm_key *keys = NULL;
	struct entry *v;
	int n, i, m = 0;

	n = ps_enf_keys(fd, &keys);
	if (n < 0)
		return n;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &keys[i], &v[m].e))
			continue;
		v[m].key = keys[i];
		v[m].want = 0;
		m++;
	}
	free(keys);
	*out = v;
	return m;
}

/* The classes of our HTB on one interface: rate (bytes/s) by minor, 0: none. */
static int read_classes(struct ps_shaper *s, int ifindex, uint64_t *rate, uint8_t *present)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int err;

	err = rtnl_class_alloc_cache(s->sk, ifindex, &cache);
	if (err < 0)
		return nl_to_errno(err);
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_class *c = (struct rtnl_class *)o;
		uint32_t h = rtnl_tc_get_handle(TC_CAST(c));
		uint64_t r = 0;

		if (TC_H_MAJ(h) != HTB_HANDLE)
			continue;
		rtnl_htb_get_rate64(c, &r);
		present[TC_H_MIN(h)] = 1;
		rate[TC_H_MIN(h)] = r;
	}
	nl_cache_free(cache);
	return 0;
}

/*
 * What needs a class: shape entries in force, not dry runs (want 1). An
 * entry keeps its minor if no other took it first; the others get the
 * lowest free one. Returns the entries that want a class; -ENOSPC in *ret
 * (and why in err) when the minors ran out.
 */
static int assign_minors(struct entry *v, int n, uint8_t *used, uint64_t boot_now, char *err,
			 size_t errlen, int *ret)
{
	uint32_t next = PS_SHAPE_FIRST;
	int i, nwant = 0;

	for (i = 0; i < n; i++) {
		struct ps_enforcement *e = &v[i].e;
		uint16_t m = e->shape_class;

		v[i].want = e->action == PS_ACT_SHAPE && !e->dry_run && e->rate_bps &&
			    !(e->until_ns && boot_now >= e->until_ns);
		nwant += v[i].want;
		if (v[i].want && m >= PS_SHAPE_FIRST && m <= MINOR_MAX && !used[m])
			used[m] = 1;
		else if (v[i].want)
			v[i].want = 2;	/* a minor to allocate */
	}
	for (i = 0; i < n; i++) {
		if (v[i].want != 2)
			continue;
		while (next <= MINOR_MAX && used[next])
			next++;
		if (next > MINOR_MAX) {
			v[i].want = 0;
			nwant--;
			snprintf(err, errlen, "no HTB class left (%d shaped at most)",
				 MINOR_MAX - PS_SHAPE_FIRST + 1);
			*ret = -ENOSPC;
			continue;
		}
		used[next] = 1;
		v[i].e.shape_class = next;
	}
	return nwant;
}

/* Our HTB on f, if it is still there: someone may have removed or replaced it. */
static void check_installed(struct ps_shaper *s, struct ps_shape_if *f)
{
	struct ps_shape_prev cur;
	char why[256];
	int r;

	if (!f->installed)
		return;
	r = root_inspect(s, f->ifindex, &cur, why, sizeof(why));
	if (r == 0 || r == -EOPNOTSUPP) {
		pr_warn("penstockd: %s: penstock's HTB root qdisc was removed\n", f->ifname);
		f->installed = false;
		record(s);
	}
}

/* One class per entry that wants one, at its rate; none for the others. */
static void sync_classes(struct ps_shaper *s, struct ps_shape_if *f, const struct entry *v,
			 int n, const uint8_t *used, const uint8_t *present, const uint64_t *rate)
{
	int i, m, r;

	if (!present[PS_SHAPE_DEFAULT])
		class_set(s, f->ifindex, PS_SHAPE_DEFAULT, UNLIMITED_BPS);
	for (i = 0; i < n; i++) {
		uint64_t Bps = v[i].e.rate_bps / 8 ? v[i].e.rate_bps / 8 : 1;

		m = v[i].e.shape_class;
		if (!v[i].want || (present[m] && rate[m] == Bps))
			continue;
		r = class_set(s, f->ifindex, m, v[i].e.rate_bps);
		if (r)
			pr_warn("penstockd: %s: cannot set HTB class %x:%x: %s\n", f->ifname,
				PS_SHAPE_MAJOR, m, strerror(-r));
		else
			pr_debug("penstockd: %s: HTB class %x:%x at %llu bit/s\n", f->ifname,
				 PS_SHAPE_MAJOR, m, (unsigned long long)v[i].e.rate_bps);
	}
	/* Classes no entry needs: removed (their leaf goes with them). */
	for (m = PS_SHAPE_FIRST; m <= MINOR_MAX; m++) {
		if (!present[m] || used[m])
			continue;
		r = class_del(s, f->ifindex, m);
		if (r && r != -ENOENT)
			pr_warn("penstockd: %s: cannot remove HTB class %x:%x: %s\n", f->ifname,
				PS_SHAPE_MAJOR, m, strerror(-r));
		else
			pr_debug("penstockd: %s: HTB class %x:%x removed\n", f->ifname,
				 PS_SHAPE_MAJOR, m);
	}
}

/*
 * The minors go into the entries once their classes exist; entries that
 * no longer shape lose theirs.
 */
static void store_minors(int fd, const struct entry *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct ps_enforcement cur;
		uint16_t m = v[i].want ? v[i].e.shape_class : 0;

		if (bpf_map_lookup_elem(fd, &v[i].key, &cur) || cur.shape_class == m)
			continue;
		cur.shape_class = m;
		bpf_map_update_elem(fd, &v[i].key, &cur, BPF_EXIST);
	}
}

/* Entries want shaping and no interface shapes: why, in err. */
static int cannot_shape(struct ps_shaper *s, char *err, size_t errlen)
{
	int j;

	for (j = 0; j < s->nifs && !s->ifs[j].refused; j++)
		;
	if (j < s->nifs)
		snprintf(err, errlen, "cannot shape on %s: %s", s->ifs[j].ifname, s->ifs[j].why);
	else
		snprintf(err, errlen, "no configured interface can shape (see penstockd's log)");
	return -EOPNOTSUPP;
}

int ps_shape_sync(struct ps_shaper *s, struct ps_datapath *dp, uint64_t boot_now, char *err,
		  size_t errlen)
{
	int fd = bpf_map__fd(dp->skel->maps.ps_enforce);
	uint8_t *used = NULL, *present = NULL;
	uint64_t *rate = NULL;
	struct entry *v = NULL;
	int n, j, r, nwant, shaping = 0, ret = 0;

	if (err && errlen)
		err[0] = 0;
	if (!s->sk)
		return 0;
	n = read_entries(fd, &v);
	if (n < 0)
		return n;
	for (j = 0; j < s->nifs && !s->ifs[j].installed; j++)
		;
	if (!n && j == s->nifs)
		goto out;	/* nothing shaped, nothing installed */
	used = calloc(MINOR_MAX + 1, 1);
	present = calloc(MINOR_MAX + 1, 1);
	rate = calloc(MINOR_MAX + 1, sizeof(*rate));
	if (!used || !present || !rate) {
		ret = -ENOMEM;
		goto out;
	}
	nwant = assign_minors(v, n, used, boot_now, err, errlen, &ret);
	/* Each interface: the HTB where something is shaped, then the classes. */
	for (j = 0; j < s->nifs; j++) {
		struct ps_shape_if *f = &s->ifs[j];

		/* An HTB someone removed is made again if something is to be
		 * shaped, over what is there now. */
		check_installed(s, f);
		if (!f->installed && nwant && install(s, f))
			continue;
		if (!f->installed)
			continue;
		memset(present, 0, MINOR_MAX + 1);
		r = read_classes(s, f->ifindex, rate, present);
		if (r) {
			pr_warn("penstockd: %s: cannot list the HTB classes: %s\n", f->ifname,
				strerror(-r));
			continue;
		}
		sync_classes(s, f, v, n, used, present, rate);
		shaping++;
	}
	store_minors(fd, v, n);
	if (nwant && !shaping && !ret)
		ret = cannot_shape(s, err, errlen);
out:
	free(v);
	free(used);
	free(present);
	free(rate);
	return ret;
}
