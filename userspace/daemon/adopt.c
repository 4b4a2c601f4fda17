// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pins are not a reliable way to find a running datapath: `ip netns exec`
 * gives the daemon a mount namespace with a sysfs of its own (a bpffs
 * mounted there goes with the daemon), a container may not see the
 * host's bpffs, and a pin directory can be removed by hand. The programs
 * attached to an interface are always there to ask: the tc filter at
 * penstock's handle and priority, the XDP program, and for each the ids
 * of the maps it uses (bpf_prog_info.map_ids), which bpf_map_get_fd_by_id()
 * opens. The maps live as long as a program holds them.
 *
 * A map is taken over only if it is the one this build would create
 * (type, flags, key and value sizes, capacity but for the client maps,
 * whose capacity max_clients set when they were made; and its key and
 * value compared member by member through BTF), and only if the programs'
 * ABI version, kept in their .rodata, is this build's. A datapath that
 * does not fit is taken over not at all: fresh maps, and the counters
 * and entries read from its maps where their layout is known.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common/datapath.h"
#include "common/log.h"
#include "count/clients.h"
#include "daemon/adopt.h"
#include "daemon/attach.h"
#include "enforce/enforce.h"
#include "penstock.skel.h"

#define MAX_PROG_MAPS	64

/* The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of a map's name. */
static bool same_name(const char *kernel, const char *ours)
{
	return !strncmp(kernel, ours, BPF_OBJ_NAME_LEN - 1) &&
	       strlen(kernel) == (strlen(ours) < BPF_OBJ_NAME_LEN - 1 ? strlen(ours)
								      : BPF_OBJ_NAME_LEN - 1);
}

static struct ps_adopt_map *find_map(struct ps_adopt *a, const char *name)
{
	int i;

	for (i = 0; i < a->nmaps; i++)
		if (same_name(a->maps[i].info.name, name))
			return &a->maps[i];
	return NULL;
}

static int add_map(struct ps_adopt *a, int fd)
{
	struct ps_adopt_map *m;
	__u32 len;

	if (a->nmaps == PS_ADOPT_MAX_MAPS) {
		close(fd);
		return -E2BIG;
	}
	m = &a->maps[a->nmaps];
	memset(m, 0, sizeof(*m));
	len = sizeof(m->info);
	if (bpf_obj_get_info_by_fd(fd, &m->info, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	m->fd = fd;
	a->nmaps++;
	return 0;
}

/* The BTF object of a map (one per BPF object: kept while a asks for it). */
static const struct btf *map_btf(struct ps_adopt *a, const struct bpf_map_info *info)
{
	if (!info->btf_id)
		return NULL;
	if (a->btf && a->btf_id == info->btf_id)
		return a->btf;
	btf__free(a->btf);
	a->btf = btf__load_from_kernel_by_id(info->btf_id);
	if (!a->btf) {
		a->btf_id = 0;
		return NULL;
	}
	a->btf_id = info->btf_id;
	return a->btf;
}

/* ---- finding the programs ---- */

static void note_prog(struct ps_adopt *a, const char *ifname, const char *name, __u32 id)
{
	size_t n = strlen(a->progs);

	snprintf(a->progs + n, sizeof(a->progs) - n, "%s%s %s (id %u)", n ? ", " : "attached as ",
		 ifname, name, id);
}

/*
 * Take the maps of the program with this id if it is penstock's program
 * `want`. Returns 1 if taken, 0 if not penstock's or another datapath's.
 */
static int take_prog(struct ps_adopt *a, __u32 id, int which, const char *ifname)
{
	const char *want = ps_prog_names[which];
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[MAX_PROG_MAPS], n, i;
	struct ps_adopt_map *mine, *theirs;
	struct ps_adopt tmp = {};
	int fd, err = 0;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;	/* gone meanwhile */
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (strcmp(info.name, want)) {
		pr_info("penstockd: %s: the program at penstock's place is %s (id %u), not "
			"penstock's %s: it is replaced\n", ifname, info.name, id, want);
		goto out;
	}
	n = info.nr_map_ids < MAX_PROG_MAPS ? info.nr_map_ids : MAX_PROG_MAPS;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = n;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < n && !err; i++) {
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		err = mfd < 0 ? -errno : add_map(&tmp, mfd);
	}
	if (err)
		goto out;
	/* One datapath: every program counts into the same slots. */
	mine = find_map(a, PS_MAP_CLIENT_CTRS);
	theirs = find_map(&tmp, PS_MAP_CLIENT_CTRS);
	if (mine && theirs && theirs->info.id != mine->info.id) {
		pr_warn("penstockd: %s: %s (id %u) counts into another ps_client_ctrs (map %u, "
			"not %u): a second datapath, not taken over; it is replaced\n", ifname,
			want, id, theirs->info.id, mine->info.id);
		goto out;
	}
	for (i = 0; i < (__u32)tmp.nmaps && !err; i++) {
		int j, mfd;

		for (j = 0; j < a->nmaps; j++)
			if (a->maps[j].info.id == tmp.maps[i].info.id)
				break;
		if (j < a->nmaps)
			continue;
		mfd = dup(tmp.maps[i].fd);
		err = mfd < 0 ? -errno : add_map(a, mfd);
	}
	if (!err && !a->prog_id[which]) {
		a->prog_fd[which] = dup(fd);
		if (a->prog_fd[which] < 0)
			err = -errno;
		else
			a->prog_id[which] = id;
	} else if (!err && a->prog_id[which] != id) {
		a->progs_mixed = true;
	}
	if (!err) {
		note_prog(a, ifname, want, id);
		err = 1;
	}
out:
	ps_adopt_close(&tmp);
	close(fd);
	return err;
}

/* The tc program at penstock's handle and priority on one hook; 0: none. */
static __u32 tc_prog(int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PS_TC_HANDLE, .priority = PS_TC_PRIORITY);
	libbpf_print_fn_t prev = libbpf_set_print(NULL);
	int err = bpf_tc_query(&hook, &opts);

	libbpf_set_print(prev);
	return err ? 0 : opts.prog_id;
}

/* Is a map of this name a program object's constants (its .rodata)? */
static bool rodata_name(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && !strcmp(dot, ".rodata");
}

/* The value of a's array map m (its one entry, key 0), malloc'd; NULL if unread. */
static void *map_value(const struct ps_adopt_map *m)
{
	uint32_t zero = 0;
	void *buf = calloc(1, m->info.value_size);

	if (buf && bpf_map_lookup_elem(m->fd, &zero, buf)) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* ps_abi_version in the .rodata of the programs found; 0 if not there. */
static uint32_t read_abi(struct ps_adopt *a)
{
	int i;

	for (i = 0; i < a->nmaps; i++) {
		const struct bpf_map_info *info = &a->maps[i].info;
		const struct btf_var_secinfo *vsi;
		const struct btf_type *t;
		const struct btf *btf;
		uint32_t v = 0;
		int j;

		if (!rodata_name(info->name) || !(btf = map_btf(a, info)))
			continue;
		t = btf__type_by_id(btf, info->btf_value_type_id);
		if (!t || !btf_is_datasec(t))
			continue;
		vsi = btf_var_secinfos(t);
		for (j = 0; j < btf_vlen(t); j++, vsi++) {
			const struct btf_type *var = btf__type_by_id(btf, vsi->type);
			char *buf;

			if (!var || strcmp(btf__name_by_offset(btf, var->name_off), "ps_abi_version") ||
			    vsi->size != sizeof(v) || vsi->offset + sizeof(v) > info->value_size)
				continue;
			buf = map_value(&a->maps[i]);
			if (buf)
				memcpy(&v, buf + vsi->offset, sizeof(v));
			free(buf);
			return v;
		}
	}
	return 0;
}

/* Penstock's programs on one interface: how many were taken, or -errno. */
static int take_iface(struct ps_adopt *a, const char *ifname)
{
	int ifindex = if_nametoindex(ifname), found = 0, r = 0;
	__u32 ids[PS_NPROGS] = {}, i;

	if (!ifindex)
		return 0;	/* ps_attach() says so */
	ids[PS_PROG_INGRESS] = tc_prog(ifindex, BPF_TC_INGRESS);
	ids[PS_PROG_EGRESS] = tc_prog(ifindex, BPF_TC_EGRESS);
	if (bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &ids[PS_PROG_XDP]))
		ids[PS_PROG_XDP] = 0;
	for (i = 0; i < PS_NPROGS && r >= 0; i++) {
		if (!ids[i])
			continue;
		r = take_prog(a, ids[i], i, ifname);
		found += r > 0;
	}
	if (r == -EPERM || r == -EACCES) {
		/* Opening a program by its id takes CAP_SYS_ADMIN: the
		 * programs at penstock's places are only named, by their ids. */
		for (i = 0; i < PS_NPROGS; i++)
			if (ids[i])
				note_prog(a, ifname, ps_prog_names[i], ids[i]);
		return r;
	}
	if (r < 0) {
		pr_warn("penstockd: %s: cannot read the programs attached: %s\n", ifname,
			strerror(-r));
		return r;
	}
	return found;
}

int ps_adopt_find_attached(struct ps_adopt *a, const struct ps_config *cfg)
{
	int i, r, found = 0;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < cfg->nifaces; i++) {
		r = take_iface(a, cfg->ifaces[i]);
		if (r == -EPERM || r == -EACCES) {
			char progs[sizeof(a->progs)];

			/* The rest named too, for the log; a->progs stays. */
			while (++i < cfg->nifaces)
				take_iface(a, cfg->ifaces[i]);
			memcpy(progs, a->progs, sizeof(progs));
			ps_adopt_close(a);
			memcpy(a->progs, progs, sizeof(progs));
			return r;
		}
		if (r < 0) {
			ps_adopt_close(a);
			return r;
		}
		found += r;
	}
	if (!found) {
		ps_adopt_close(a);
		return 0;
	}
	a->from = PS_FROM_PROGRAMS;
	a->abi = read_abi(a);
	return found;
}

int ps_adopt_find_pinned(struct ps_adopt *a, struct bpf_object *obj, const char *pin_dir)
{
	struct bpf_map *m;

	memset(a, 0, sizeof(*a));
	bpf_object__for_each_map(m, obj) {
		const char *path = bpf_map__pin_path(m);
		int fd;

		if (!path || (fd = bpf_obj_get(path)) < 0)
			continue;
		if (add_map(a, fd))
			break;
	}
	a->from = PS_FROM_PINS;
	snprintf(a->progs, sizeof(a->progs), "pinned in %s", pin_dir);
	return a->nmaps;
}

/* ---- layouts ---- */

static const struct btf_type *skip_mods(const struct btf *btf, __u32 *id)
{
	const struct btf_type *t = btf__type_by_id(btf, *id);

	while (t && (btf_is_typedef(t) || btf_is_mod(t))) {
		*id = t->type;
		t = btf__type_by_id(btf, *id);
	}
	return t;
}

static const char *kind_str(const struct btf_type *t)
{
	switch (btf_kind(t)) {
	case BTF_KIND_INT: return "an integer";
	case BTF_KIND_STRUCT: return "a struct";
	case BTF_KIND_UNION: return "a union";
	case BTF_KIND_ARRAY: return "an array";
	case BTF_KIND_ENUM: return "an enum";
	default: return "another kind of type";
	}
}

/*
 * Is type tid of theirs laid out as type oid of ours? Names of structs
 * and members, sizes, offsets and array lengths, all the way down. If
 * not, why says where they part.
 */
static bool same_layout(const struct btf *ours, __u32 oid, const struct btf *theirs, __u32 tid,
			char *why, size_t len, int depth)
{
	const struct btf_type *o = skip_mods(ours, &oid), *t = skip_mods(theirs, &tid);
	const char *oname, *tname;
	int i;

	if (!o || !t || depth > 8) {
		snprintf(why, len, "a type BTF does not describe");
		return false;
	}
	oname = btf__name_by_offset(ours, o->name_off);
	tname = btf__name_by_offset(theirs, t->name_off);
	if (btf_kind(o) != btf_kind(t)) {
		snprintf(why, len, "%s %s, %s in this build", kind_str(t), tname, kind_str(o));
		return false;
	}
	switch (btf_kind(o)) {
	case BTF_KIND_INT:
		if (o->size != t->size || btf_int_encoding(o) != btf_int_encoding(t) ||
		    btf_int_bits(o) != btf_int_bits(t)) {
			snprintf(why, len, "%s of %u bytes, %s of %u in this build", tname, t->size,
				 oname, o->size);
			return false;
		}
		return true;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		if (o->size != t->size) {
			snprintf(why, len, "enum %s of %u bytes, %u in this build", tname, t->size,
				 o->size);
			return false;
		}
		return true;
	case BTF_KIND_ARRAY:
		if (btf_array(o)->nelems != btf_array(t)->nelems) {
			snprintf(why, len, "an array of %u, %u in this build", btf_array(t)->nelems,
				 btf_array(o)->nelems);
			return false;
		}
		return same_layout(ours, btf_array(o)->type, theirs, btf_array(t)->type, why, len,
				   depth + 1);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		if (strcmp(oname, tname)) {
			snprintf(why, len, "struct %s, struct %s in this build", tname, oname);
			return false;
		}
		if (o->size != t->size) {
			snprintf(why, len, "struct %s of %u bytes, %u in this build", tname, t->size,
				 o->size);
			return false;
		}
		if (btf_vlen(o) != btf_vlen(t)) {
			snprintf(why, len, "struct %s with %u members, %u in this build", tname,
				 btf_vlen(t), btf_vlen(o));
			return false;
		}
		for (i = 0; i < btf_vlen(o); i++) {
			const struct btf_member *om = btf_members(o) + i, *tm = btf_members(t) + i;
			const char *on = btf__name_by_offset(ours, om->name_off);
			const char *tn = btf__name_by_offset(theirs, tm->name_off);
			char sub[200];

			if (strcmp(on, tn)) {
				snprintf(why, len, "struct %s: member %d is %s, %s in this build",
					 tname, i, tn, on);
				return false;
			}
			if (btf_member_bit_offset(o, i) != btf_member_bit_offset(t, i) ||
			    btf_member_bitfield_size(o, i) != btf_member_bitfield_size(t, i)) {
				snprintf(why, len, "struct %s: %s at byte %u, %u in this build", tname,
					 tn, btf_member_bit_offset(t, i) / 8,
					 btf_member_bit_offset(o, i) / 8);
				return false;
			}
			if (!same_layout(ours, om->type, theirs, tm->type, sub, sizeof(sub),
					 depth + 1)) {
				snprintf(why, len, "struct %s: %s: %s", tname, tn, sub);
				return false;
			}
		}
		return true;
	default:
		if (o->size != t->size) {
			snprintf(why, len, "%u bytes, %u in this build", t->size, o->size);
			return false;
		}
		return true;
	}
}

/* Member `name` of struct sid in btf: its type and byte offset. */
static bool member_of(const struct btf *btf, __u32 sid, const char *name, __u32 *type,
		      __u32 *off)
{
	const struct btf_type *s = skip_mods(btf, &sid);
	int i;

	if (!s || !btf_is_struct(s))
		return false;
	for (i = 0; i < btf_vlen(s); i++) {
		const struct btf_member *m = btf_members(s) + i;

		if (!strcmp(btf__name_by_offset(btf, m->name_off), name) &&
		    !btf_member_bitfield_size(s, i)) {
			*type = m->type;
			*off = btf_member_bit_offset(s, i) / 8;
			return true;
		}
	}
	return false;
}

static bool client_map(const char *name)
{
	return !strcmp(name, PS_MAP_CLIENTS) || !strcmp(name, PS_MAP_CLIENT_CTRS) ||
	       !strcmp(name, PS_MAP_SLOT_FREE);
}

/* Does theirs fit map m of this build? If not, why. */
static bool map_fits(struct ps_adopt *a, const struct btf *ours, const struct bpf_map *m,
		     const struct ps_adopt_map *am, char *why, size_t len)
{
	const struct bpf_map_info *in = &am->info;
	const struct btf *theirs;
	char sub[400];

	if (in->type != bpf_map__type(m)) {
		snprintf(why, len, "of type %s, %s in this build",
			 libbpf_bpf_map_type_str(in->type) ?: "?",
			 libbpf_bpf_map_type_str(bpf_map__type(m)) ?: "?");
		return false;
	}
	if (in->key_size != bpf_map__key_size(m) || in->value_size != bpf_map__value_size(m)) {
		snprintf(why, len, "keys of %u bytes and values of %u, %u and %u in this build",
			 in->key_size, in->value_size, bpf_map__key_size(m),
			 bpf_map__value_size(m));
		return false;
	}
	if (in->map_flags != bpf_map__map_flags(m)) {
		snprintf(why, len, "flags %#x, %#x in this build", in->map_flags,
			 bpf_map__map_flags(m));
		return false;
	}
	if (!client_map(bpf_map__name(m)) && in->max_entries != bpf_map__max_entries(m)) {
		snprintf(why, len, "%u entries, %u in this build", in->max_entries,
			 bpf_map__max_entries(m));
		return false;
	}
	/* libbpf makes queues and stacks without BTF (the kernel takes none
	 * for them): their element size is all there is to compare. */
	if (in->type == BPF_MAP_TYPE_QUEUE || in->type == BPF_MAP_TYPE_STACK)
		return true;
	theirs = map_btf(a, in);
	if (!theirs || !in->btf_value_type_id) {
		snprintf(why, len, "no BTF: its layout cannot be checked");
		return false;
	}
	if (bpf_map__btf_key_type_id(m) &&
	    (!in->btf_key_type_id || !same_layout(ours, bpf_map__btf_key_type_id(m), theirs,
						  in->btf_key_type_id, sub, sizeof(sub), 0))) {
		snprintf(why, len, "key: %s", in->btf_key_type_id ? sub : "no BTF");
		return false;
	}
	if (!same_layout(ours, bpf_map__btf_value_type_id(m), theirs, in->btf_value_type_id, sub,
			 sizeof(sub), 0)) {
		snprintf(why, len, "value: %s", sub);
		return false;
	}
	return true;
}

/* Can the clients' keys and counters be read from their ps_client_ctrs? */
static bool ctrs_readable(struct ps_adopt *a, const struct btf *ours, char *why, size_t len)
{
	struct ps_adopt_map *am = find_map(a, PS_MAP_CLIENT_CTRS);
	__s32 okey = btf__find_by_name_kind(ours, "ps_client_key", BTF_KIND_STRUCT);
	__s32 octr = btf__find_by_name_kind(ours, "ps_counters", BTF_KIND_STRUCT);
	const struct btf *theirs;
	__u32 ktype, ctype;
	int i;

	if (!am) {
		snprintf(why, len, "no %s", PS_MAP_CLIENT_CTRS);
		return false;
	}
	theirs = map_btf(a, &am->info);
	if (!theirs || !am->info.btf_value_type_id || okey <= 0 || octr <= 0) {
		snprintf(why, len, "%s has no BTF", PS_MAP_CLIENT_CTRS);
		return false;
	}
	if (am->info.type != BPF_MAP_TYPE_ARRAY || am->info.key_size != 4) {
		snprintf(why, len, "%s is not an array", PS_MAP_CLIENT_CTRS);
		return false;
	}
	if (!member_of(theirs, am->info.btf_value_type_id, "key", &ktype, &a->ctr_key_off) ||
	    !member_of(theirs, am->info.btf_value_type_id, "c", &ctype, &a->ctr_c_off)) {
		snprintf(why, len, "its %s has no members key and c", PS_MAP_CLIENT_CTRS);
		return false;
	}
	if (!same_layout(ours, okey, theirs, ktype, why, len, 0) ||
	    !same_layout(ours, octr, theirs, ctype, why, len, 0))
		return false;
	if (a->ctr_key_off + sizeof(struct ps_client_key) > am->info.value_size ||
	    a->ctr_c_off + sizeof(struct ps_counters) > am->info.value_size) {
		snprintf(why, len, "its members lie beyond its values");
		return false;
	}
	/* Its output token counters, where it has them (an older datapath has none). */
	for (i = 0; i < PS_NTOKFIELDS; i++) {
		const struct btf_type *tt;
		__u32 ttype, off;

		a->ctr_tok_off[i] = 0;
		if (!member_of(theirs, am->info.btf_value_type_id,
			       ps_field_names[PS_NCTRFIELDS + i], &ttype, &off))
			continue;
		tt = skip_mods(theirs, &ttype);
		if (tt && btf_is_int(tt) && tt->size == 8 && off + 8 <= am->info.value_size)
			a->ctr_tok_off[i] = off;
	}
	return true;
}

bool ps_adopt_check(struct ps_adopt *a, struct bpf_object *obj)
{
	const struct btf *ours = bpf_object__btf(obj);
	uint32_t clients = 0;
	struct bpf_map *m;
	bool header = false;
	char why[512];

#define MISFIT(fmt, ...)							\
	do {									\
		if (!header)							\
			pr_warn("penstockd: the datapath %s does not fit this "	\
				"penstockd:\n", a->progs);			\
		header = true;							\
		pr_warn("penstockd:   " fmt "\n", ##__VA_ARGS__);		\
	} while (0)

	if (a->abi && a->abi != PS_ABI_VERSION)
		MISFIT("its programs were built for datapath ABI %u, this penstockd for %u",
		       a->abi, PS_ABI_VERSION);
	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		struct ps_adopt_map *am;

		if (!bpf_map__pin_path(m))
			continue;	/* a program's working memory, never shared */
		am = find_map(a, name);
		if (!am) {
			MISFIT("%s: %s", name, a->from == PS_FROM_PINS ? "not pinned" :
				"not among the maps of its programs");
			continue;
		}
		if (!map_fits(a, ours, m, am, why, sizeof(why)))
			MISFIT("%s: %s", name, why);
		if (!client_map(name))
			continue;
		if (clients && am->info.max_entries != clients)
			MISFIT("%s: %u entries, the other client maps %u", name,
			       am->info.max_entries, clients);
		clients = am->info.max_entries;
	}
#undef MISFIT
	a->fits = !header;
	if (a->fits)
		return true;

	if (a->from != PS_FROM_PROGRAMS)
		return false;	/* left as they are: nothing to read */
	/* What can be read from it all the same, once it is replaced. */
	a->ctrs_readable = ctrs_readable(a, ours, why, sizeof(why));
	if (a->ctrs_readable)
		pr_warn("penstockd: its clients' counters have this build's layout: they are read "
			"and kept\n");
	else
		pr_warn("penstockd: its clients' counters cannot be read (%s): what it counted "
			"since the last read is lost\n", why);
	{
		struct ps_adopt_map *am = find_map(a, PS_MAP_ENFORCE);

		a->enforce_readable =
			am && map_fits(a, ours, bpf_object__find_map_by_name(obj, PS_MAP_ENFORCE),
				       am, why, sizeof(why));
		if (a->enforce_readable)
			pr_warn("penstockd: its enforcement entries have this build's layout: they "
				"are kept\n");
		else
			pr_warn("penstockd: its enforcement entries cannot be read (%s): manual "
				"entries come back from the state directory, the others are gone\n",
				am ? why : "no " PS_MAP_ENFORCE);
	}
	pr_warn("penstockd: its flow state, client slots and datapath stats go with it: open "
		"connections are followed from their next packet\n");
	return false;
}

void ps_adopt_unpin(struct ps_adopt *a, struct bpf_object *obj, bool same)
{
	struct bpf_map *m;
	int n = 0;

	bpf_object__for_each_map(m, obj) {
		const char *path = bpf_map__pin_path(m);
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		struct ps_adopt_map *am;
		bool ours;
		int fd;

		if (!path || (fd = bpf_obj_get(path)) < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue;
		}
		close(fd);
		am = find_map(a, bpf_map__name(m));
		ours = am && am->info.id == info.id;
		if (ours != same)
			continue;
		if (unlink(path))
			pr_warn("penstockd: cannot remove %s: %s\n", path, strerror(errno));
		else if (!same)
			pr_warn("penstockd: %s named map %u, not the attached programs' %s (map %u): "
				"removed\n", path, info.id, bpf_map__name(m), am ? am->info.id : 0);
		else
			n++;
	}
	if (n)
		pr_info("penstockd: %d pins of the datapath being replaced removed\n", n);
}

int ps_adopt_reuse(struct ps_adopt *a, struct bpf_object *obj)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		struct ps_adopt_map *am;
		int err;

		if (!bpf_map__pin_path(m) || !(am = find_map(a, name)))
			continue;
		err = bpf_map__reuse_fd(m, am->fd);
		if (err) {
			pr_warn("penstockd: cannot take over %s (map %u): %s\n", name, am->info.id,
				strerror(-err));
			return err;
		}
	}
	return 0;
}

/* Whether every .rodata among a's maps holds what obj's would: the same bytes. */
static bool same_rodata(struct ps_adopt *a, struct bpf_object *obj, char *why, size_t len)
{
	const struct bpf_map *ours = NULL, *m;
	const void *want = NULL;
	size_t size = 0;
	int i, found = 0;

	bpf_object__for_each_map(m, obj)
		if (bpf_map__is_internal(m) && rodata_name(bpf_map__name(m)))
			ours = m;
	if (ours)
		want = bpf_map__initial_value((struct bpf_map *)ours, &size);
	if (!want) {
		snprintf(why, len, "this build has no .rodata");
		return false;
	}
	for (i = 0; i < a->nmaps; i++) {
		const struct bpf_map_info *info = &a->maps[i].info;
		void *buf;
		bool same;

		if (!rodata_name(info->name))
			continue;
		if (info->value_size != size) {
			snprintf(why, len, "their constants are %u bytes, this build's %zu",
				 info->value_size, size);
			return false;
		}
		buf = map_value(&a->maps[i]);
		same = buf && !memcmp(buf, want, size);
		free(buf);
		if (!same) {
			snprintf(why, len, "they were built from another object or with other "
				 "constants");
			return false;
		}
		found++;
	}
	if (!found)
		snprintf(why, len, "their constants cannot be read");
	return found > 0;
}

int ps_adopt_keep_progs(struct ps_adopt *a, struct ps_datapath *dp)
{
	struct bpf_object *obj = dp->skel->obj;
	struct bpf_map *m;
	char why[160];
	int i;

	if (a->from != PS_FROM_PROGRAMS || !a->fits)
		return 0;
	if (a->progs_mixed || !a->prog_id[PS_PROG_INGRESS] || !a->prog_id[PS_PROG_EGRESS]) {
		pr_info("penstockd: its programs are loaded again: %s\n",
			a->progs_mixed ? "not one program of each name on every interface" :
					 "its ingress or egress program is missing");
		return 0;
	}
	if (!same_rodata(a, obj, why, sizeof(why))) {
		pr_info("penstockd: its programs are loaded again: %s\n", why);
		return 0;
	}
	/* The kept programs use their own working memory: so does the object. */
	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);
		struct ps_adopt_map *am;
		int err;

		if (bpf_map__is_internal(m) || bpf_map__pin_path(m))
			continue;	/* constants; pinned maps: ps_adopt_reuse() */
		am = find_map(a, name);
		if (!am) {
			pr_info("penstockd: its programs are loaded again: %s is not among "
				"their maps\n", name);
			return 0;
		}
		err = bpf_map__reuse_fd(m, am->fd);
		if (err) {
			pr_warn("penstockd: cannot take over %s (map %u): %s\n", name,
				am->info.id, strerror(-err));
			return err;
		}
	}
	pr_info("penstockd: its programs (ids %u, %u) are this build's with the same constants: "
		"kept, not loaded again\n", a->prog_id[PS_PROG_INGRESS], a->prog_id[PS_PROG_EGRESS]);
	for (i = 0; i < PS_NPROGS; i++) {
		if (!a->prog_id[i])
			continue;
		ps_dp_keep_prog(dp, i, a->prog_fd[i]);
		a->prog_id[i] = 0;
	}
	return 1;
}

int ps_adopt_read_counts(struct ps_adopt *a, struct ps_ctable *t, uint32_t now,
			 int64_t boot_to_wall)
{
	struct ps_adopt_map *am = find_map(a, PS_MAP_CLIENT_CTRS);
	uint32_t slot;
	char *buf;
	int n = 0;

	if (!a->ctrs_readable || !am)
		return 0;
	buf = malloc(am->info.value_size);
	if (!buf)
		return -ENOMEM;
	for (slot = 0; slot < am->info.max_entries; slot++) {
		struct ps_client_key key = {};
		struct ps_counters c;
		struct ps_tokens tok = {};
		int f;

		if (bpf_map_lookup_elem(am->fd, &slot, buf))
			continue;
		memcpy(&key, buf + a->ctr_key_off, sizeof(key));
		if (key.family != PS_AF_INET && key.family != PS_AF_INET6 &&
		    key.family != PS_AF_KEY)
			continue;	/* a free slot */
		memset(key.pad, 0, sizeof(key.pad));
		memcpy(&c, buf + a->ctr_c_off, sizeof(c));
		for (f = 0; f < PS_NTOKFIELDS; f++)
			if (a->ctr_tok_off[f])
				memcpy(&tok.v[f], buf + a->ctr_tok_off[f], sizeof(tok.v[f]));
		if (ps_ctable_update(t, &key, &c, &tok, now, boot_to_wall)) {
			free(buf);
			return -ENOMEM;
		}
		n++;
	}
	free(buf);
	return n;
}

int ps_adopt_copy_entries(struct ps_adopt *a, struct ps_datapath *dp)
{
	struct ps_adopt_map *am = find_map(a, PS_MAP_ENFORCE);
	struct ps_lpm_key *keys = NULL;
	int n, i, copied = 0;

	if (!a->enforce_readable || !am)
		return 0;
	n = ps_enf_keys(am->fd, &keys);
	for (i = 0; i < n; i++) {
		struct ps_enforcement e, cur;
		struct ps_prefix p;

		if (bpf_map_lookup_elem(am->fd, &keys[i], &e))
			continue;
		ps_prefix_of_key(&p, &keys[i]);
		if (!ps_enf_get(dp, &p, &cur))
			continue;	/* restored from the state directory */
		if (!ps_enf_set(dp, &p, &e))
			copied++;
	}
	free(keys);
	return n < 0 ? n : copied;
}

void ps_adopt_close(struct ps_adopt *a)
{
	int i;

	for (i = 0; i < a->nmaps; i++)
		close(a->maps[i].fd);
	for (i = 0; i < PS_NPROGS; i++)
		if (a->prog_id[i])
			close(a->prog_fd[i]);
	btf__free(a->btf);
	memset(a, 0, sizeof(*a));
}
