/* SPDX-License-Identifier: MIT */
/* lfq_ring, single thread: FIFO order, boundaries, wrap-around, bursts, bad input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include <lfq/ring.h>

#ifdef LFQ_TEST_SHARED_RING
#include "shm_util.h"
#endif

#define ITEM(v) ((void *)(uintptr_t)(v))

static struct lfq_ring *make(size_t cap)
{
	struct lfq_ring *r = NULL;

#ifdef LFQ_TEST_SHARED_RING
	/* The same suite over a shared ring in a memfd (tests/meson.build builds it twice). */
	r = shm_ring(cap);
#else
	cr_assert_eq(lfq_ring_create(&r, cap, 0), 0);
#endif
	cr_assert_not_null(r);
	return r;
}

/* Fills the ring to capacity, checks it reports full, then drains it in order. */
static void fill_and_drain(struct lfq_ring *r, size_t cap, uintptr_t base)
{
	void *out = NULL;

	for (size_t i = 0; i < cap; i++)
		cr_assert_eq(lfq_ring_push(r, ITEM(base + i)), 0, "push %zu of %zu", i, cap);
	cr_assert_eq(lfq_ring_size(r), cap);
	cr_assert_eq(lfq_ring_push(r, ITEM(1)), -EAGAIN, "ring of %zu accepted one more", cap);
	for (size_t i = 0; i < cap; i++) {
		cr_assert_eq(lfq_ring_pop(r, &out), 0);
		cr_assert_eq(out, ITEM(base + i), "FIFO order broken at %zu", i);
	}
	cr_assert_eq(lfq_ring_pop(r, &out), -EAGAIN);
	cr_assert_eq(lfq_ring_size(r), 0);
}

Test(ring, holds_exactly_its_capacity)
{
	const size_t caps[] = {1, 2, 3, 5, 7, 1000, 1024, 1025};

	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		struct lfq_ring *r = make(caps[k]);

		cr_assert_eq(lfq_ring_capacity(r), caps[k]);
		fill_and_drain(r, caps[k], 100);
		fill_and_drain(r, caps[k], 5000); /* again, after a full cycle */
		lfq_ring_destroy(r);
	}
}

Test(ring, pop_when_empty_returns_eagain_and_leaves_out_untouched)
{
	struct lfq_ring *r = make(4);
	void *out = ITEM(0xdead);

	cr_assert_eq(lfq_ring_pop(r, &out), -EAGAIN);
	cr_assert_eq(out, ITEM(0xdead));
	cr_assert_eq(lfq_ring_size(r), 0);
	lfq_ring_destroy(r);
}

Test(ring, null_and_any_pointer_value_are_items)
{
	struct lfq_ring *r = make(3);
	void *vals[] = {NULL, ITEM(UINTPTR_MAX), ITEM(1)};
	void *out = ITEM(7);

	for (int i = 0; i < 3; i++)
		cr_assert_eq(lfq_ring_push(r, vals[i]), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(lfq_ring_pop(r, &out), 0);
		cr_assert_eq(out, vals[i]);
	}
	lfq_ring_destroy(r);
}

Test(ring, many_wraparounds_keep_fifo_order)
{
	const size_t caps[] = {1, 2, 3, 1000, 1024};

	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		struct lfq_ring *r = make(caps[k]);
		uintptr_t next_in = 1, next_out = 1;
		void *out;

		/* Keep the ring partly full so that head and tail wrap many times over. */
		for (int round = 0; round < 20000; round++) {
			size_t in = (size_t)(round % 3) + 1;

			for (size_t i = 0; i < in && lfq_ring_push(r, ITEM(next_in)) == 0; i++)
				next_in++;
			size_t want = (size_t)((round + 1) % 3) + 1;

			for (size_t i = 0; i < want && lfq_ring_pop(r, &out) == 0; i++) {
				cr_assert_eq(out, ITEM(next_out), "cap %zu round %d", caps[k],
					     round);
				next_out++;
			}
			cr_assert_leq(lfq_ring_size(r), caps[k]);
			cr_assert_eq(lfq_ring_size(r), next_in - next_out);
		}
		while (lfq_ring_pop(r, &out) == 0)
			cr_assert_eq(out, ITEM(next_out++));
		cr_assert_eq(next_in, next_out);
		cr_assert_gt(next_out, 20000);
		lfq_ring_destroy(r);
	}
}

Test(ring, burst_into_nearly_full_ring_pushes_a_prefix)
{
	struct lfq_ring *r = make(5);
	void *in[8], *out[8] = {0};

	for (int i = 0; i < 8; i++)
		in[i] = ITEM(i + 1);
	cr_assert_eq(lfq_ring_push_burst(r, in, 3), 3);
	cr_assert_eq(lfq_ring_push_burst(r, in + 3, 5), 2, "only two slots were left");
	cr_assert_eq(lfq_ring_push_burst(r, in, 1), 0, "full");
	cr_assert_eq(lfq_ring_size(r), 5);
	cr_assert_eq(lfq_ring_pop_burst(r, out, 8), 5, "partial at empty");
	for (int i = 0; i < 5; i++)
		cr_assert_eq(out[i], in[i], "burst order at %d", i);
	cr_assert_eq(lfq_ring_pop_burst(r, out, 8), 0);
	cr_assert_eq(lfq_ring_push_burst(r, in, 0), 0);
	cr_assert_eq(lfq_ring_pop_burst(r, out, 0), 0);
	lfq_ring_destroy(r);
}

Test(ring, burst_pop_returns_fifo_order_across_wraps)
{
	struct lfq_ring *r = make(7);
	void *in[4], *out[4];
	uintptr_t next_in = 1, next_out = 1;

	for (int round = 0; round < 5000; round++) {
		for (int i = 0; i < 4; i++)
			in[i] = ITEM(next_in + (uintptr_t)i);
		next_in += lfq_ring_push_burst(r, in, 4);
		size_t got = lfq_ring_pop_burst(r, out, (size_t)(round % 4) + 1);

		for (size_t i = 0; i < got; i++)
			cr_assert_eq(out[i], ITEM(next_out++));
	}
	lfq_ring_destroy(r);
}

Test(ring, create_rejects_bad_arguments)
{
	struct lfq_ring *r = (struct lfq_ring *)ITEM(0x1234);

	cr_assert_eq(lfq_ring_create(NULL, 8, 0), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, 0, 0), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, LFQ_RING_CAPACITY_MAX + 1, 0), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, SIZE_MAX, 0), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, 8, 0x80000000u), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, 8, 4u), -EINVAL); /* 1 and 2 are LFQ_RING_SP, _SC */
	cr_assert_eq(r, (struct lfq_ring *)ITEM(0x1234), "out-pointer written on error");
}

Test(ring, destroy_accepts_null)
{
	lfq_ring_destroy(NULL);
}

/* Issue 13, item 5: NULL pointers are rejected in every build (a release build used to crash). */
Test(ring, null_arguments_are_rejected_in_every_build)
{
	struct lfq_ring *r;
	void *it = NULL;
	void *items[2] = {NULL, NULL};

	cr_assert_eq(lfq_ring_push(NULL, it), -EINVAL);
	cr_assert_eq(lfq_ring_pop(NULL, &it), -EINVAL);
	cr_assert_eq(lfq_ring_push_wait(NULL, it, 0), -EINVAL);
	cr_assert_eq(lfq_ring_pop_wait(NULL, &it, 0), -EINVAL);
	cr_assert_eq(lfq_ring_push_burst(NULL, items, 2), 0);
	cr_assert_eq(lfq_ring_pop_burst(NULL, items, 2), 0);
	lfq_ring_close(NULL);
	cr_assert_not(lfq_ring_is_closed(NULL));
	cr_assert_eq(lfq_ring_capacity(NULL), 0);
	cr_assert_eq(lfq_ring_size(NULL), 0);
	cr_assert_eq(lfq_ring_create(&r, 2, 0), 0);
	cr_assert_eq(lfq_ring_pop(r, NULL), -EINVAL);
	cr_assert_eq(lfq_ring_pop_wait(r, NULL, 0), -EINVAL);
	cr_assert_eq(lfq_ring_push_burst(r, NULL, 2), 0);
	cr_assert_eq(lfq_ring_pop_burst(r, NULL, 2), 0);
	cr_assert_eq(lfq_ring_size(r), 0, "a rejected call changed the ring");
	lfq_ring_destroy(r);
}
