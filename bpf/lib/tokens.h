/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Token limits (tokens_per_minute, tokens_per_day): GCRA on the tokens a
 * client's answers report, prompt and completion tokens together, as
 * OpenAI counts its TPM. Each limit keeps a theoretical arrival time in
 * the client's slot (ps_client_ctr.tpm_tat, tpd_tat). The egress program
 * moves it on by tokens x emission as it counts the tokens (a TAT behind
 * now starts from now); the ingress program judges each inference
 * request at its start, before its own tokens are known: a client whose
 * TAT is more than the tolerance ahead of now is held back like one over
 * its request limit (ratelimit.h). So a client gets its budget, plus the
 * tokens of the requests in flight when it crossed it: one at a time, one
 * request's; side by side, all of theirs. A class's token_reserve closes
 * that: each request let in is charged that many tokens at once
 * (ps_tok_reserve()), and its answer's debit starts past them (ps_resp.dbt
 * starts at the reserve: ps_tok_reserve_at()), so that requests side by
 * side pass the limit only while their reserves fit in it.
 */
#ifndef PS_BPF_TOKENS_H
#define PS_BPF_TOKENS_H

#include "common.h"
#include "maps.h"
#include "counters.h"
#include "enforce.h"

/* A debit is never more than this (146 years of ns): no overflow. */
#define PS_TOK_SAT	(1ULL << 62)

/* tokens x emission (ns per token in 1/2^PS_TOK_FRAC_BITS ns), in ns. */
static __always_inline __u64 ps_tok_ns(__u64 tokens, __u64 em)
{
	__u64 ns = em >> PS_TOK_FRAC_BITS, frac = em & ((1ULL << PS_TOK_FRAC_BITS) - 1);

	if (ns && tokens > PS_TOK_SAT / ns)
		return PS_TOK_SAT;
	return tokens * ns + ((tokens * frac) >> PS_TOK_FRAC_BITS);
}

/* Move a TAT on by d ns from max(TAT, now): by compare-and-swap, as the
 * request limit does; every race lost (four CPUs at once on one client)
 * adds d to the TAT as it is, so that no token goes uncounted. */
static __always_inline void ps_tok_advance(__u64 *tat_p, __u64 d, __u64 now)
{
	__u64 tat, base, nt;
	int i;

	for (i = 0; i < 4; i++) {
		tat = READ_ONCE(*tat_p);
		base = tat > now ? tat : now;
		nt = base - now >= PS_TOK_SAT - d ? now + PS_TOK_SAT : base + d;
		if (__sync_val_compare_and_swap(tat_p, tat, nt) == tat)
			return;
	}
	__sync_fetch_and_add(tat_p, d);
}

/* The class of the client whose counters ctr are (its key copied off the map value). */
static __always_inline struct ps_class *ps_class_of_ctr(const struct ps_client_ctr *ctr)
{
	struct ps_client_key k;

	__builtin_memcpy(&k, &ctr->key, sizeof(k));
	return ps_class_for(k.family, &k.addr);
}

/*
 * The tokens counted to a client's slot (egress): its class's token
 * limits are debited. A global function, verified once.
 */
__weak __attribute__((noinline)) int ps_tok_debit(struct ps_client_ctr *ctr, __u32 tokens,
						  __u64 now)
{
	struct ps_class *cl;

	if (!ctr || !tokens)
		return 0;
	cl = ps_class_of_ctr(ctr);
	if (!cl)
		return 0;
	if (cl->tpm_emission)
		ps_tok_advance(&ctr->tpm_tat, ps_tok_ns(tokens, cl->tpm_emission), now);
	if (cl->tpd_emission)
		ps_tok_advance(&ctr->tpd_tat, ps_tok_ns(tokens, cl->tpd_emission), now);
	return 0;
}

/*
 * The token_reserve of the client in slot (while its gen is gen; 0: none):
 * what each of its inference requests was charged at its start, the first
 * tokens of its answer, which its debit starts past. A global function,
 * verified once.
 */
__weak __attribute__((noinline)) __u32 ps_tok_reserve_at(__u32 slot, __u32 gen)
{
	struct ps_client_ctr *ctr = gen ? ps_slot_ctr(slot) : NULL;
	struct ps_class *cl;

	if (!ctr || ctr->gen != gen)
		return 0;
	cl = ps_class_of_ctr(ctr);
	return cl ? cl->tok_reserve : 0;
}

/* A class's token limits, copied for the judge. */
struct ps_tok_lim {
	__u64 tpm_em, tpm_tau, tpd_em, tpd_tau;
};

/* The token limits of a class: 1 if it has any. */
static __always_inline int ps_tok_lim_of(const struct ps_class *cl, struct ps_tok_lim *tl)
{
	tl->tpm_em = cl->tpm_emission;
	tl->tpm_tau = cl->tpm_tolerance_ns;
	tl->tpd_em = cl->tpd_emission;
	tl->tpd_tau = cl->tpd_tolerance_ns;
	return tl->tpm_em || tl->tpd_em;
}

/* An inference request let in: its client is charged res tokens at once. */
static __always_inline void ps_tok_reserve(struct ps_client_ctr *ctr,
					   const struct ps_tok_lim *tl, __u32 res, __u64 now)
{
	if (tl->tpm_em)
		ps_tok_advance(&ctr->tpm_tat, ps_tok_ns(res, tl->tpm_em), now);
	if (tl->tpd_em)
		ps_tok_advance(&ctr->tpd_tat, ps_tok_ns(res, tl->tpd_em), now);
}

/* Is a client over one of its token limits at now? */
static __always_inline int ps_tok_over(const struct ps_client_ctr *ctr,
				       const struct ps_tok_lim *tl, __u64 now)
{
	__u64 tat;

	if (tl->tpm_em) {
		tat = READ_ONCE(ctr->tpm_tat);
		if (tat > now && tat - now > tl->tpm_tau)
			return 1;
	}
	if (tl->tpd_em) {
		tat = READ_ONCE(ctr->tpd_tat);
		if (tat > now && tat - now > tl->tpd_tau)
			return 1;
	}
	return 0;
}

#endif
