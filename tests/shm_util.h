/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory regions for the shared-ring tests: a memfd of a given size, mapped (again)
 * at an address of the kernel's choosing in this process.
 */
#ifndef LFQ_TESTS_SHM_UTIL_H
#define LFQ_TESTS_SHM_UTIL_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lfq/ring.h>

/* A memfd of @p bytes (zeros). */
static inline int shm_region(size_t bytes)
{
	const int fd = memfd_create("lfq-ring-test", MFD_CLOEXEC);

	cr_assert(fd >= 0, "memfd_create");
	cr_assert_eq(ftruncate(fd, (off_t)bytes), 0);
	return fd;
}

/* One more MAP_SHARED mapping of the memfd; NULL on failure (usable in forked children). */
static inline void *shm_map(int fd, size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A shared ring in a fresh memfd, initialized and attached through its own mapping: what the
 * unit suites run on when built to test attached rings. Never unmapped (test processes are
 * short-lived); lfq_ring_destroy on it returns without touching it. */
static inline struct lfq_ring *shm_ring(size_t capacity)
{
	const size_t bytes = lfq_ring_shared_size(capacity, 0);
	struct lfq_ring *r = NULL;

	cr_assert_gt(bytes, 0);
	const int fd = shm_region(bytes);
	void *mem = shm_map(fd, bytes);

	cr_assert_not_null(mem);
	close(fd);
	cr_assert_eq(lfq_ring_shared_init(mem, bytes, capacity, 0), 0);
	cr_assert_eq(lfq_ring_shared_attach(&r, mem, bytes), 0);
	return r;
}

/*
 * A mapping of a memfd fenced in by pages of this process's own memory, to catch a ring call
 * that reads or writes outside the region:
 *   [PROT_NONE][canary][region, to a page multiple][canary][PROT_NONE]
 * (the region's tail past the ring's `bytes` is canary too).
 * An access past a canary page faults; a write into a canary page or into the region's
 * tail shows in guarded_intact. Usable in forked children (no Criterion calls but in
 * guarded_ring, which tests call before they fork).
 */
#define GUARD_CANARY 0x5a

struct guarded {
	int fd;
	size_t bytes;	     /* the ring's lfq_ring_shared_size */
	size_t mapped;	     /* bytes rounded up to pages: the memfd's size */
	unsigned char *base; /* the whole reservation */
	unsigned char *mem;  /* the region */
	size_t page;
};

static inline void guarded_fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = GUARD_CANARY;
}

/* Maps g->fd (g->mapped bytes) fenced in as above; false on failure. */
static inline bool guarded_map(struct guarded *g)
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const size_t total = g->mapped + 4 * page;
	unsigned char *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED)
		return false;
	g->page = page;
	g->base = base;
	if (mprotect(base + page, page, PROT_READ | PROT_WRITE) != 0 ||
	    mprotect(base + 2 * page + g->mapped, page, PROT_READ | PROT_WRITE) != 0)
		return false;
	void *mem = mmap(base + 2 * page, g->mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 g->fd, 0);

	if (mem == MAP_FAILED)
		return false;
	g->mem = mem;
	guarded_fill(base + page, page);
	guarded_fill(base + 2 * page + g->mapped, page);
	return true;
}

/* The canary pages and the region's tail past the ring are untouched. */
static inline bool guarded_intact(const struct guarded *g)
{
	const unsigned char *before = g->base + g->page, *after = g->mem + g->mapped;

	for (size_t i = 0; i < g->page; i++)
		if (before[i] != GUARD_CANARY || after[i] != GUARD_CANARY)
			return false;
	for (size_t i = g->bytes; i < g->mapped; i++)
		if (g->mem[i] != GUARD_CANARY)
			return false;
	return true;
}

/* A fresh ring of @p capacity in a fenced memfd mapping (Criterion asserts: call it in the
 * test's own process). */
static inline struct guarded guarded_ring(size_t capacity)
{
	struct guarded g = {.bytes = lfq_ring_shared_size(capacity, 0)};
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);

	cr_assert_gt(g.bytes, 0);
	g.mapped = (g.bytes + page - 1) / page * page;
	g.fd = shm_region(g.mapped);
	cr_assert(guarded_map(&g), "guarded mapping");
	guarded_fill(g.mem + g.bytes, g.mapped - g.bytes);
	cr_assert_eq(lfq_ring_shared_init(g.mem, g.bytes, capacity, 0), 0);
	return g;
}

#endif /* LFQ_TESTS_SHM_UTIL_H */
