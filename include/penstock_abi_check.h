/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The layout of every struct of penstock_abi.h, and the numbers of its
 * codes, checked at compile time: a size, every field's offset, and every
 * code's value. Pinned maps outlive the programs that created them, so a
 * field that moves or a code that is renumbered is a break, never a
 * detail: changing the ABI means changing this file in the same commit,
 * and only by appending. Offsets are contiguous: no struct has implicit
 * padding (the padding is explicit, pad fields).
 *
 * Included by user space (common/datapath.c), so that no binary builds
 * against a layout other than this one.
 */
#ifndef PENSTOCK_ABI_CHECK_H
#define PENSTOCK_ABI_CHECK_H

#include <stddef.h>

#include "penstock_abi.h"

#define PS_ABI_SIZE(s, n)	_Static_assert(sizeof(struct s) == (n), #s " size")
#define PS_ABI_AT(s, f, n)	_Static_assert(offsetof(struct s, f) == (n), #s "." #f " offset")
#define PS_ABI_CODE(c, n)	_Static_assert((c) == (n), #c " renumbered")

PS_ABI_SIZE(ps_addr, 16);
PS_ABI_AT(ps_addr, a, 0);

PS_ABI_SIZE(ps_client_key, 20);
PS_ABI_AT(ps_client_key, addr, 0);
PS_ABI_AT(ps_client_key, family, 16);
PS_ABI_AT(ps_client_key, pad, 17);

PS_ABI_SIZE(ps_counters, 88);
PS_ABI_AT(ps_counters, connections, 0);
PS_ABI_AT(ps_counters, requests, 8);
PS_ABI_AT(ps_counters, inference_requests, 16);
PS_ABI_AT(ps_counters, rx_packets, 24);
PS_ABI_AT(ps_counters, tx_packets, 32);
PS_ABI_AT(ps_counters, rx_bytes, 40);
PS_ABI_AT(ps_counters, tx_bytes, 48);
PS_ABI_AT(ps_counters, rx_payload, 56);
PS_ABI_AT(ps_counters, tx_payload, 64);
PS_ABI_AT(ps_counters, first_seen_ns, 72);
PS_ABI_AT(ps_counters, last_seen_ns, 80);

PS_ABI_SIZE(ps_client_slot, 8);
PS_ABI_AT(ps_client_slot, slot, 0);
PS_ABI_AT(ps_client_slot, gen, 4);

PS_ABI_SIZE(ps_client_ctr, 272);
PS_ABI_AT(ps_client_ctr, c, 0);
PS_ABI_AT(ps_client_ctr, key, 88);
PS_ABI_AT(ps_client_ctr, gen, 108);
PS_ABI_AT(ps_client_ctr, gcra_tat, 112);
PS_ABI_AT(ps_client_ctr, throttled_requests, 120);
PS_ABI_AT(ps_client_ctr, would_throttle, 128);
PS_ABI_AT(ps_client_ctr, blocked_packets, 136);
PS_ABI_AT(ps_client_ctr, would_block, 144);
PS_ABI_AT(ps_client_ctr, retired, 152);
PS_ABI_AT(ps_client_ctr, pad, 153);
PS_ABI_AT(ps_client_ctr, open_connections, 156);
PS_ABI_AT(ps_client_ctr, refused_connections, 160);
PS_ABI_AT(ps_client_ctr, would_refuse, 168);
PS_ABI_AT(ps_client_ctr, dropped_fragments, 176);
PS_ABI_AT(ps_client_ctr, would_drop_fragments, 184);
PS_ABI_AT(ps_client_ctr, tx_events, 192);
PS_ABI_AT(ps_client_ctr, tx_tokens, 200);
PS_ABI_AT(ps_client_ctr, rx_tokens, 208);
PS_ABI_AT(ps_client_ctr, tx_tokens_estimated, 216);
PS_ABI_AT(ps_client_ctr, tpm_tat, 224);
PS_ABI_AT(ps_client_ctr, tpd_tat, 232);
PS_ABI_AT(ps_client_ctr, token_held, 240);
PS_ABI_AT(ps_client_ctr, token_would_throttle, 248);
PS_ABI_AT(ps_client_ctr, rx_messages, 256);
PS_ABI_AT(ps_client_ctr, tx_messages, 264);

PS_ABI_SIZE(ps_ep_ctr, 64);
PS_ABI_AT(ps_ep_ctr, connections, 0);
PS_ABI_AT(ps_ep_ctr, requests, 8);
PS_ABI_AT(ps_ep_ctr, inference_requests, 16);
PS_ABI_AT(ps_ep_ctr, rx_packets, 24);
PS_ABI_AT(ps_ep_ctr, tx_packets, 32);
PS_ABI_AT(ps_ep_ctr, rx_bytes, 40);
PS_ABI_AT(ps_ep_ctr, tx_bytes, 48);
PS_ABI_AT(ps_ep_ctr, throttled_requests, 56);

PS_ABI_SIZE(ps_class, 64);
PS_ABI_AT(ps_class, emission_ns, 0);
PS_ABI_AT(ps_class, tolerance_ns, 8);
PS_ABI_AT(ps_class, max_connections, 16);
PS_ABI_AT(ps_class, dry_run, 20);
PS_ABI_AT(ps_class, pad, 21);
PS_ABI_AT(ps_class, tpm_emission, 24);
PS_ABI_AT(ps_class, tpm_tolerance_ns, 32);
PS_ABI_AT(ps_class, tpd_emission, 40);
PS_ABI_AT(ps_class, tpd_tolerance_ns, 48);
PS_ABI_AT(ps_class, tok_reserve, 56);
PS_ABI_AT(ps_class, pad2, 60);
PS_ABI_CODE(PS_TOK_FRAC_BITS, 16);

PS_ABI_SIZE(ps_lpm_key, 24);
PS_ABI_AT(ps_lpm_key, prefixlen, 0);
PS_ABI_AT(ps_lpm_key, family, 4);
PS_ABI_AT(ps_lpm_key, addr, 5);
PS_ABI_AT(ps_lpm_key, pad, 21);

PS_ABI_SIZE(ps_class_ref, 4);
PS_ABI_AT(ps_class_ref, class_id, 0);

PS_ABI_SIZE(ps_enforcement, 112);
PS_ABI_AT(ps_enforcement, since_ns, 0);
PS_ABI_AT(ps_enforcement, until_ns, 8);
PS_ABI_AT(ps_enforcement, emission_ns, 16);
PS_ABI_AT(ps_enforcement, tolerance_ns, 24);
PS_ABI_AT(ps_enforcement, rate_bps, 32);
PS_ABI_AT(ps_enforcement, action, 40);
PS_ABI_AT(ps_enforcement, origin, 41);
PS_ABI_AT(ps_enforcement, dry_run, 42);
PS_ABI_AT(ps_enforcement, pad0, 43);
PS_ABI_AT(ps_enforcement, shape_class, 44);
PS_ABI_AT(ps_enforcement, pad, 46);
PS_ABI_AT(ps_enforcement, reason, 48);

PS_ABI_SIZE(ps_enforce_state, 8);
PS_ABI_AT(ps_enforce_state, entries, 0);
PS_ABI_AT(ps_enforce_state, classes, 4);

PS_ABI_SIZE(ps_slot_state, 8);
PS_ABI_AT(ps_slot_state, next, 0);
PS_ABI_AT(ps_slot_state, pad, 4);

PS_ABI_SIZE(ps_port, 4);
PS_ABI_AT(ps_port, endpoint, 0);

PS_ABI_SIZE(ps_endpoint, 8 + PS_MAX_PATHS * (1 + PS_PATH_MAX) + PS_MAX_PATHS * (2 + PS_PATH_MAX));
PS_ABI_AT(ps_endpoint, port, 0);
PS_ABI_AT(ps_endpoint, npaths, 2);
PS_ABI_AT(ps_endpoint, flags, 3);
PS_ABI_AT(ps_endpoint, pad, 4);

PS_ABI_SIZE(ps_trusted, 4);

PS_ABI_SIZE(ps_who, 64);
PS_ABI_AT(ps_who, addr, 0);
PS_ABI_AT(ps_who, family, 16);
PS_ABI_AT(ps_who, proxy, 17);
PS_ABI_AT(ps_who, open, 18);
PS_ABI_AT(ps_who, held, 19);
PS_ABI_AT(ps_who, hdr_end, 20);
PS_ABI_AT(ps_who, pend_rx_packets, 24);
PS_ABI_AT(ps_who, pend_tx_packets, 28);
PS_ABI_AT(ps_who, pend_rx_bytes, 32);
PS_ABI_AT(ps_who, pend_tx_bytes, 40);
PS_ABI_AT(ps_who, pend_rx_payload, 48);
PS_ABI_AT(ps_who, pend_tx_payload, 56);
PS_ABI_CODE(PS_PROXY_NONE, 0);
PS_ABI_CODE(PS_PROXY_WAIT, 1);
PS_ABI_CODE(PS_PROXY_DONE, 2);
PS_ABI_CODE(PS_EP_PROXY_PROTOCOL, 0x01);
PS_ABI_CODE(PS_EP_XFF, 0x02);
PS_ABI_CODE(PS_EP_FORWARDED, 0x04);
PS_ABI_CODE(PS_EP_API_KEY, 0x08);
PS_ABI_CODE(PS_AF_KEY, 75);

PS_ABI_SIZE(ps_keyh, 56);
PS_ABI_AT(ps_keyh, v, 0);
PS_ABI_AT(ps_keyh, m, 32);
PS_ABI_AT(ps_keyh, id, 40);
PS_ABI_AT(ps_keyh, len, 48);
PS_ABI_AT(ps_keyh, kind, 52);
PS_ABI_AT(ps_keyh, cur, 53);
PS_ABI_AT(ps_keyh, flags, 54);
PS_ABI_CODE(PS_KEY_API_KEY, 1);
PS_ABI_CODE(PS_KEY_X_API_KEY, 2);
PS_ABI_CODE(PS_KEY_BEARER, 3);
PS_ABI_SIZE(ps_key_secret, 16);

PS_ABI_SIZE(ps_key_addr_key, 32);
PS_ABI_AT(ps_key_addr_key, id, 0);
PS_ABI_AT(ps_key_addr_key, addr, 8);
PS_ABI_AT(ps_key_addr_key, family, 24);
PS_ABI_AT(ps_key_addr_key, pad, 25);

PS_ABI_SIZE(ps_key_addr_val, 32);
PS_ABI_AT(ps_key_addr_val, requests, 0);
PS_ABI_AT(ps_key_addr_val, inference_requests, 8);
PS_ABI_AT(ps_key_addr_val, first_ns, 16);
PS_ABI_AT(ps_key_addr_val, last_ns, 24);

PS_ABI_SIZE(ps_fwd, 40);
PS_ABI_AT(ps_fwd, subj, 0);
PS_ABI_AT(ps_fwd, left, 16);
PS_ABI_AT(ps_fwd, subj_family, 32);
PS_ABI_AT(ps_fwd, left_family, 33);
PS_ABI_AT(ps_fwd, kind, 34);
PS_ABI_AT(ps_fwd, flags, 35);
PS_ABI_CODE(PS_FWD_NONE, 0);
PS_ABI_CODE(PS_FWD_ADDR, 1);
PS_ABI_CODE(PS_FWD_BAD, 2);
PS_ABI_AT(ps_endpoint, path_len, 8);
PS_ABI_AT(ps_endpoint, paths, 8 + PS_MAX_PATHS);
PS_ABI_AT(ps_endpoint, hpath_bits, 8 + PS_MAX_PATHS * (1 + PS_PATH_MAX));
PS_ABI_AT(ps_endpoint, hpaths, 8 + PS_MAX_PATHS * (3 + PS_PATH_MAX));
PS_ABI_SIZE(ps_h2g_slot, 12);
PS_ABI_SIZE(ps_h2_conn, 216 + 12 * PS_H2S_SLOTS + PS_HPACK_VAL + PS_HPACK_ENTRIES * 5);
PS_ABI_AT(ps_h2_conn, head, 32);
PS_ABI_AT(ps_h2_conn, inf_hi, 48);
PS_ABI_AT(ps_h2_conn, inf_bits, 56);
PS_ABI_AT(ps_h2_conn, grpc_bits, 64);
PS_ABI_AT(ps_h2_conn, g, 72);
PS_ABI_AT(ps_h2_conn, kid, 128);
PS_ABI_AT(ps_h2_conn, kpad, 144);
PS_ABI_AT(ps_h2_conn, hs, 208);
PS_ABI_AT(ps_h2_conn, val, 208 + 12 * PS_H2S_SLOTS);
PS_ABI_AT(ps_h2_conn, ent_size, 208 + 12 * PS_H2S_SLOTS + PS_HPACK_VAL);
PS_ABI_AT(ps_h2_conn, ftag, 208 + 12 * PS_H2S_SLOTS + PS_HPACK_VAL + PS_HPACK_ENTRIES * 5);
PS_ABI_SIZE(ps_h2_kept_key, 16);
PS_ABI_AT(ps_h2_kept_key, ino, 8);
PS_ABI_SIZE(ps_h2_kept, 32);
PS_ABI_AT(ps_h2_kept, kid, 16);
PS_ABI_AT(ps_h2_kept, family, 24);
PS_ABI_AT(ps_h2_kept, kind, 25);
PS_ABI_SIZE(ps_h2r_slot, sizeof(struct ps_resp) + 16 + PS_H2R_HOLD);
PS_ABI_AT(ps_h2r_slot, held, sizeof(struct ps_resp) + 11);
PS_ABI_AT(ps_h2r_slot, hold, sizeof(struct ps_resp) + 16);
PS_ABI_SIZE(ps_h2_resp, 48 + (sizeof(struct ps_resp) + 16 + PS_H2R_HOLD) * PS_H2R_SLOTS +
			 4 * PS_H2R_BEGUN);
PS_ABI_AT(ps_h2_resp, rr, 18);
PS_ABI_AT(ps_h2_resp, npaged, 20);
PS_ABI_AT(ps_h2_resp, hdr, 24);
PS_ABI_SIZE(ps_h2_stream_key, 16);
PS_ABI_AT(ps_h2_stream_key, sid, 8);
PS_ABI_SIZE(ps_h2_late, 16);
PS_ABI_AT(ps_h2_late, grpc, 8);
PS_ABI_AT(ps_h2_resp, s, 48);

PS_ABI_SIZE(ps_flow_key, 40);
PS_ABI_AT(ps_flow_key, client, 0);
PS_ABI_AT(ps_flow_key, server, 16);
PS_ABI_AT(ps_flow_key, cport, 32);
PS_ABI_AT(ps_flow_key, sport, 34);
PS_ABI_AT(ps_flow_key, family, 36);
PS_ABI_AT(ps_flow_key, pad, 37);

PS_ABI_SIZE(ps_range, 8);
PS_ABI_AT(ps_range, start, 0);
PS_ABI_AT(ps_range, end, 4);

PS_ABI_SIZE(ps_seq, 48);
PS_ABI_AT(ps_seq, isn, 0);
PS_ABI_AT(ps_seq, next, 4);
PS_ABI_AT(ps_seq, valid, 8);
PS_ABI_AT(ps_seq, syn_seen, 9);
PS_ABI_AT(ps_seq, fin_seen, 10);
PS_ABI_AT(ps_seq, nranges, 11);
PS_ABI_AT(ps_seq, open, 12);
PS_ABI_AT(ps_seq, pieces, 13);
PS_ABI_AT(ps_seq, pad, 14);
PS_ABI_AT(ps_seq, ranges, 16);

PS_ABI_SIZE(ps_http, 32 + PS_LINE_CARRY);
PS_ABI_AT(ps_http, state, 0);
PS_ABI_AT(ps_http, tunnel, 1);
PS_ABI_AT(ps_http, carry_len, 2);
PS_ABI_AT(ps_http, flags, 4);
PS_ABI_AT(ps_http, body_left, 8);
PS_ABI_AT(ps_http, clen, 16);
PS_ABI_AT(ps_http, refill_seq, 24);
PS_ABI_AT(ps_http, refill_state, 28);
PS_ABI_AT(ps_http, pad2, 29);
PS_ABI_AT(ps_http, carry, 32);

PS_ABI_SIZE(ps_rq_subj, 8);
PS_ABI_AT(ps_rq_subj, slot, 0);
PS_ABI_AT(ps_rq_subj, gen, 4);
PS_ABI_SIZE(ps_rq_late_key, 48);
PS_ABI_AT(ps_rq_late_key, isn, 40);
PS_ABI_AT(ps_rq_late_key, idx, 44);

PS_ABI_SIZE(ps_rq_queue, 32 + 8 * PS_RQ_SUBJ);
PS_ABI_AT(ps_rq_queue, bits, 0);
PS_ABI_AT(ps_rq_queue, n, 8);
PS_ABI_AT(ps_rq_queue, named, 12);
PS_ABI_AT(ps_rq_queue, subj, 16);
PS_ABI_AT(ps_rq_queue, b_slot, 16 + 8 * PS_RQ_SUBJ);
PS_ABI_AT(ps_rq_queue, b_gen, 20 + 8 * PS_RQ_SUBJ);
PS_ABI_AT(ps_rq_queue, b_pend, 24 + 8 * PS_RQ_SUBJ);
PS_ABI_AT(ps_rq_queue, b_state, 28 + 8 * PS_RQ_SUBJ);

PS_ABI_SIZE(ps_resp, 56);
PS_ABI_AT(ps_resp, left, 0);
PS_ABI_AT(ps_resp, n, 8);
PS_ABI_AT(ps_resp, code, 12);
PS_ABI_AT(ps_resp, state, 14);
PS_ABI_AT(ps_resp, flags, 15);
PS_ABI_AT(ps_resp, hdr, 16);
PS_ABI_AT(ps_resp, idx, 17);
PS_ABI_AT(ps_resp, sse, 18);
PS_ABI_AT(ps_resp, vmask, 19);
PS_ABI_AT(ps_resp, tk_idx, 20);
PS_ABI_AT(ps_resp, tk_key, 21);
PS_ABI_AT(ps_resp, tk_phase, 22);
PS_ABI_AT(ps_resp, tk_val, 24);
PS_ABI_AT(ps_resp, tx_seen, 28);
PS_ABI_AT(ps_resp, rx_seen, 32);
PS_ABI_AT(ps_resp, ev, 36);
PS_ABI_AT(ps_resp, sslot, 40);
PS_ABI_AT(ps_resp, sgen, 44);
PS_ABI_AT(ps_resp, dbt, 48);

PS_ABI_SIZE(ps_flow, 96 + sizeof(struct ps_http) + 48 + sizeof(struct ps_who) +
		     sizeof(struct ps_fwd) + sizeof(struct ps_keyh) +
		     sizeof(struct ps_rq_queue) + sizeof(struct ps_resp));
PS_ABI_AT(ps_flow, dir, 0);
PS_ABI_AT(ps_flow, http, 96);
PS_ABI_AT(ps_flow, last_seen_ns, 96 + sizeof(struct ps_http));
PS_ABI_AT(ps_flow, endpoint, 96 + sizeof(struct ps_http) + 8);
PS_ABI_AT(ps_flow, client_slot, 96 + sizeof(struct ps_http) + 12);
PS_ABI_AT(ps_flow, client_gen, 96 + sizeof(struct ps_http) + 16);
PS_ABI_AT(ps_flow, throttled_seq, 96 + sizeof(struct ps_http) + 20);
PS_ABI_AT(ps_flow, paid, 96 + sizeof(struct ps_http) + 24);
PS_ABI_AT(ps_flow, acked_valid, 96 + sizeof(struct ps_http) + 29);
PS_ABI_AT(ps_flow, rx_acked, 96 + sizeof(struct ps_http) + 32);
PS_ABI_AT(ps_flow, busy_ns, 96 + sizeof(struct ps_http) + 40);
PS_ABI_AT(ps_flow, who, 96 + sizeof(struct ps_http) + 48);
PS_ABI_AT(ps_flow, fwd, 96 + sizeof(struct ps_http) + 48 + sizeof(struct ps_who));
PS_ABI_AT(ps_flow, key, 96 + sizeof(struct ps_http) + 48 + sizeof(struct ps_who) +
	  sizeof(struct ps_fwd));
PS_ABI_AT(ps_flow, rq, 96 + sizeof(struct ps_http) + 48 + sizeof(struct ps_who) +
	  sizeof(struct ps_fwd) + sizeof(struct ps_keyh));
PS_ABI_AT(ps_flow, resp, 96 + sizeof(struct ps_http) + 48 + sizeof(struct ps_who) +
	  sizeof(struct ps_fwd) + sizeof(struct ps_keyh) + sizeof(struct ps_rq_queue));

PS_ABI_SIZE(ps_ooo_key, 48);
PS_ABI_AT(ps_ooo_key, flow, 0);
PS_ABI_AT(ps_ooo_key, seq, 40);
PS_ABI_AT(ps_ooo_key, pad, 44);

PS_ABI_SIZE(ps_ooo_seg, 8 + PS_OOO_SEG_MAX);
PS_ABI_AT(ps_ooo_seg, len, 0);
PS_ABI_AT(ps_ooo_seg, stashed_s, 4);
PS_ABI_AT(ps_ooo_seg, data, 8);

/* The tick maps ps_client_ctrs 65536 slots at a time: whole pages. */
_Static_assert(65536 * sizeof(struct ps_client_ctr) % 4096 == 0,
	       "a tick's chunk of slots is whole pages");

/* The version: raised with a note here on what changed its meaning. */
PS_ABI_CODE(PS_ABI_VERSION, 1);

/* Codes: append-only. */
PS_ABI_CODE(PS_AF_INET, 4);
PS_ABI_CODE(PS_AF_INET6, 6);
PS_ABI_CODE(PS_DIR_RX, 0);
PS_ABI_CODE(PS_DIR_TX, 1);
PS_ABI_CODE(PS_CLASS_DEFAULT, 0);

PS_ABI_CODE(PS_ACT_NONE, 0);
PS_ABI_CODE(PS_ACT_BLOCK, 1);
PS_ABI_CODE(PS_ACT_THROTTLE, 2);
PS_ABI_CODE(PS_ACT_SHAPE, 3);

PS_ABI_CODE(PS_ORIGIN_MANUAL, 1);
PS_ABI_CODE(PS_ORIGIN_DAY_LIMIT, 2);
PS_ABI_CODE(PS_ORIGIN_DETECTOR, 3);
PS_ABI_CODE(PS_ORIGIN_MINUTE_LIMIT, 4);

PS_ABI_CODE(PS_H1_START, 0);
PS_ABI_CODE(PS_H1_REQLINE, 1);
PS_ABI_CODE(PS_H1_HEADERS, 2);
PS_ABI_CODE(PS_H1_HDRLINE, 3);
PS_ABI_CODE(PS_H1_BODY, 4);
PS_ABI_CODE(PS_H1_CHUNK_SIZE, 5);
PS_ABI_CODE(PS_H1_CHUNK_DATA, 6);
PS_ABI_CODE(PS_H1_CHUNK_CRLF, 7);
PS_ABI_CODE(PS_H1_TRAILERS, 8);
PS_ABI_CODE(PS_H1_SKIP_SEGMENT, 9);
PS_ABI_CODE(PS_H1_DEAD, 10);
PS_ABI_CODE(PS_H1_REFILL, 11);
PS_ABI_CODE(PS_H1_HUNT, 16);
PS_ABI_CODE(PS_H2_GDATA, 17);

PS_ABI_CODE(PS_H1F_REQUEST, 0x01);
PS_ABI_CODE(PS_H1F_INFERENCE, 0x02);
PS_ABI_CODE(PS_H1F_CHUNKED, 0x04);
PS_ABI_CODE(PS_H1F_CLEN, 0x08);
PS_ABI_CODE(PS_H1F_RESPONSE, 0x20);
PS_ABI_CODE(PS_H1F_TE, 0x40);
PS_ABI_CODE(PS_H1F_COUNTED, 0x80);
PS_ABI_CODE(PS_H1F_NOCOLON, 0x100);
PS_ABI_CODE(PS_H1F_SPANNED, 0x200);
PS_ABI_CODE(PS_H1F_CRLF_SKIPPED, 0x400);
PS_ABI_CODE(PS_H1F_UPGRADE, 0x800);
PS_ABI_CODE(PS_H1F_CONNECT, 0x1000);
PS_ABI_CODE(PS_H1F_LASTCHUNK, 0x2000);
PS_ABI_CODE(PS_H1F_PREV_TE, 0x4000);
PS_ABI_CODE(PS_H1F_PREV_CL, 0x8000);

PS_ABI_CODE(PS_TUNNEL_NONE, 0);
PS_ABI_CODE(PS_TUNNEL_CONNECT, 1);
PS_ABI_CODE(PS_TUNNEL_UPGRADE, 2);

PS_ABI_CODE(PS_STAT_PACKETS, 0);
PS_ABI_CODE(PS_STAT_ENDPOINT_PACKETS, 1);
PS_ABI_CODE(PS_STAT_NOT_PARSED, 2);
PS_ABI_CODE(PS_STAT_FLOW_FULL, 3);
PS_ABI_CODE(PS_STAT_CLIENT_FULL, 4);
PS_ABI_CODE(PS_STAT_OOO_STASHED, 5);
PS_ABI_CODE(PS_STAT_OOO_DROPPED, 6);
PS_ABI_CODE(PS_STAT_PARSE_LIMIT, 7);
PS_ABI_CODE(PS_STAT_BLOCKED, 8);
PS_ABI_CODE(PS_STAT_WOULD_BLOCK, 9);
PS_ABI_CODE(PS_STAT_THROTTLED, 10);
PS_ABI_CODE(PS_STAT_WOULD_THROTTLE, 11);
PS_ABI_CODE(PS_STAT_RESYNC, 12);
PS_ABI_CODE(PS_STAT_FRAGMENTS, 13);
PS_ABI_CODE(PS_STAT_FRAG_DROPPED, 14);
PS_ABI_CODE(PS_STAT_WOULD_DROP_FRAG, 15);
PS_ABI_CODE(PS_STAT_FLOW_BUSY, 16);
PS_ABI_CODE(PS_STAT_PROXY, 17);
PS_ABI_CODE(PS_STAT_PROXY_UNTRUSTED, 18);
PS_ABI_CODE(PS_STAT_PROXY_BAD, 19);
PS_ABI_CODE(PS_STAT_NO_SLOT_HELD, 20);
PS_ABI_CODE(PS_STAT_FORWARDED, 21);
PS_ABI_CODE(PS_STAT_FORWARDED_BAD, 22);
PS_ABI_CODE(PS_STAT_FORWARDED_UNTRUSTED, 23);
PS_ABI_CODE(PS_STAT_FORWARDED_FULL, 24);
PS_ABI_CODE(PS_STAT_KEYED, 25);
PS_ABI_CODE(PS_STAT_H2_UNCLASSIFIED, 26);
PS_ABI_CODE(PS_STAT_HUNTED, 27);
PS_ABI_CODE(PS_STAT_TOKEN_HELD, 28);
PS_ABI_CODE(PS_STAT_RESP_UNPAIRED, 29);
PS_ABI_CODE(PS_STAT_H2_RESP_LOST, 30);
PS_ABI_CODE(PS_STAT_H2_NO_SLOT, 31);
PS_ABI_CODE(PS_STAT_RESP_ENCODED, 32);
PS_ABI_CODE(PS_STAT_GRPC_NO_SLOT, 33);
PS_ABI_CODE(PS_STAT_H2_KEY_UNKNOWN, 34);
PS_ABI_CODE(PS_STAT_H2_FWD_INDEXED, 35);
PS_ABI_CODE(PS_STAT_H2_REFUSED, 36);
PS_ABI_CODE(PS_STAT_URGENT_DROPPED, 37);
PS_ABI_CODE(PS_STAT_MAX, 38);

#endif /* PENSTOCK_ABI_CHECK_H */
