/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring's single-side modes (LFQ_RING_SP, LFQ_RING_SC) and the all-or-nothing bulk calls,
 * single thread: every call keeps its meaning in every mode (capacity, FIFO across laps,
 * bursts, size, close and drain), and the bulk calls move n items or none, on both backends.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include <lfq/ring.h>

#define ITEM(v) ((void *)(uintptr_t)(v))

static const unsigned modes[] = {LFQ_RING_FLAGS_NONE, LFQ_RING_SP, LFQ_RING_SC,
				 LFQ_RING_SP | LFQ_RING_SC};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static struct lfq_ring *make(size_t cap, unsigned flags)
{
	struct lfq_ring *r = NULL;

	cr_assert_eq(lfq_ring_create(&r, cap, flags), 0, "cap %zu flags %u", cap, flags);
	cr_assert_not_null(r);
	return r;
}

Test(ring_modes, every_mode_holds_exactly_its_capacity_in_fifo_order_across_laps)
{
	const size_t caps[] = {1, 2, 3, 5, 64, 1000, 1025};
	void *out;

	for (size_t m = 0; m < NMODES; m++) {
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
			const size_t cap = caps[k];
			struct lfq_ring *r = make(cap, modes[m]);
			uintptr_t in = 1, next = 1;

			for (int lap = 0; lap < 3; lap++) {
				for (size_t i = 0; i < cap; i++)
					cr_assert_eq(lfq_ring_push(r, ITEM(in++)), 0);
				cr_assert_eq(lfq_ring_size(r), cap);
				cr_assert_eq(lfq_ring_push(r, ITEM(0)), -EAGAIN, "mode %u cap %zu",
					     modes[m], cap);
				/* Half out, half in again: the positions wrap unevenly. */
				for (size_t i = 0; i < cap / 2 + 1; i++) {
					cr_assert_eq(lfq_ring_pop(r, &out), 0);
					cr_assert_eq(out, ITEM(next++), "mode %u cap %zu", modes[m],
						     cap);
				}
				for (size_t i = 0; i < cap / 2 + 1; i++)
					cr_assert_eq(lfq_ring_push(r, ITEM(in++)), 0);
				for (size_t i = 0; i < cap; i++) {
					cr_assert_eq(lfq_ring_pop(r, &out), 0);
					cr_assert_eq(out, ITEM(next++));
				}
				cr_assert_eq(lfq_ring_pop(r, &out), -EAGAIN);
				cr_assert_eq(lfq_ring_size(r), 0);
			}
			lfq_ring_destroy(r);
		}
	}
}

Test(ring_modes, every_mode_bursts_and_closes_and_drains)
{
	void *in[8], *out[8];

	for (size_t i = 0; i < 8; i++)
		in[i] = ITEM(i + 10);
	for (size_t m = 0; m < NMODES; m++) {
		struct lfq_ring *r = make(5, modes[m]);

		cr_assert_eq(lfq_ring_push_burst(r, in, 8), 5, "mode %u", modes[m]);
		cr_assert_eq(lfq_ring_pop_burst(r, out, 2), 2);
		cr_assert_eq(out[0], in[0]);
		cr_assert_eq(out[1], in[1]);
		cr_assert_eq(lfq_ring_push(r, ITEM(99)), 0);
		lfq_ring_close(r);
		cr_assert(lfq_ring_is_closed(r));
		cr_assert_eq(lfq_ring_push(r, ITEM(1)), -EPIPE);
		cr_assert_eq(lfq_ring_push_burst(r, in, 2), 0);
		cr_assert_eq(lfq_ring_push_wait(r, ITEM(1), 1000), -EPIPE);
		cr_assert_eq(lfq_ring_size(r), 4);
		cr_assert_eq(lfq_ring_pop_burst(r, out, 8), 4, "a close lost items");
		cr_assert_eq(out[0], in[2]);
		cr_assert_eq(out[2], in[4]);
		cr_assert_eq(out[3], ITEM(99));
		cr_assert_eq(lfq_ring_pop(r, out), -EPIPE);
		cr_assert_eq(lfq_ring_pop_wait(r, out, 1000), -EPIPE);
		cr_assert_eq(lfq_ring_pop(r, out), -EPIPE, "EPIPE is final");
		lfq_ring_destroy(r);
	}
}

Test(ring_modes, wait_calls_time_out_in_every_mode)
{
	void *out;

	for (size_t m = 0; m < NMODES; m++) {
		struct lfq_ring *r = make(1, modes[m]);

		cr_assert_eq(lfq_ring_pop_wait(r, &out, 100000), -ETIMEDOUT);
		cr_assert_eq(lfq_ring_push_wait(r, ITEM(3), 100000), 0);
		cr_assert_eq(lfq_ring_push_wait(r, ITEM(4), 100000), -ETIMEDOUT);
		cr_assert_eq(lfq_ring_pop_wait(r, &out, 100000), 0);
		cr_assert_eq(out, ITEM(3));
		lfq_ring_destroy(r);
	}
}

Test(ring_modes, create_rejects_unknown_flags)
{
	struct lfq_ring *r = (struct lfq_ring *)ITEM(0x1234);

	cr_assert_eq(lfq_ring_create(&r, 8, 4u), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, 8, LFQ_RING_SP | LFQ_RING_SC | 8u), -EINVAL);
	cr_assert_eq(lfq_ring_create(&r, 8, 0x80000000u), -EINVAL);
	cr_assert_eq(r, (struct lfq_ring *)ITEM(0x1234), "out-pointer written on error");
}

Test(ring_modes, bulk_calls_move_all_or_nothing)
{
	void *in[8], *out[8];
	size_t space = 77, avail = 77;

	for (size_t i = 0; i < 8; i++)
		in[i] = ITEM(i + 1);
	for (size_t cap = 1; cap <= 7; cap++) {
		struct lfq_ring *r = make(cap, LFQ_RING_SP | LFQ_RING_SC);

		for (int lap = 0; lap < 4; lap++) {
			const size_t n = cap > 1 ? cap - 1 : 1;

			cr_assert_eq(lfq_ring_push_bulk(r, in, n, &space), n, "cap %zu", cap);
			cr_assert_eq(space, cap - n);
			/* More than the room: nothing. */
			cr_assert_eq(lfq_ring_push_bulk(r, in, cap - n + 1, &space), 0);
			cr_assert_eq(lfq_ring_size(r), n, "a failed bulk push pushed something");
			cr_assert_eq(lfq_ring_pop_bulk(r, out, n + 1, &avail), 0);
			cr_assert_eq(avail, n);
			cr_assert_eq(lfq_ring_pop_bulk(r, out, n, &avail), n);
			cr_assert_eq(avail, 0);
			for (size_t i = 0; i < n; i++)
				cr_assert_eq(out[i], in[i], "cap %zu lap %d", cap, lap);
			/* Exactly the room. */
			cr_assert_eq(lfq_ring_push_bulk(r, in, cap, NULL), cap);
			cr_assert_eq(lfq_ring_push(r, ITEM(0)), -EAGAIN);
			cr_assert_eq(lfq_ring_pop_bulk(r, out, cap, NULL), cap);
			cr_assert_eq(out[cap - 1], in[cap - 1]);
		}
		lfq_ring_destroy(r);
	}
}

Test(ring_modes, bulk_calls_need_their_single_side)
{
	void *in[2] = {ITEM(1), ITEM(2)}, *out[2];
	size_t space = 77, avail = 77;
	struct lfq_ring *mpmc = make(4, LFQ_RING_FLAGS_NONE);
	struct lfq_ring *sp = make(4, LFQ_RING_SP), *sc = make(4, LFQ_RING_SC);

	cr_assert_eq(lfq_ring_push_bulk(mpmc, in, 2, &space), 0);
	cr_assert_eq(space, 4);
	cr_assert_eq(lfq_ring_push_bulk(sc, in, 2, NULL), 0);
	cr_assert_eq(lfq_ring_size(sc), 0);
	cr_assert_eq(lfq_ring_push_bulk(sp, in, 2, NULL), 2);
	cr_assert_eq(lfq_ring_pop_bulk(sp, out, 2, &avail), 0, "SP ring is not SC");
	cr_assert_eq(avail, 2);
	cr_assert_eq(lfq_ring_push_burst(sc, in, 2), 2);
	cr_assert_eq(lfq_ring_pop_bulk(sc, out, 2, NULL), 2);
	cr_assert_eq(out[1], ITEM(2));
	lfq_ring_destroy(mpmc);
	lfq_ring_destroy(sp);
	lfq_ring_destroy(sc);
}

Test(ring_modes, bulk_calls_on_a_closed_ring)
{
	void *in[3] = {ITEM(1), ITEM(2), ITEM(3)}, *out[3];
	struct lfq_ring *r = make(4, LFQ_RING_SP | LFQ_RING_SC);

	cr_assert_eq(lfq_ring_push_bulk(r, in, 2, NULL), 2);
	lfq_ring_close(r);
	cr_assert_eq(lfq_ring_push_bulk(r, in, 1, NULL), 0);
	cr_assert_eq(lfq_ring_pop_bulk(r, out, 3, NULL), 0);
	cr_assert_eq(lfq_ring_pop_bulk(r, out, 2, NULL), 2, "items of a closed ring stay in");
	cr_assert_eq(out[1], ITEM(2));
	cr_assert_eq(lfq_ring_pop(r, out), -EPIPE);
	lfq_ring_destroy(r);
}

/* A pop_bulk that finds fewer than n items leaves them in, in order, for every kind of pop
 * (the portable backend holds them aside for its single consumer), and a push_bulk that
 * finds too little room leaves the ring as it was; a retry loop on either ends. */
Test(ring_modes, failed_bulk_calls_leave_the_ring_as_it_was)
{
	void *in[6] = {ITEM(1), ITEM(2), ITEM(3), ITEM(4), ITEM(5), ITEM(6)}, *out[6];
	struct lfq_ring *r = make(6, LFQ_RING_SP | LFQ_RING_SC);

	cr_assert_eq(lfq_ring_push_bulk(r, in, 3, NULL), 3);
	cr_assert_eq(lfq_ring_pop_bulk(r, out, 5, NULL), 0);
	cr_assert_eq(lfq_ring_size(r), 3, "a failed pop_bulk lost items");
	cr_assert_eq(lfq_ring_push_bulk(r, in + 3, 4, NULL), 0, "only 3 free");
	cr_assert_eq(lfq_ring_push_bulk(r, in + 3, 3, NULL), 3);
	cr_assert_eq(lfq_ring_push(r, ITEM(7)), -EAGAIN, "capacity changed");
	cr_assert_eq(lfq_ring_pop(r, &out[0]), 0);
	cr_assert_eq(out[0], ITEM(1));
	cr_assert_eq(lfq_ring_pop_bulk(r, out, 6, NULL), 0);
	cr_assert_eq(lfq_ring_pop_burst(r, out, 2), 2);
	cr_assert_eq(out[0], ITEM(2));
	cr_assert_eq(out[1], ITEM(3));
	cr_assert_eq(lfq_ring_pop_bulk(r, out, 3, NULL), 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(out[i], ITEM(4 + i));
	cr_assert_eq(lfq_ring_size(r), 0);
	/* The retry loop of a user who wants two at a time ends on every backend. */
	cr_assert_eq(lfq_ring_push_bulk(r, in, 2, NULL), 2);
	unsigned tries = 0;

	while (lfq_ring_pop_bulk(r, out, 2, NULL) != 2 && ++tries < 1000)
		;
	cr_assert_lt(tries, 1000);
	lfq_ring_destroy(r);
}

Test(ring_modes, bulk_calls_reject_bad_arguments)
{
	void *items[2] = {ITEM(1), ITEM(2)};
	size_t v = 77;
	struct lfq_ring *r = make(2, LFQ_RING_SP | LFQ_RING_SC);

	cr_assert_eq(lfq_ring_push_bulk(NULL, items, 2, &v), 0);
	cr_assert_eq(v, 0);
	v = 77;
	cr_assert_eq(lfq_ring_pop_bulk(NULL, items, 2, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(lfq_ring_push_bulk(r, NULL, 2, NULL), 0);
	cr_assert_eq(lfq_ring_push_bulk(r, items, 0, NULL), 0);
	cr_assert_eq(lfq_ring_push_bulk(r, items, 3, NULL), 0, "more than the capacity");
	cr_assert_eq(lfq_ring_pop_bulk(r, NULL, 1, NULL), 0);
	cr_assert_eq(lfq_ring_pop_bulk(r, items, 0, NULL), 0);
	cr_assert_eq(lfq_ring_size(r), 0, "a rejected call changed the ring");
	lfq_ring_destroy(r);
}
