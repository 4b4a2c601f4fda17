// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fleet's key layout and bucket arithmetic (keys.h): pure functions,
 * checked by tests/unit/fleet/test_fleet_keys.c.
 */
#include <stdio.h>
#include <string.h>

#include "fleet/keys.h"

void ps_fleet_buckets(uint64_t now_ms, uint32_t out[PS_FB_N])
{
	uint32_t m = now_ms / 60000;

	out[PS_FB_MIN] = m;
	out[PS_FB_MIN_PREV] = m - 1;
	out[PS_FB_DAY] = m / 1440;
	out[PS_FB_DAY_PREV] = m / 1440 - 1;
}

int ps_fleet_key_prefix(char *buf, size_t len, const char *fleet, const char *subject)
{
	int n = snprintf(buf, len, "ps:{%s|%s}:", fleet, subject);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

int ps_fleet_key_suffix(char *buf, size_t len, enum ps_fleet_slot s, uint32_t b)
{
	int n = snprintf(buf, len, "%c:%u", s == PS_FB_DAY || s == PS_FB_DAY_PREV ? 'd' : 'm', b);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

int ps_fleet_key(char *buf, size_t len, const char *fleet, const char *subject,
		 enum ps_fleet_slot s, uint32_t b)
{
	int p = ps_fleet_key_prefix(buf, len, fleet, subject), q;

	if (p < 0)
		return -1;
	q = ps_fleet_key_suffix(buf + p, len - p, s, b);
	return q < 0 ? -1 : p + q;
}

double ps_fleet_window(uint64_t cur, uint64_t prev, uint64_t now_ms, int day)
{
	double span = (day ? 1440.0 : 1.0) * 60000.0;
	double start = (double)(uint64_t)(now_ms / (uint64_t)span) * span;
	double frac = ((double)now_ms - start) / span;

	return (double)cur + (double)prev * (1.0 - frac);
}

uint64_t ps_fleet_local(const struct ps_ctable *t, const struct ps_crec *r, enum ps_fleet_slot s,
			uint32_t b, int v)
{
	int day = s == PS_FB_DAY || s == PS_FB_DAY_PREV;
	enum ps_window win = day ? PS_WIN_24H : PS_WIN_1M;
	uint32_t len = day ? 1440 : 1, cur = r->minute / len;
	int which;

	if (!r->minute)
		return 0;
	if (b == cur)
		which = 0;
	else if (b + 1 == cur)
		which = 1;
	else
		return 0;
	if (v == PS_FV_TOKENS)
		return ps_crec_bucket(t, r, win, which, PS_W_TX_TOKENS) +
		       ps_crec_bucket(t, r, win, which, PS_W_RX_TOKENS);
	return ps_crec_bucket(t, r, win, which, v == PS_FV_REQ ? PS_W_INFERENCE : PS_W_TX_BYTES);
}

uint16_t ps_fleet_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)(unsigned char)buf[i] << 8;
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)(crc << 1) ^ 0x1021 : (uint16_t)(crc << 1);
	}
	return crc;
}

uint16_t ps_fleet_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open) {
		close = memchr(open + 1, '}', len - (open + 1 - key));
		if (close && close > open + 1)
			return ps_fleet_crc16(open + 1, close - open - 1) & (PS_FLEET_SLOTS - 1);
	}
	return ps_fleet_crc16(key, len) & (PS_FLEET_SLOTS - 1);
}
