// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/caps.h"

static bool kept(cap_value_t c, const cap_value_t *keep, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (keep[i] == c)
			return true;
	return false;
}

int ps_caps_limit(const cap_value_t *keep, int n, char *err, size_t errlen)
{
	cap_value_t have[64];
	cap_flag_value_t v;
	cap_t cur, next = NULL;
	int i, nhave = 0, ret = 0;
	cap_value_t c;

	cur = cap_get_proc();
	if (!cur) {
		ret = -errno;
		snprintf(err, errlen, "cannot read this thread's capabilities: %s", strerror(errno));
		return ret;
	}
	for (i = 0; i < n && nhave < (int)(sizeof(have) / sizeof(have[0])); i++)
		if (!cap_get_flag(cur, keep[i], CAP_PERMITTED, &v) && v == CAP_SET)
			have[nhave++] = keep[i];
	/* The bounding set first: cutting it takes CAP_SETPCAP, about to go. */
	if (!cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &v) && v == CAP_SET) {
		for (c = 0; c < (cap_value_t)cap_max_bits() && !ret; c++)
			if (!kept(c, have, nhave) && cap_drop_bound(c)) {
				ret = -errno;
				snprintf(err, errlen, "cannot drop capability %d from the bounding set: %s",
					 c, strerror(errno));
			}
	}
	if (!ret && CAP_AMBIENT_SUPPORTED() && cap_reset_ambient()) {
		ret = -errno;
		snprintf(err, errlen, "cannot clear the ambient capabilities: %s", strerror(errno));
	}
	next = cap_init();	/* every set empty */
	if (!ret && (!next ||
		     (nhave && (cap_set_flag(next, CAP_PERMITTED, nhave, have, CAP_SET) ||
				cap_set_flag(next, CAP_EFFECTIVE, nhave, have, CAP_SET))) ||
		     cap_set_proc(next))) {
		ret = -errno;
		snprintf(err, errlen, "cannot set the capabilities: %s", strerror(errno));
	}
	if (!ret && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
	}
	cap_free(next);
	cap_free(cur);
	return ret;
}

int ps_caps_try(const cap_value_t *eff, int n, int (*op)(void *ctx), void *ctx)
{
	cap_t was = cap_get_proc(), cut = NULL;
	cap_flag_value_t v;
	int i, r;

	if (!was)
		return -errno;
	cut = cap_dup(was);
	r = cut && !cap_clear_flag(cut, CAP_EFFECTIVE) ? 0 : -ENOMEM;
	for (i = 0; i < n && !r; i++)
		if (!cap_get_flag(was, eff[i], CAP_PERMITTED, &v) && v == CAP_SET &&
		    cap_set_flag(cut, CAP_EFFECTIVE, 1, &eff[i], CAP_SET))
			r = -errno;
	if (!r && cap_set_proc(cut))
		r = -errno;
	if (!r) {
		r = op(ctx);
		if (cap_set_proc(was))
			r = -errno;
	}
	cap_free(cut);
	cap_free(was);
	return r;
}

const char *ps_caps_effective(char *buf, size_t len)
{
	cap_t cur = cap_get_proc();
	cap_flag_value_t v;
	size_t off = 0;
	cap_value_t c;

	buf[0] = 0;
	for (c = 0; cur && c < (cap_value_t)cap_max_bits() && off < len; c++) {
		char *name;

		if (cap_get_flag(cur, c, CAP_EFFECTIVE, &v) || v != CAP_SET)
			continue;
		name = cap_to_name(c);
		off += snprintf(buf + off, len - off, "%s%s", off ? "," : "", name ? name : "?");
		cap_free(name);
	}
	cap_free(cur);
	return buf;
}
