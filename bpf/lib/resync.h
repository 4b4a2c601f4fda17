/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Resynchronisation of a connection's client stream. A client segment that
 * arrives beyond a hole the server has already acknowledged shows that the
 * hole's bytes reached the server without being read in order here (a
 * packet that took another way to the server, a capture that lost one):
 * they will never come again, and waiting for them would leave the
 * connection uncounted and unlimited for good. The stream moves on to the
 * acknowledged byte at once. Inside a body being skipped the framing holds
 * (the missing bytes were body); elsewhere it is lost. Live, the stream is
 * then hunted for good (http1.h, PS_H1_HUNT) as a connection seen from its
 * middle is; a replay starts again by tshark's rule for a stream whose
 * start it never saw: a segment that starts with a request line starts a
 * message, anything else is skipped to its end. The egress program keeps the server's highest
 * acknowledgment; in a capture it may come before the client bytes it
 * acknowledges, so it is only acted on once a hole is in play.
 */
#ifndef PS_BPF_RESYNC_H
#define PS_BPF_RESYNC_H

#include "common.h"
#include "maps.h"
#include "parse.h"

/* A server packet: remember how far it acknowledges the client stream. */
static __always_inline void ps_rx_acked(struct ps_flow *f, const struct ps_pkt *p)
{
	if ((p->tcpflags & (PS_TCP_ACK | PS_TCP_RST)) != PS_TCP_ACK)
		return;
	if (!f->acked_valid || seq_after(p->ack, f->rx_acked)) {
		f->rx_acked = p->ack;
		f->acked_valid = 1;
	}
}

/*
 * A client segment starting at seq: if it lies beyond a hole the server
 * has acknowledged (part of), move the stream on to the acknowledged
 * byte. What was held beyond the hole is left to the daemon to collect;
 * the server has it, and the stream catches up with it by further resyncs.
 */
static __always_inline void ps_rx_resync(struct ps_flow *f, __u32 seq)
{
	struct ps_seq *d = &f->dir[PS_DIR_RX];
	struct ps_http *h = &f->http;
	__u32 gap, ack = f->rx_acked;

	if (!f->acked_valid || !d->valid || !seq_after(seq, d->next) ||
	    !seq_after(ack, d->next))
		return;
	/* A capture's cut bytes are waited for where they were cut. */
	if (h->state == PS_H1_REFILL)
		return;
	ps_stat_inc(PS_STAT_RESYNC);
	gap = ack - d->next;
	d->nranges = 0;
	d->pieces = 0;
	d->next = ack;
	if ((h->state == PS_H1_BODY || h->state == PS_H1_CHUNK_DATA) && h->body_left >= gap) {
		h->body_left -= gap;
		return;
	}
	if (h->state == PS_H1_DEAD)
		return;
	h->carry_len = 0;
	h->flags = 0;
	/* Live, the stream's framing is not known again: hunted for good. */
	h->state = ps_replay ? PS_H1_START : PS_H1_HUNT;
}

#endif
