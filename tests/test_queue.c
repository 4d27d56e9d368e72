/* SPDX-License-Identifier: MIT */
/* lfq_queue, mostly single thread: FIFO across segments, limits, close, bursts, memory,
 * bad input, allocation failure, and threads that come and go (RCU registration). */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <urcu/urcu-memb.h>

#include <lfq/queue.h>

#include "queue_internal.h"
#include "testing.h"

#define ITEM(v) ((void *)(uintptr_t)(v))

static struct lfq_queue *make(size_t seg)
{
	struct lfq_queue *q = NULL;

	cr_assert_eq(lfq_queue_create(&q, seg, 0), 0);
	cr_assert_not_null(q);
	return q;
}

Test(queue, fifo_across_many_segments)
{
	const size_t segs[] = {1, 2, 3, 4, 64};

	for (size_t k = 0; k < sizeof(segs) / sizeof(segs[0]); k++) {
		struct lfq_queue *q = make(segs[k]);
		void *out;

		cr_assert_eq(lfq_queue_segment_capacity(q), segs[k]);
		for (uintptr_t i = 1; i <= 1000; i++)
			cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0);
		cr_assert_eq(lfq_queue_size(q), 1000);
		for (uintptr_t i = 1; i <= 1000; i++) {
			cr_assert_eq(lfq_queue_pop(q, &out), 0);
			cr_assert_eq(out, ITEM(i), "segment %zu: order broken at %zu", segs[k],
				     (size_t)i);
		}
		cr_assert_eq(lfq_queue_pop(q, &out), -EAGAIN);
		cr_assert_eq(lfq_queue_size(q), 0);
		lfq_queue_destroy(q);
	}
}

Test(queue, interleaved_push_pop_keeps_order)
{
	struct lfq_queue *q = make(4);
	uintptr_t in = 1, out_next = 1;
	void *out;

	for (int round = 0; round < 20000; round++) {
		for (int i = 0; i < round % 7; i++)
			cr_assert_eq(lfq_queue_push(q, ITEM(in++)), 0);
		for (int i = 0; i < (round + 3) % 7 && lfq_queue_pop(q, &out) == 0; i++)
			cr_assert_eq(out, ITEM(out_next++));
		cr_assert_eq(lfq_queue_size(q), in - out_next);
	}
	lfq_queue_destroy(q);
}

Test(queue, default_segment_capacity_and_bad_input)
{
	struct lfq_queue *q = (struct lfq_queue *)ITEM(0x99);

	cr_assert_eq(lfq_queue_create(NULL, 8, 0), -EINVAL);
	cr_assert_eq(lfq_queue_create(&q, LFQ_QUEUE_SEGMENT_MAX + 1, 0), -EINVAL);
	cr_assert_eq(lfq_queue_create(&q, 8, 1), -EINVAL);
	cr_assert_eq(q, (struct lfq_queue *)ITEM(0x99), "out-pointer written on error");
	q = make(0);
	cr_assert_eq(lfq_queue_segment_capacity(q), LFQ_QUEUE_SEGMENT_DEFAULT);
	cr_assert_eq(lfq_queue_set_limit(q, 1), -EINVAL);
	cr_assert_eq(lfq_queue_set_limit(q, 0), 0);
	lfq_queue_destroy(q);
	lfq_queue_destroy(NULL);
}

Test(queue, segment_limit_gives_backpressure)
{
	struct lfq_queue *q = make(4);
	void *out;
	uintptr_t i = 1;

	cr_assert_eq(lfq_queue_set_limit(q, 2), 0);
	while (lfq_queue_push(q, ITEM(i)) == 0)
		i++;
	cr_assert_eq(i - 1, 8, "two segments of 4 hold 8 items, got %zu", (size_t)(i - 1));
	cr_assert_eq(lfq_queue_push(q, ITEM(i)), -EAGAIN);
	cr_assert_eq(lfq_queue_push_wait(q, ITEM(i), 1000000), -ETIMEDOUT);
	void *batch[3] = {ITEM(100), ITEM(101), ITEM(102)};

	cr_assert_eq(lfq_queue_push_burst(q, batch, 3), 0);
	/* Draining the first segment retires it and makes room for a third. */
	for (uintptr_t k = 1; k <= 5; k++) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(k));
	}
	cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0);
	for (uintptr_t k = 6; k <= i; k++) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(k));
	}
	cr_assert_eq(lfq_queue_set_limit(q, 0), 0);
	for (uintptr_t k = 0; k < 100; k++)
		cr_assert_eq(lfq_queue_push(q, ITEM(k + 1)), 0, "unlimited again");
	lfq_queue_destroy(q);
}

struct popper {
	struct lfq_queue *q;
	int rc;
	void *item;
};

static void *pop_forever(void *arg)
{
	struct popper *p = arg;

	p->rc = lfq_queue_pop_wait(p->q, &p->item, -1);
	return NULL;
}

static void *push_forever(void *arg)
{
	struct popper *p = arg;

	p->rc = lfq_queue_push_wait(p->q, p->item, -1);
	return NULL;
}

Test(queue, waits_wake_on_push_pop_and_close)
{
	struct lfq_queue *q = make(2);
	struct popper c = {.q = q}, p = {.q = q, .item = ITEM(77)};
	pthread_t t;
	void *out;

	cr_assert_eq(pthread_create(&t, NULL, pop_forever, &c), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(5)), 0);
	pthread_join(t, NULL);
	cr_assert_eq(c.rc, 0);
	cr_assert_eq(c.item, ITEM(5));

	/* A producer blocked by the limit wakes when a segment is retired. */
	cr_assert_eq(lfq_queue_set_limit(q, 2), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(lfq_queue_push(q, ITEM(i + 10)), 0);
	cr_assert_eq(pthread_create(&t, NULL, push_forever, &p), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(lfq_queue_pop_wait(q, &out, -1), 0);
	pthread_join(t, NULL);
	cr_assert_eq(p.rc, 0);
	cr_assert_eq(lfq_queue_pop(q, &out), 0);
	cr_assert_eq(out, ITEM(77));

	/* Close wakes a sleeping consumer with EPIPE. */
	cr_assert_eq(pthread_create(&t, NULL, pop_forever, &c), 0);
	lfq_queue_close(q);
	pthread_join(t, NULL);
	cr_assert_eq(c.rc, -EPIPE);
	lfq_queue_destroy(q);
}

Test(queue, retiring_a_segment_wakes_every_push_waiter_it_makes_room_for)
{
	/* Two push_wait sleepers blocked by a limit of 2 segments of 2 slots. Retiring the
	 * first segment makes room for both (one links a segment, the other fills it): neither
	 * may sleep on (review finding: pops used to wake one sleeper and a link none). */
	struct lfq_queue *q = make(2);
	struct popper w[2] = {{.q = q, .item = ITEM(100)}, {.q = q, .item = ITEM(101)}};
	pthread_t t[2];
	void *out;

	cr_assert_eq(lfq_queue_set_limit(q, 2), 0);
	for (uintptr_t i = 1; i <= 4; i++)
		cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(5)), -EAGAIN);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, push_forever, &w[i]), 0);
	for (uintptr_t i = 1; i <= 3; i++) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	for (int i = 0; i < 2; i++) { /* a lost wake-up hangs here, and the timeout fails it */
		pthread_join(t[i], NULL);
		cr_assert_eq(w[i].rc, 0);
	}
	cr_assert_eq(lfq_queue_size(q), 3);
	lfq_queue_destroy(q);
}

Test(queue, close_drains_across_segment_boundaries)
{
	struct lfq_queue *q = make(3);
	void *batch[2] = {ITEM(1000), ITEM(1001)}, *out;

	for (uintptr_t i = 1; i <= 10; i++)
		cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0);
	cr_assert_not(lfq_queue_is_closed(q));
	lfq_queue_close(q);
	lfq_queue_close(q);
	cr_assert(lfq_queue_is_closed(q));
	cr_assert_eq(lfq_queue_push(q, ITEM(11)), -EPIPE);
	cr_assert_eq(lfq_queue_push_burst(q, batch, 2), 0);
	cr_assert_eq(lfq_queue_push_wait(q, ITEM(11), -1), -EPIPE);
	cr_assert_eq(lfq_queue_size(q), 10);
	for (uintptr_t i = 1; i <= 10; i++) {
		cr_assert_eq(i % 2 ? lfq_queue_pop(q, &out) : lfq_queue_pop_wait(q, &out, -1), 0);
		cr_assert_eq(out, ITEM(i));
	}
	cr_assert_eq(lfq_queue_pop(q, &out), -EPIPE);
	cr_assert_eq(lfq_queue_pop_wait(q, &out, -1), -EPIPE);
	cr_assert_eq(lfq_queue_pop_burst(q, batch, 2), 0);
	lfq_queue_destroy(q);
}

Test(queue, close_of_an_empty_queue)
{
	struct lfq_queue *q = make(3);
	void *out;

	lfq_queue_close(q);
	cr_assert_eq(lfq_queue_pop(q, &out), -EPIPE);
	cr_assert_eq(lfq_queue_push(q, ITEM(1)), -EPIPE);
	lfq_queue_destroy(q);
}

Test(queue, bursts_span_segments_in_order)
{
	struct lfq_queue *q = make(8);
	void *in[100], *out[100];

	for (int i = 0; i < 100; i++)
		in[i] = ITEM(i + 1);
	cr_assert_eq(lfq_queue_push_burst(q, in, 100), 100);
	cr_assert_eq(lfq_queue_pop_burst(q, out, 64), 64);
	cr_assert_eq(lfq_queue_pop_burst(q, out + 64, 64), 36);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(out[i], in[i], "order at %d", i);
	cr_assert_eq(lfq_queue_pop_burst(q, out, 4), 0);
	lfq_queue_destroy(q);
}

Test(queue, failed_segment_allocation_is_enomem_and_keeps_the_item)
{
	struct lfq_queue *q = make(2);
	void *out, *batch[3] = {ITEM(3), ITEM(4), ITEM(5)};

	cr_assert_eq(lfq_queue_push(q, ITEM(1)), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(2)), 0);
	atomic_store(&lfq__test_fail_alloc, 1);
	cr_assert_eq(lfq_queue_push(q, ITEM(3)), -ENOMEM);
	atomic_store(&lfq__test_fail_alloc, 1);
	cr_assert_eq(lfq_queue_push_burst(q, batch, 3), 0);
	cr_assert_eq(lfq_queue_push(q, ITEM(3)), 0, "allocation works again");
	for (uintptr_t i = 1; i <= 3; i++) {
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	cr_assert_eq(lfq_queue_pop(q, &out), -EAGAIN);
	lfq_queue_destroy(q);
}

Test(queue, memory_shrinks_back_to_the_cache_after_a_burst)
{
	struct lfq_queue *q = make(64);
	struct lfq__queue_stats st;
	const uintptr_t n = 1000000;
	void *out;

	for (uintptr_t i = 1; i <= n; i++)
		cr_assert_eq(lfq_queue_push(q, ITEM(i)), 0);
	lfq__queue_stats(q, &st);
	cr_assert_geq(st.segments, n / 64);
	for (uintptr_t i = 1; i <= n; i++)
		cr_assert_eq(lfq_queue_pop(q, &out), 0);
	lfq__queue_quiesce(q); /* every retired segment has been reclaimed */
	lfq__queue_stats(q, &st);
	cr_assert_eq(st.segments, 1, "only the current segment stays linked");
	cr_assert_geq(st.retired, n / 64 - 1);
	cr_assert_eq(st.reclaimed, st.retired);
	cr_assert_leq(st.cached, LFQ_QUEUE_CACHED_SEGMENTS, "the rest was freed");
	lfq_queue_destroy(q);
}

struct visitor {
	struct lfq_queue *q;
	uintptr_t base;
	bool self_registered;
};

static void *visit_and_exit(void *arg)
{
	struct visitor *v = arg;
	void *out;

	if (v->self_registered)
		urcu_memb_register_thread();
	for (uintptr_t i = 0; i < 50; i++)
		cr_assert_eq(lfq_queue_push(v->q, ITEM(v->base + i)), 0);
	for (uintptr_t i = 0; i < 50; i++)
		cr_assert_eq(lfq_queue_pop(v->q, &out), 0);
	if (v->self_registered)
		urcu_memb_unregister_thread();
	return NULL;
}

Test(queue, threads_that_come_and_go_are_registered_and_unregistered)
{
	struct lfq_queue *q = make(4);
	struct visitor v[8];
	pthread_t t[8];

	for (int round = 0; round < 25; round++) {
		for (int i = 0; i < 8; i++) {
			v[i] = (struct visitor){q, (uintptr_t)(round * 8 + i) * 100 + 1, i == 3};
			cr_assert_eq(pthread_create(&t[i], NULL, visit_and_exit, &v[i]), 0);
		}
		for (int i = 0; i < 8; i++)
			pthread_join(t[i], NULL);
	}
	/* A grace period must not wait for (or touch) any of the exited threads. */
	urcu_memb_synchronize_rcu();
	lfq__queue_quiesce(q);
	cr_assert_eq(lfq_queue_size(q), 0);
	lfq_queue_destroy(q);
}
