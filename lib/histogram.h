/* SPDX-License-Identifier: MIT */
/*
 * A log-linear latency histogram (HdrHistogram's layout) with one writer and any number of
 * readers: the writer is a single worker thread, so recording is plain relaxed loads and
 * stores on memory no other thread writes (no RMW, no lock, no shared line); readers merge
 * the histograms of all workers into a snapshot.
 *
 * Buckets, for an observation v >= 0 (ns): bucket 0 holds v = 0; otherwise x = v - 1 and
 *   x < 128:                bucket 1 + x                  (exact: v itself)
 *   2^e <= x < 2^(e+1):     64 buckets of width 2^(e-6)   (e = 7 .. LFQ_HIST_MAX_EXP)
 * so each bucket is a range (lo, hi] of v, closed on the right like Prometheus' `le`, and the
 * bucket's hi overestimates any v in it by less than v/64 (1.6 %). Every power of two >= 128
 * is the hi of a bucket, so the Prometheus buckets at powers of two are exact sums. Values
 * above 2^(LFQ_HIST_MAX_EXP+1) ns (about 2.4 hours) land in the last bucket; max is exact.
 *
 * Labels: H1 writer: relaxed load + relaxed store of a bucket, sum, max (single writer, a
 *         statistic: readers need no ordering with anything else, and a torn total is
 *         impossible because each word is one atomic);
 *         H2 reader: relaxed loads, for the same reason (the snapshot may be stale).
 */
#ifndef LFQ_HISTOGRAM_H
#define LFQ_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define LFQ_HIST_LINEAR 128
#define LFQ_HIST_SUB 64
#define LFQ_HIST_MAX_EXP 42
#define LFQ_HIST_BUCKETS (1 + LFQ_HIST_LINEAR + (LFQ_HIST_MAX_EXP - 6) * LFQ_HIST_SUB)

struct lfq__hist {
	_Atomic uint64_t sum;
	_Atomic uint64_t max;
	_Atomic uint64_t bucket[LFQ_HIST_BUCKETS];
};

/* A merged, plain copy. */
struct lfq__hist_snap {
	uint64_t count, sum, max;
	uint64_t bucket[LFQ_HIST_BUCKETS];
};

/* Bucket of observation v. */
static inline unsigned lfq__hist_index(uint64_t v)
{
	if (v == 0)
		return 0;
	const uint64_t x = v - 1;

	if (x < LFQ_HIST_LINEAR)
		return 1 + (unsigned)x;
	unsigned e = 63u - (unsigned)__builtin_clzll(x);

	if (e > LFQ_HIST_MAX_EXP)
		return LFQ_HIST_BUCKETS - 1;
	const unsigned sub = (unsigned)(x >> (e - 6)) - LFQ_HIST_SUB;

	return 1 + LFQ_HIST_LINEAR + (e - 7) * LFQ_HIST_SUB + sub;
}

/* Largest v in bucket i (its `le`). */
uint64_t lfq__hist_upper(unsigned i);

/* Records v; only the histogram's owner thread may call it. */
static inline void lfq__hist_record(struct lfq__hist *h, uint64_t v)
{
	_Atomic uint64_t *b = &h->bucket[lfq__hist_index(v)];

	/* H1 (all three): single writer, see the table. */
	atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&h->sum, atomic_load_explicit(&h->sum, memory_order_relaxed) + v,
			      memory_order_relaxed);
	if (v > atomic_load_explicit(&h->max, memory_order_relaxed))
		atomic_store_explicit(&h->max, v, memory_order_relaxed);
}

void lfq__hist_init(struct lfq__hist *h);
/* Adds h into s (s zeroed first by the caller). */
void lfq__hist_merge(struct lfq__hist_snap *s, const struct lfq__hist *h);
/* Nearest-rank quantile num/den (e.g. 999/1000) of s, as its bucket's upper bound, capped at
 * max; 0 if s is empty. */
uint64_t lfq__hist_quantile(const struct lfq__hist_snap *s, uint64_t num, uint64_t den);
/* Observations <= v, for v = 0 or a power of two >= 1 (exact for those). */
uint64_t lfq__hist_count_le(const struct lfq__hist_snap *s, uint64_t v);

#endif /* LFQ_HISTOGRAM_H */
