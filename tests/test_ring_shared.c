/* SPDX-License-Identifier: MIT */
/*
 * lfq_ring in shared memory: sizes and bad arguments, one ring through two mappings at
 * different addresses and across fork, attach on corrupted or foreign regions, and the
 * _wait calls and close waking sleepers in another process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	/* destroy on a handle is a detach: the ring in the region is left alone (it would
	 * otherwise free() a mapping), and stays usable through the other handle. */
	lfq_ring_destroy(ra);
	cr_assert_eq(lfq_ring_capacity(rb), 5);
	cr_assert(lfq_ring_is_closed(rb));
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
 * soon after @p wake returns only if the futex wake reached the other process: with a private
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
	/* The waitqs are the region's (the handle holds only the geometry). */
	struct lfq_ring *region = (struct lfq_ring *)mem;
	struct lfq__waitq *w = what == POP_WAIT ? &region->not_empty : &region->not_full;

	await_sleeper(w, pid);
	wake(r);
	/* Back to 0 at once when the kernel woke the child (the waker withdraws it), or soon
	 * when the child was not in the futex wait yet after all (under QEMU, state 'S' can be
	 * the emulator's own wait): it finds the seq moved and withdraws itself. A wake-up that
	 * does not reach the other process leaves it asleep until its 10 s timeout; 5 s is only
	 * the bound of that hang, not a speed. */
	for (int i = 0; i < 10000 && atomic_load(&w->waiters) != 0; i++)
		usleep(500);
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

/*
 * A faulty or hostile peer (issue 24). Each case writes what a peer could write into the
 * region, then makes this process's calls on it in a forked child with a deadline, in a
 * mapping fenced in by canary and PROT_NONE pages (shm_util.h): a hang ends in SIGALRM, a
 * crash in its signal, a write outside the region in a changed canary, and each fails the
 * test. The child cannot use Criterion's asserts: CHECK exits with a status instead.
 */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			_exit(3);                                                                  \
		}                                                                                  \
	} while (0)

#define DEADLINE_S 10

static void with_deadline(struct guarded *g, void (*fn)(struct guarded *))
{
	fflush(NULL);
	const pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		alarm(DEADLINE_S);
		fn(g);
		CHECK(guarded_intact(g));
		_exit(0);
	}
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(!WIFSIGNALED(status) || WTERMSIG(status) != SIGALRM,
		  "the calls did not return within %d s", DEADLINE_S);
	cr_assert(!WIFSIGNALED(status), "the child died of signal %d (%s)", WTERMSIG(status),
		  strsignal(WTERMSIG(status)));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the child failed a check (exit %d, see its stderr)", WEXITSTATUS(status));
	close(g->fd);
}

static struct lfq_ring *child_attach(struct guarded *g)
{
	struct lfq_ring *r = NULL;

	CHECK(lfq_ring_shared_attach(&r, g->mem, g->bytes) == 0);
	return r;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* pop_wait(10 ms): returns rc, and checks that it came back within 10 ms + 1 s of slack. */
static int timed_pop_wait(struct lfq_ring *r, void **out)
{
	const int64_t t0 = now_ns();
	const int rc = lfq_ring_pop_wait(r, out, 10 * 1000000ll);

	CHECK(now_ns() - t0 < 10 * 1000000ll + 1000000000ll);
	return rc;
}

/* One 8-byte store each: the mask (read by every call before the fix) and the tail hint. */
static void peer_sets_mask_all_ones_and_a_huge_tail(struct guarded *g)
{
	struct lfq_ring *r = child_attach(g), *region = (struct lfq_ring *)g->mem;
	void *out = NULL;

	region->mask = ~(uint64_t)0;
	atomic_store(&region->tail, (uint64_t)1 << 40);
	atomic_store(&region->head, (uint64_t)1 << 40);
	/* The handle's geometry is its own; the hints are reduced to cells of the ring, which
	 * say where the items really are. */
	CHECK(lfq_ring_capacity(r) == 8);
	CHECK(lfq_ring_push(r, ITEM(1)) == 0);
	CHECK(lfq_ring_size(r) <= 8);
	CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(1));
	CHECK(lfq_ring_pop(r, &out) == -EAGAIN);
	lfq_ring_shared_detach(r);
}

Test(ring_shared, peer_mask_all_ones_and_huge_tail_neither_crash_nor_hang)
{
	struct guarded g = guarded_ring(8);

	with_deadline(&g, peer_sets_mask_all_ones_and_a_huge_tail);
}

/* 232 cells, lap 256: position 240 has no cell; before the fix push wrote the 241st
 * "cell", past the region's end, and returned 0 for an item nobody could pop. */
static void peer_sets_tail_past_the_last_cell(struct guarded *g)
{
	struct lfq_ring *r = child_attach(g), *region = (struct lfq_ring *)g->mem;
	void *out = NULL;

	atomic_store(&region->tail, 240);
	CHECK(lfq_ring_push(r, ITEM(7)) == 0);
	CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(7));
	atomic_store(&region->tail, 255);
	atomic_store(&region->head, 250);
	CHECK(lfq_ring_push(r, ITEM(8)) == 0);
	CHECK(lfq_ring_size(r) <= 232);
	CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(8));
	lfq_ring_shared_detach(r);
}

Test(ring_shared, peer_tail_hint_beyond_capacity_stays_inside_the_region)
{
	struct guarded g = guarded_ring(232);

	cr_assert_eq(g.bytes % g.page, 0, "position 240's cell must fall past the region");
	with_deadline(&g, peer_sets_tail_past_the_last_cell);
}

/* The head hint one lap ahead of the first item: before the fix every pop spun (release
 * builds) or asserted (debug builds). */
static void peer_moves_head_a_lap(struct guarded *g)
{
	struct lfq_ring *r = child_attach(g), *region = (struct lfq_ring *)g->mem;
	void *out = NULL;

	for (uintptr_t i = 1; i <= 3; i++)
		CHECK(lfq_ring_push(r, ITEM(i)) == 0);
	atomic_fetch_add(&region->head, 8);
	CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(1));
	CHECK(timed_pop_wait(r, &out) == 0 && out == ITEM(2));
	CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(3));
	CHECK(timed_pop_wait(r, &out) == -ETIMEDOUT);
	atomic_fetch_add(&region->head, 8);
	lfq_ring_close(r);
	CHECK(lfq_ring_pop(r, &out) == -EPIPE);
	CHECK(timed_pop_wait(r, &out) == -EPIPE);
	lfq_ring_shared_detach(r);
}

Test(ring_shared, peer_head_hint_moved_a_lap_does_not_hang_consumers)
{
	struct guarded g = guarded_ring(8);

	with_deadline(&g, peer_moves_head_a_lap);
}

/* seq 0 in the cell at head: a state no operation writes there (cell 2 serves positions
 * 2, 10, ...; 0 names position 0, cell 0's). Reported, on every kind of pop. */
static void peer_zeroes_the_seq_at_head(struct guarded *g)
{
	struct lfq_ring *r = child_attach(g), *region = (struct lfq_ring *)g->mem;
	struct lfq__cell *cells = (struct lfq__cell *)(g->mem + LFQ_RING_CELLS_OFFSET);
	void *out = NULL, *burst[4];

	for (uintptr_t i = 1; i <= 5; i++)
		CHECK(lfq_ring_push(r, ITEM(i)) == 0);
	CHECK(lfq_ring_pop(r, &out) == 0 && lfq_ring_pop(r, &out) == 0);
	CHECK(atomic_load(&region->head) == 2);
	atomic_store(&cells[2].seq, 0);
	CHECK(lfq_ring_pop(r, &out) == -EBADMSG);
	CHECK(timed_pop_wait(r, &out) == -EBADMSG);
	CHECK(lfq_ring_pop_burst(r, burst, 4) == 0);
	CHECK(lfq_ring_size(r) <= 8);
	lfq_ring_close(r);
	CHECK(lfq_ring_pop(r, &out) == -EBADMSG);
	/* At a head on index 0, seq 0 is a well-formed but earlier position: believed, so the
	 * ring reads as empty there (the items behind it are lost), and nothing hangs. */
	struct lfq_ring *r2 = NULL;

	CHECK(lfq_ring_shared_init(g->mem, g->bytes, 8, 0) == 0);
	r2 = child_attach(g);
	for (uintptr_t i = 1; i <= 8; i++)
		CHECK(lfq_ring_push(r2, ITEM(i)) == 0 && lfq_ring_pop(r2, &out) == 0);
	CHECK(lfq_ring_push(r2, ITEM(9)) == 0 && lfq_ring_push(r2, ITEM(10)) == 0);
	atomic_store(&cells[0].seq, 0);
	CHECK(lfq_ring_pop(r2, &out) == -EAGAIN);
	CHECK(timed_pop_wait(r2, &out) == -ETIMEDOUT);
	lfq_ring_close(r2);
	CHECK(lfq_ring_pop(r2, &out) == -EPIPE);
	lfq_ring_shared_detach(r2);
	lfq_ring_shared_detach(r);
}

Test(ring_shared, peer_zero_seq_at_head_is_reported_not_spun_on)
{
	struct guarded g = guarded_ring(8);

	with_deadline(&g, peer_zeroes_the_seq_at_head);
}

/* The tail hint one lap ahead on an empty ring: before the fix every push found the cell
 * "a lap behind" and answered full, forever. */
static void peer_moves_tail_a_lap(struct guarded *g)
{
	struct lfq_ring *r = child_attach(g), *region = (struct lfq_ring *)g->mem;
	void *out = NULL;

	for (uintptr_t i = 1; i <= 3; i++)
		CHECK(lfq_ring_push(r, ITEM(i)) == 0 && lfq_ring_pop(r, &out) == 0);
	atomic_fetch_add(&region->tail, 8);
	CHECK(lfq_ring_push(r, ITEM(4)) == 0);
	CHECK(lfq_ring_size(r) == 1);
	CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(4));
	/* And the ring is whole again: exactly 8 fit. */
	for (uintptr_t i = 1; i <= 8; i++)
		CHECK(lfq_ring_push(r, ITEM(i)) == 0);
	CHECK(lfq_ring_push(r, ITEM(9)) == -EAGAIN);
	for (uintptr_t i = 1; i <= 8; i++)
		CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(i));
	lfq_ring_shared_detach(r);
}

Test(ring_shared, peer_tail_hint_a_lap_ahead_does_not_make_an_empty_ring_full)
{
	struct guarded g = guarded_ring(8);

	with_deadline(&g, peer_moves_tail_a_lap);
}

/* A peer flips the header's capacity between the true 8 and the maximum while this process
 * attaches, again and again. Before the fix attach checked the header and then re-read the
 * capacity to walk the cells, past the region's end. */
struct toggler {
	struct lfq_ring *region;
	_Atomic int stop;
};

static void *toggle_capacity(void *arg)
{
	struct toggler *t = arg;
	volatile size_t *cap = &t->region->capacity;

	while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
		*cap = LFQ_RING_CAPACITY_MAX;
		*cap = 8;
	}
	return NULL;
}

static void peer_toggles_capacity_during_attach(struct guarded *g)
{
	struct toggler t = {.region = (struct lfq_ring *)g->mem};
	pthread_t th;
	unsigned ok = 0;
	void *out = NULL;

	CHECK(pthread_create(&th, NULL, toggle_capacity, &t) == 0);
	const int64_t end = now_ns() + 500 * 1000000ll;

	for (unsigned i = 0; now_ns() < end || i < 100; i++) {
		struct lfq_ring *r = NULL;
		const int rc = lfq_ring_shared_attach(&r, g->mem, g->bytes);

		CHECK(rc == 0 || rc == -EINVAL);
		if (rc == 0) {
			ok++;
			CHECK(lfq_ring_capacity(r) == 8);
			CHECK(lfq_ring_push(r, ITEM(i + 1)) == 0);
			CHECK(lfq_ring_size(r) <= 8);
			CHECK(lfq_ring_pop(r, &out) == 0 && out == ITEM(i + 1));
			lfq_ring_shared_detach(r);
		}
	}
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	CHECK(ok > 0);
}

Test(ring_shared, peer_toggling_capacity_during_attach_cannot_crash_it)
{
	struct guarded g = guarded_ring(8);

	with_deadline(&g, peer_toggles_capacity_during_attach);
}

/* docs/ring.md's recipe for a file another process may have truncated: map what fstat says
 * and attach with that length (attach then refuses a ring longer than the mapping, reading
 * nothing past it), and seal a memfd against shrinking. */
static int recipe_attach(int fd, struct lfq_ring **r, void **mem, size_t *len)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || (size_t)st.st_size < LFQ_RING_CELLS_OFFSET)
		return -EINVAL;
	*len = (size_t)st.st_size;
	*mem = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*mem == MAP_FAILED)
		return -errno;
	const int rc = lfq_ring_shared_attach(r, *mem, *len);

	if (rc != 0)
		munmap(*mem, *len);
	return rc;
}

Test(ring_shared, truncated_file_is_refused_by_the_documented_recipe)
{
	const size_t bytes = lfq_ring_shared_size(1024, 0);
	const int fd = memfd_create("lfq-ring-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, (off_t)bytes), 0);
	void *mem = shm_map(fd, bytes);

	cr_assert_not_null(mem);
	cr_assert_eq(lfq_ring_shared_init(mem, bytes, 1024, 0), 0);
	const size_t cuts[] = {0, 100, 4096, bytes / 2, bytes - 64};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		cr_assert_eq(ftruncate(fd, (off_t)cuts[i]), 0);
		fflush(NULL);
		const pid_t pid = fork();

		cr_assert(pid >= 0);
		if (pid == 0) {
			struct lfq_ring *r = NULL;
			void *m = NULL;
			size_t len = 0;

			alarm(DEADLINE_S);
			CHECK(recipe_attach(fd, &r, &m, &len) == -EINVAL);
			_exit(0);
		}
		int status;

		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "cut to %zu bytes: child status %#x", cuts[i], status);
		/* Put the ring back (the truncation zeroed what it cut). */
		cr_assert_eq(ftruncate(fd, (off_t)bytes), 0);
		cr_assert_eq(lfq_ring_shared_init(mem, bytes, 1024, 0), 0);
	}
	/* Sealed, the memfd cannot shrink: a peer's ftruncate fails and the ring stays usable. */
	cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	cr_assert_eq(ftruncate(fd, 100), -1);
	cr_assert_eq(errno, EPERM);
	struct lfq_ring *r = NULL;
	void *m = NULL;
	size_t len = 0;
	void *out = NULL;

	cr_assert_eq(recipe_attach(fd, &r, &m, &len), 0);
	cr_assert_eq(lfq_ring_push(r, ITEM(5)), 0);
	cr_assert_eq(lfq_ring_pop(r, &out), 0);
	cr_assert_eq(out, ITEM(5));
	lfq_ring_shared_detach(r);
	munmap(m, len);
	munmap(mem, bytes);
	close(fd);
}
