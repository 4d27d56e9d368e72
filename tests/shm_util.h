/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory regions for the shared-ring tests: a memfd of a given size, mapped (again)
 * at an address of the kernel's choosing in this process.
 */
#ifndef LFQ_TESTS_SHM_UTIL_H
#define LFQ_TESTS_SHM_UTIL_H

#include <criterion/criterion.h>
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

#endif /* LFQ_TESTS_SHM_UTIL_H */
