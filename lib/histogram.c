/* SPDX-License-Identifier: MIT */
/*
 * Log-linear latency histograms: bucket bounds, merging and quantiles (layout and labels in
 * histogram.h).
 */
#include "histogram.h"

#include <string.h>

uint64_t lfq__hist_upper(unsigned i)
{
	if (i <= LFQ_HIST_LINEAR)
		return i; /* bucket 0: v = 0; bucket 1 + x: v = x + 1 */
	if (i >= LFQ_HIST_BUCKETS - 1)
		return UINT64_MAX;
	const unsigned j = i - 1 - LFQ_HIST_LINEAR;
	const unsigned e = 7 + j / LFQ_HIST_SUB;
	const uint64_t sub = j % LFQ_HIST_SUB;

	/* x in [(64 + sub) << (e - 6), (65 + sub) << (e - 6)), v = x + 1. */
	return (LFQ_HIST_SUB + sub + 1) << (e - 6);
}

void lfq__hist_init(struct lfq__hist *h)
{
	atomic_init(&h->sum, 0);
	atomic_init(&h->max, 0);
	for (unsigned i = 0; i < LFQ_HIST_BUCKETS; i++)
		atomic_init(&h->bucket[i], 0);
}

void lfq__hist_merge(struct lfq__hist_snap *s, const struct lfq__hist *h)
{
	struct lfq__hist *w = (struct lfq__hist *)h; /* atomic loads need non-const */
	/* H2: relaxed, a statistic. */
	const uint64_t max = atomic_load_explicit(&w->max, memory_order_relaxed);

	s->sum += atomic_load_explicit(&w->sum, memory_order_relaxed);
	if (max > s->max)
		s->max = max;
	for (unsigned i = 0; i < LFQ_HIST_BUCKETS; i++) {
		const uint64_t n =
			atomic_load_explicit(&w->bucket[i], memory_order_relaxed); /* H2 */

		s->bucket[i] += n;
		s->count += n;
	}
}

uint64_t lfq__hist_quantile(const struct lfq__hist_snap *s, uint64_t num, uint64_t den)
{
	if (s->count == 0)
		return 0;
	/* Nearest rank: the smallest value with at least ceil(count * num / den) at or below. */
	uint64_t rank = s->count / den * num + (s->count % den * num + den - 1) / den;
	uint64_t seen = 0;

	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < LFQ_HIST_BUCKETS; i++) {
		seen += s->bucket[i];
		if (seen >= rank) {
			const uint64_t hi = lfq__hist_upper(i);

			return hi < s->max ? hi : s->max;
		}
	}
	return s->max; /* counts read at different instants may not add up */
}

uint64_t lfq__hist_count_le(const struct lfq__hist_snap *s, uint64_t v)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < LFQ_HIST_BUCKETS && lfq__hist_upper(i) <= v; i++)
		n += s->bucket[i];
	return n;
}
