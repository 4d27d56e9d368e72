/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring in shared memory: sizes and bad arguments, one ring through two mappings at
 * different addresses and across fork, attach on corrupted or foreign regions, and the
 * _wait calls and close waking sleepers in another process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lfq/ring.h>

#include "ring_internal.h"
#include "shm_util.h"

#define ITEM(v) ((void *)(uintptr_t)(v))

/* A region with a fresh ring of @p cap, mapped once; the memfd is returned in *fd. */
static void *fresh(size_t cap, size_t *bytes, int *fd)
{
	*bytes = lfq_ring_shared_size(cap, 0);
	cr_assert_gt(*bytes, 0);
	*fd = shm_region(*bytes);
	void *mem = shm_map(*fd, *bytes);

	cr_assert_not_null(mem);
	cr_assert_eq(lfq_ring_shared_init(mem, *bytes, cap, 0), 0);
	return mem;
}

static struct lfq_ring *attach(void *mem, size_t bytes)
{
	struct lfq_ring *r = NULL;

	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), 0);
	cr_assert_not_null(r);
	return r;
}

Test(ring_shared, size_is_a_line_multiple_and_rejects_bad_arguments)
{
	cr_assert_eq(lfq_ring_shared_size(0, 0), 0);
	cr_assert_eq(lfq_ring_shared_size(LFQ_RING_CAPACITY_MAX + 1, 0), 0);
	cr_assert_eq(lfq_ring_shared_size(SIZE_MAX, 0), 0);
	cr_assert_eq(lfq_ring_shared_size(8, 1u), 0);
	size_t prev = 0;

	for (size_t cap = 1; cap <= 1000; cap++) {
		const size_t b = lfq_ring_shared_size(cap, 0);

		cr_assert_eq(b % 64, 0);
		cr_assert_geq(b, cap * 16 + 64, "%zu bytes cannot hold %zu cells", b, cap);
		cr_assert_geq(b, prev);
		prev = b;
	}
}

Test(ring_shared, init_rejects_bad_arguments_and_writes_nothing)
{
	const size_t bytes = lfq_ring_shared_size(8, 0) + 64;
	unsigned char *mem = aligned_alloc(64, bytes);

	cr_assert_not_null(mem);
	memset(mem, 0xab, bytes);
	cr_assert_eq(lfq_ring_shared_init(NULL, bytes, 8, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_init(mem + 16, bytes - 16, 8, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_init(mem + 1, bytes - 1, 8, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_init(mem, lfq_ring_shared_size(8, 0) - 1, 8, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_init(mem, bytes, 0, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_init(mem, bytes, LFQ_RING_CAPACITY_MAX + 1, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_init(mem, bytes, 8, 2u), -EINVAL);
	for (size_t i = 0; i < bytes; i++)
		cr_assert_eq(mem[i], 0xab, "byte %zu written by a failed init", i);
	/* Any memory works, not only a mapping; a longer region is fine. */
	cr_assert_eq(lfq_ring_shared_init(mem, bytes, 8, 0), 0);
	struct lfq_ring *r = attach(mem, bytes);

	cr_assert_eq(lfq_ring_capacity(r), 8);
	lfq_ring_shared_detach(r);
	lfq_ring_shared_detach(NULL);
	free(mem);
}

/* Two mappings of one memfd in one process: two addresses, one ring. */
Test(ring_shared, two_mappings_at_different_addresses_are_one_ring)
{
	size_t bytes;
	int fd;
	void *a = fresh(5, &bytes, &fd);
	void *b = shm_map(fd, bytes);

	cr_assert_not_null(b);
	cr_assert_neq(a, b);
	struct lfq_ring *ra = attach(a, bytes), *rb = attach(b, bytes);
	void *out = NULL;

	cr_assert_eq(lfq_ring_capacity(rb), 5);
	/* Many laps, items going in through one address and out through the other. */
	for (uintptr_t i = 1; i <= 1000; i++) {
		cr_assert_eq(lfq_ring_push(i % 2 ? ra : rb, ITEM(i)), 0);
		cr_assert_eq(lfq_ring_size(ra), 1);
		cr_assert_eq(lfq_ring_pop(i % 2 ? rb : ra, &out), 0);
		cr_assert_eq(out, ITEM(i));
	}
	for (uintptr_t i = 1; i <= 5; i++)
		cr_assert_eq(lfq_ring_push(ra, ITEM(i)), 0);
	cr_assert_eq(lfq_ring_push(rb, ITEM(6)), -EAGAIN, "full through the other mapping");
	void *burst[5];

	cr_assert_eq(lfq_ring_pop_burst(rb, burst, 5), 5);
	for (uintptr_t i = 0; i < 5; i++)
		cr_assert_eq(burst[i], ITEM(i + 1));
	lfq_ring_close(rb);
	cr_assert(lfq_ring_is_closed(ra));
	cr_assert_eq(lfq_ring_pop(ra, &out), -EPIPE);
	/* destroy on a shared ring leaves it alone (it would otherwise free() a mapping). */
	lfq_ring_destroy(ra);
	cr_assert_eq(lfq_ring_capacity(ra), 5);
	lfq_ring_shared_detach(ra);
	lfq_ring_shared_detach(rb);
	/* After a detach and an unmap the other mapping still works. */
	cr_assert_eq(munmap(a, bytes), 0);
	rb = attach(b, bytes);
	cr_assert_eq(lfq_ring_push(rb, ITEM(1)), -EPIPE);
	close(fd);
}

/* A child maps the memfd itself (at an address of its own, after an extra mapping moved
 * the next free address), attaches and pushes; the parent pops. */
Test(ring_shared, attach_across_fork_through_a_new_mapping)
{
	size_t bytes;
	int fd;
	void *mem = fresh(16, &bytes, &fd);
	struct lfq_ring *r = attach(mem, bytes);
	const pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		void *pad = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		void *mine = shm_map(fd, bytes);
		struct lfq_ring *cr = NULL;

		if (pad == MAP_FAILED || !mine || mine == mem ||
		    lfq_ring_shared_attach(&cr, mine, bytes) != 0)
			_exit(2);
		for (uintptr_t i = 1; i <= 1000; i++)
			if (lfq_ring_push_wait(cr, ITEM(i), 10 * 1000000000ll) != 0)
				_exit(3);
		_exit(0);
	}
	void *out = NULL;

	for (uintptr_t i = 1; i <= 1000; i++) {
		cr_assert_eq(lfq_ring_pop_wait(r, &out, 10 * 1000000000ll), 0, "item %zu", i);
		cr_assert_eq(out, ITEM(i));
	}
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	close(fd);
}

/* Each header byte that attach can check, flipped alone: -EINVAL; restored: 0. `closed` is
 * state, not layout (any value is a valid open/closed word), so it is left out. */
Test(ring_shared, attach_rejects_any_flipped_header_byte)
{
	size_t bytes;
	int fd;
	unsigned char *mem = fresh(33, &bytes, &fd);
	struct lfq_ring *r = NULL;
	size_t offsets[LFQ_CACHE_LINE + 8];
	size_t n = 0;

	for (size_t i = 0; i < LFQ_CACHE_LINE; i++)
		if (i < offsetof(struct lfq_ring, closed) ||
		    i >= offsetof(struct lfq_ring, closed) + sizeof(uint32_t))
			offsets[n++] = i;
	offsets[n++] = offsetof(struct lfq_ring, not_empty.shared);
	offsets[n++] = offsetof(struct lfq_ring, not_full.shared);
	for (size_t k = 0; k < n; k++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			mem[offsets[k]] ^= (unsigned char)(1u << bit);
			cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), -EINVAL,
				     "byte %zu bit %u flipped", offsets[k], bit);
			cr_assert_null(r, "out-pointer written on error");
			mem[offsets[k]] ^= (unsigned char)(1u << bit);
		}
	}
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), 0);
	close(fd);
}

Test(ring_shared, attach_rejects_bad_cells_sizes_and_alignment)
{
	size_t bytes;
	int fd;
	unsigned char *mem = fresh(8, &bytes, &fd);
	struct lfq_ring *r = NULL;
	struct lfq__cell *cells = (struct lfq__cell *)(mem + LFQ_RING_CELLS_OFFSET);

	cr_assert_eq(lfq_ring_shared_attach(NULL, mem, bytes), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, NULL, bytes), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, 0), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, 63), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, LFQ_RING_CELLS_OFFSET), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes - 1), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem + 16, bytes - 16), -EINVAL);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem + 1, bytes - 1), -EINVAL);
	/* A cell in a state that does not exist, or serving another index. */
	const uint64_t s = atomic_load(&cells[3].seq);

	atomic_store(&cells[3].seq, s | 3);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), -EINVAL);
	atomic_store(&cells[3].seq, s + (1 << 2));
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), -EINVAL);
	atomic_store(&cells[3].seq, s);
	cr_assert_null(r);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), 0);
	/* An in-process ring's memory is not a shared ring. */
	struct lfq_ring *heap = NULL, *out = NULL;

	cr_assert_eq(lfq_ring_create(&heap, 8, 0), 0);
	cr_assert_eq(lfq_ring_shared_attach(&out, heap, lfq_ring_shared_size(8, 0)), -EINVAL);
	lfq_ring_destroy(heap);
	close(fd);
}

/* Random bytes, then random bytes behind a correct magic: never a crash, always -EINVAL. */
Test(ring_shared, attach_rejects_garbage)
{
	const size_t bytes = lfq_ring_shared_size(64, 0);
	unsigned char *mem = aligned_alloc(64, bytes);
	unsigned seed = 17;
	struct lfq_ring *r = NULL;

	cr_assert_not_null(mem);
	for (int trial = 0; trial < 2000; trial++) {
		for (size_t i = 0; i < bytes; i++)
			mem[i] = (unsigned char)rand_r(&seed);
		if (trial % 2) {
			const uint32_t magic = LFQ_RING_MAGIC, version = LFQ_RING_LAYOUT_VERSION;

			memcpy(mem, &magic, 4);
			memcpy(mem + 4, &version, 4);
		}
		cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), -EINVAL, "trial %d", trial);
	}
	memset(mem, 0, bytes);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), -EINVAL, "zeros");
	cr_assert_null(r);
	free(mem);
}

/* The state letter of /proc/PID/stat ('S': asleep), or 0. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	const size_t n = fread(buf, 1, sizeof(buf) - 1, f);

	fclose(f);
	buf[n] = 0;
	const char *paren = strrchr(buf, ')'); /* the name may hold spaces */

	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Waits (bounded) until the child announced itself on @p w and is asleep: between the
 * announcement and the futex wait it makes no blocking call, so 'S' means the futex. */
static void await_sleeper(struct lfq__waitq *w, pid_t child)
{
	for (int i = 0; i < 20000; i++) {
		if (atomic_load(&w->waiters) > 0 && proc_state(child) == 'S')
			return;
		int status;

		cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "child exited early: %#x",
			     status);
		usleep(500);
	}
	cr_assert(0, "the child never went to sleep");
}

/* The child's verdict: its return code and the item it got, in the region's last line. */
struct verdict {
	_Atomic int rc;
	_Atomic uintptr_t item;
};

enum { POP_WAIT, PUSH_WAIT };

/* Forks a child that blocks in pop_wait (or push_wait on a full ring) on its own mapping;
 * once it sleeps in the kernel, the parent wakes it with @p wake. The wake-up withdraws the
 * announcements of the threads the kernel woke (N3 in waitq.h), so `waiters` is back to 0
 * when @p wake returns only if the futex wake reached the other process: with a private
 * futex it wakes nobody there (and the child would sleep on until its timeout). */
static void cross_process_wake(int what, void (*wake)(struct lfq_ring *), int want_rc)
{
	const size_t ring_bytes = lfq_ring_shared_size(2, 0), bytes = ring_bytes + 64;
	const int fd = shm_region(bytes);
	unsigned char *mem = shm_map(fd, bytes);

	cr_assert_not_null(mem);
	cr_assert_eq(lfq_ring_shared_init(mem, ring_bytes, 2, 0), 0);
	struct lfq_ring *r = attach(mem, ring_bytes);
	struct verdict *v = (struct verdict *)(mem + ring_bytes);

	atomic_store(&v->rc, 1);
	if (what == PUSH_WAIT) {
		cr_assert_eq(lfq_ring_push(r, ITEM(1)), 0);
		cr_assert_eq(lfq_ring_push(r, ITEM(2)), 0);
	}
	const pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		unsigned char *mine = shm_map(fd, bytes);
		struct lfq_ring *cr = NULL;
		struct verdict *cv = (struct verdict *)(mine + ring_bytes);
		void *out = NULL;
		int rc;

		if (!mine || lfq_ring_shared_attach(&cr, mine, ring_bytes) != 0)
			_exit(2);
		if (what == POP_WAIT)
			rc = lfq_ring_pop_wait(cr, &out, 10 * 1000000000ll);
		else
			rc = lfq_ring_push_wait(cr, ITEM(3), 10 * 1000000000ll);
		atomic_store(&cv->item, (uintptr_t)out);
		atomic_store(&cv->rc, rc);
		_exit(0);
	}
	struct lfq__waitq *w = what == POP_WAIT ? &r->not_empty : &r->not_full;

	await_sleeper(w, pid);
	wake(r);
	cr_assert_eq(atomic_load(&w->waiters), 0, "the wake-up did not reach the sleeping process");
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	cr_assert_eq(atomic_load(&v->rc), want_rc, "child's wait returned %d", atomic_load(&v->rc));
	if (what == POP_WAIT && want_rc == 0)
		cr_assert_eq(atomic_load(&v->item), 42);
	close(fd);
}

static void push_42(struct lfq_ring *r)
{
	cr_assert_eq(lfq_ring_push(r, ITEM(42)), 0);
}

static void pop_one(struct lfq_ring *r)
{
	void *out;

	cr_assert_eq(lfq_ring_pop(r, &out), 0);
	cr_assert_eq(out, ITEM(1));
}

Test(ring_shared, push_in_one_process_wakes_pop_wait_in_another)
{
	cross_process_wake(POP_WAIT, push_42, 0);
}

Test(ring_shared, pop_in_one_process_wakes_push_wait_in_another)
{
	cross_process_wake(PUSH_WAIT, pop_one, 0);
}

Test(ring_shared, close_wakes_pop_wait_in_another_process)
{
	cross_process_wake(POP_WAIT, lfq_ring_close, -EPIPE);
}

Test(ring_shared, close_wakes_push_wait_in_another_process)
{
	cross_process_wake(PUSH_WAIT, lfq_ring_close, -EPIPE);
}
