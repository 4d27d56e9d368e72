/* SPDX-License-Identifier: MIT */
/*
 * lfq_queue under MPMC stress with tiny segments (4 to 64 slots), so that segments are
 * linked, drained, retired through RCU and recycled thousands of times per run: every item
 * exactly once, per-producer FIFO, and (under ASan) no use of a freed segment. Also a
 * close/drain race across segment boundaries, and the call_rcu backlog, sampled while the
 * run goes on (printed: it is a measurement, not an assertion).
 */
#include <errno.h>
#include <stdio.h>
#include <urcu/urcu-memb.h>

#include <lfq/queue.h>

#include "queue_internal.h"
#include "stress_util.h"

struct run {
	struct lfq_queue *q;
	unsigned producers;
	size_t per_producer, total;
	_Atomic size_t popped, accepted;
	_Atomic bool stop_sampling;
	struct ledger ledger;
	bool close_midway;
	size_t limit; /* segments; producers then use push_wait with no deadline */
};

struct worker {
	struct run *run;
	unsigned id;
	pthread_t thread;
};

static void *producer(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	unsigned rnd = w->id * 2654435761u + 1;
	void *batch[16];

	for (size_t seq = 1; seq <= r->per_producer;) {
		/* With close_midway, the last quarter of each producer's items is pushed only
		 * after the close, so the close always lands in the middle of the traffic. */
		while (r->close_midway && seq > r->per_producer * 3 / 4 &&
		       !lfq_queue_is_closed(r->q))
			sched_yield();
		rnd = rnd * 1103515245u + 12345u;
		if (r->limit) {
			/* A lost wake-up under the limit hangs here (the test's timeout). */
			cr_assert_eq(lfq_queue_push_wait(r->q, STRESS_ITEM(w->id, seq), -1), 0);
			atomic_fetch_add_explicit(&r->accepted, 1, memory_order_relaxed);
			seq++;
			continue;
		}
		if (rnd & 0x10000) {
			int rc = lfq_queue_push(r->q, STRESS_ITEM(w->id, seq));

			if (rc == -EPIPE)
				break;
			cr_assert_eq(rc, 0);
			atomic_fetch_add_explicit(&r->accepted, 1, memory_order_relaxed);
			seq++;
			continue;
		}
		size_t n = 1 + (rnd >> 20) % 16;

		if (n > r->per_producer - seq + 1)
			n = r->per_producer - seq + 1;
		for (size_t i = 0; i < n; i++)
			batch[i] = STRESS_ITEM(w->id, seq + i);
		size_t k = lfq_queue_push_burst(r->q, batch, n);

		atomic_fetch_add_explicit(&r->accepted, k, memory_order_relaxed);
		seq += k;
		if (k < n) {
			cr_assert(lfq_queue_is_closed(r->q), "unbounded push_burst stopped short");
			break;
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	struct order_check order = {{0}};
	unsigned rnd = w->id * 40503u + 7, fails = 0;
	void *batch[16];

	for (;;) {
		size_t got;
		int rc = 0;

		rnd = rnd * 1103515245u + 12345u;
		if (r->close_midway) {
			rc = lfq_queue_pop_wait(r->q, &batch[0], -1);
			if (rc == -EPIPE)
				break;
			cr_assert_eq(rc, 0);
			got = 1;
		} else if (atomic_load_explicit(&r->popped, memory_order_relaxed) >= r->total) {
			break;
		} else if (rnd & 0x10000) {
			got = lfq_queue_pop(r->q, &batch[0]) == 0;
		} else {
			got = lfq_queue_pop_burst(r->q, batch, 1 + (rnd >> 20) % 16);
		}
		if (got == 0) {
			stress_backoff(&fails);
			continue;
		}
		for (size_t i = 0; i < got; i++) {
			ledger_record(&r->ledger, batch[i]);
			order_record(&order, batch[i]);
		}
		atomic_fetch_add_explicit(&r->popped, got, memory_order_relaxed);
	}
	return NULL;
}

static void *sampler(void *arg)
{
	struct run *r = arg;
	struct lfq__queue_stats st;
	size_t max_backlog = 0, max_segments = 0;
	struct timespec tick = {0, 1000000};

	while (!atomic_load(&r->stop_sampling)) {
		lfq__queue_stats(r->q, &st);
		if (st.retired - st.reclaimed > max_backlog)
			max_backlog = st.retired - st.reclaimed;
		if (st.segments > max_segments)
			max_segments = st.segments;
		nanosleep(&tick, NULL);
	}
	lfq__queue_stats(r->q, &st);
	printf("stress_queue: segment %zu: %zu segments retired, max linked %zu, max call_rcu "
	       "backlog %zu segments\n",
	       lfq_queue_segment_capacity(r->q), st.retired, max_segments, max_backlog);
	return NULL;
}

static void stress_limited(unsigned producers, unsigned consumers, size_t segment,
			   bool close_midway, size_t limit)
{
	struct run r = {.producers = producers, .close_midway = close_midway, .limit = limit};
	struct worker w[16];
	pthread_t samp;

	r.per_producer = stress_items(200000) / producers;
	r.total = r.per_producer * producers;
	cr_assert_eq(lfq_queue_create(&r.q, segment, 0), 0);
	if (limit)
		cr_assert_eq(lfq_queue_set_limit(r.q, limit), 0);
	ledger_init(&r.ledger, producers, r.per_producer);
	cr_assert_eq(pthread_create(&samp, NULL, sampler, &r), 0);
	for (unsigned i = 0; i < producers + consumers; i++) {
		w[i] = (struct worker){.run = &r, .id = i < producers ? i : i - producers};
		cr_assert_eq(pthread_create(&w[i].thread, NULL, i < producers ? producer : consumer,
					    &w[i]),
			     0);
	}
	if (close_midway) {
		while (atomic_load(&r.accepted) < r.total / 3)
			sched_yield();
		lfq_queue_close(r.q);
	}
	for (unsigned i = 0; i < producers + consumers; i++)
		pthread_join(w[i].thread, NULL);
	atomic_store(&r.stop_sampling, true);
	pthread_join(samp, NULL);

	size_t accepted = atomic_load(&r.accepted);

	cr_assert_eq(ledger_count(&r.ledger), accepted, "accepted %zu, delivered %zu", accepted,
		     ledger_count(&r.ledger));
	if (!close_midway)
		cr_assert_eq(accepted, r.total);
	else
		cr_assert_lt(accepted, r.total, "the close came after every push");
	void *it;

	cr_assert_eq(lfq_queue_pop(r.q, &it), close_midway ? -EPIPE : -EAGAIN);
	lfq__queue_quiesce(r.q);
	struct lfq__queue_stats st;

	lfq__queue_stats(r.q, &st);
	cr_assert_eq(st.reclaimed, st.retired, "a retired segment was never reclaimed");
	cr_assert_gt(st.retired, 100, "the run should churn through segments");
	ledger_free(&r.ledger);
	lfq_queue_destroy(r.q);
}

static void stress(unsigned producers, unsigned consumers, size_t segment, bool close_midway)
{
	stress_limited(producers, consumers, segment, close_midway, 0);
}

Test(stress_queue, tiny_segments_4p4c, .timeout = 300)
{
	stress(4, 4, 4, false);
	stress(4, 4, 16, false);
	stress(4, 4, 64, false);
}

Test(stress_queue, tiny_segments_8p2c, .timeout = 300)
{
	stress(8, 2, 4, false);
}

Test(stress_queue, tiny_segments_2p8c, .timeout = 300)
{
	stress(2, 8, 8, false);
}

Test(stress_queue, close_drain_race_across_segments, .timeout = 300)
{
	stress(4, 4, 4, true);
	stress(6, 2, 16, true);
}

Test(stress_queue, push_wait_under_a_segment_limit, .timeout = 300)
{
	/* Producers block on the limit all the time: every wake-up path (a segment retired, a
	 * segment linked) is exercised, and a lost one hangs a producer. */
	stress_limited(4, 4, 4, false, 2);
	stress_limited(6, 2, 2, false, 3);
	stress_limited(2, 6, 8, false, 2);
}
