/* SPDX-License-Identifier: MIT */
/*
 * A libFuzzer target for shared rings (issue 24): the input shapes a region, attach
 * validates it, and the rest of the input is a program of calls on the accepted ring
 * (push, pop, their bursts and _wait forms with tiny timeouts, size, close) interleaved
 * with more words written into the region, as a peer would write them while the ring is
 * in use. Built with clang's -fsanitize=fuzzer,address,undefined (tests/meson.build): the
 * region is a heap block of exactly the ring's size, so AddressSanitizer reports any read
 * or write outside it; libFuzzer's -timeout reports a call that does not return; a result
 * the header does not document traps.
 *
 * Input: [capacity choice][flags][patch count] then patches (offset: 2 bytes, kind: 1,
 * value: 8), then operations (1 byte each, some with an argument byte or a patch).
 * flags bit 0: recompute the header's check word after the patches (so that a patched
 * geometry reaches attach's field checks, not only its check word); bit 1: the region
 * starts as the input's raw bytes instead of an initialized ring.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lfq/ring.h>

#include "ring_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t n;
};

/* The next k bytes (little endian), zeros once the input is used up. */
static uint64_t next(struct input *in, unsigned k)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < k; i++) {
		if (in->n) {
			v |= (uint64_t)*in->p << (8 * i);
			in->p++;
			in->n--;
		}
	}
	return v;
}

#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

/* Writes one word of the region: a raw value, or one near what is there. */
static void patch(unsigned char *mem, size_t bytes, struct input *in)
{
	const size_t words = bytes / 8;
	const size_t at = (size_t)next(in, 2) % words;
	const unsigned kind = (unsigned)next(in, 1) % 5;
	const uint64_t v = next(in, 8);
	_Atomic uint64_t *w = (_Atomic uint64_t *)(mem + at * 8);
	const uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
	uint64_t nw;

	switch (kind) {
	case 0:
		nw = v;
		break;
	case 1:
		nw = old + (v & 0xff) - 0x80; /* a few steps either way */
		break;
	case 2:
		nw = old ^ (v & 3); /* another state */
		break;
	case 3:
		nw = old + ((uint64_t)1 << (v % 64)); /* laps ahead */
		break;
	default:
		nw = old - ((uint64_t)1 << (v % 64)); /* laps behind */
		break;
	}
	atomic_store_explicit(w, nw, memory_order_relaxed);
}

static bool rc_ok(int rc)
{
	return rc == 0 || rc == -EAGAIN || rc == -EPIPE || rc == -EBADMSG || rc == -ETIMEDOUT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {1, 2, 3, 4, 5, 7, 8, 13, 64, 100, 232, 256};
	struct input in = {data, size};
	const size_t cap = caps[next(&in, 1) % (sizeof(caps) / sizeof(caps[0]))];
	const unsigned flags = (unsigned)next(&in, 1);
	const unsigned patches = (unsigned)next(&in, 1) % 16;
	const size_t bytes = lfq_ring_shared_size(cap, 0);
	unsigned char *mem = aligned_alloc(64, bytes);

	if (!mem)
		return 0;
	EXPECT(lfq_ring_shared_init(mem, bytes, cap, 0) == 0);
	if (flags & 2) {
		const size_t n = in.n < bytes ? in.n : bytes;

		memcpy(mem, in.p, n);
		in.p += n;
		in.n -= n;
	}
	for (unsigned i = 0; i < patches; i++)
		patch(mem, bytes, &in);
	if (flags & 1)
		((struct lfq_ring *)mem)->check = lfq__cell_ring_check((struct lfq_ring *)mem);

	struct lfq_ring *r = NULL;
	const int rc = lfq_ring_shared_attach(&r, mem, bytes);

	if (rc != 0) {
		EXPECT(rc == -EINVAL && r == NULL);
		free(mem);
		return 0;
	}
	/* A patched header with its check word recomputed may be a valid ring of another
	 * capacity (6 cells of the 7 laid out, say): what must hold is that it fits. */
	const size_t held = lfq_ring_capacity(r);

	EXPECT(held >= 1 && lfq_ring_shared_size(held, 0) <= bytes);
	EXPECT((flags & 3) != 0 || held == cap);
	uintptr_t item = 1;

	while (in.n) {
		const unsigned op = (unsigned)next(&in, 1) % 12;
		void *items[8], *out = NULL;
		size_t k;

		for (size_t i = 0; i < 8; i++)
			items[i] = (void *)(item + i);
		item += 8;
		switch (op) {
		case 0:
		case 1:
			EXPECT(rc_ok(lfq_ring_push(r, items[0])));
			break;
		case 2:
		case 3:
			EXPECT(rc_ok(lfq_ring_pop(r, &out)));
			break;
		case 4:
			k = 1 + (size_t)next(&in, 1) % 8;
			EXPECT(lfq_ring_push_burst(r, items, k) <= k);
			break;
		case 5:
			k = 1 + (size_t)next(&in, 1) % 8;
			EXPECT(lfq_ring_pop_burst(r, items, k) <= k);
			break;
		case 6:
			EXPECT(lfq_ring_size(r) <= held);
			break;
		case 7:
			EXPECT(rc_ok(lfq_ring_push_wait(r, items[0], (int64_t)next(&in, 1) * 100)));
			break;
		case 8:
			EXPECT(rc_ok(lfq_ring_pop_wait(r, &out, (int64_t)next(&in, 1) * 100)));
			break;
		case 9:
			lfq_ring_close(r);
			EXPECT(lfq_ring_is_closed(r));
			break;
		default:
			patch(mem, bytes, &in); /* a peer writes while the ring is in use */
			break;
		}
	}
	lfq_ring_shared_detach(r);
	free(mem);
	return 0;
}
