/* SPDX-License-Identifier: MIT */
/*
 * Test hooks, compiled in only in the non-installed lfq_testing library (-DLFQ_TESTING).
 * The shipped library expands every hook to nothing.
 *
 * A test point is a named instant inside an operation (for example "a producer holds a free
 * slot but has not published it"). The lock-freedom tests install a hook that parks one chosen
 * thread forever at one point and check that every other thread still completes.
 *
 * A scheduling point (LFQ_SCHED_POINT) sits immediately before each shared atomic access of
 * the ring. The interleaving checker (tests/sched/) installs a hook there that blocks the
 * calling thread until its scheduler picks that thread again, so that exactly one thread runs
 * at a time and the checker decides who runs at every shared access.
 */
#ifndef LFQ_TESTING_H
#define LFQ_TESTING_H

enum lfq__test_point {
	LFQ_TP_NONE = -1,
	LFQ_TP_FQ_DEQ_TICKET,  /* push: took a ticket on the free-index ring */
	LFQ_TP_PUSH_HAVE_SLOT, /* push: owns a free slot, item not yet written */
	LFQ_TP_AQ_ENQ_TICKET,  /* push: took a ticket on the item ring, index not yet stored */
	LFQ_TP_AQ_ENQ_STORED,  /* push: index stored, threshold not yet reset */
	LFQ_TP_AQ_DEQ_TICKET,  /* pop: took a ticket on the item ring, entry not yet read */
	LFQ_TP_POP_HAVE_SLOT,  /* pop: owns a slot, item not yet read */
	LFQ_TP_FQ_ENQ_TICKET,  /* pop: took a ticket on the free-index ring to give the slot back */
	/* The cell ring (ring_cells.c). */
	LFQ_TP_CELL_PUSH_READ, /* push: read a free cell, its CAS not yet done */
	LFQ_TP_CELL_PUSH_DONE, /* push: filled a cell, tail hint not yet stored */
	LFQ_TP_CELL_POP_READ,  /* pop: read a full cell and its item, its CAS not yet done */
	LFQ_TP_CELL_POP_DONE,  /* pop: consumed a cell, head hint not yet stored */
	LFQ_TP_CELL_POP_SEAL,  /* pop: found the closed ring empty, seal not yet done */
	/* Any SCQ index ring (scq.h): a dequeue ticket failed, threshold not yet decremented. */
	LFQ_TP_SCQ_DEQ_FAILED,
	LFQ_TP_QUEUE_GROW, /* lfq_queue push: passed the segment limit, new segment not linked */
	LFQ_TP_POOL_SUBMIT_COUNTED, /* pool submit: counted (S1), job not yet published */
	/* A pool worker's park/wake protocol (pool_worker.c, "Waking"). */
	LFQ_TP_POOL_SPINNING,	     /* counted as spinning (V1), no take yet */
	LFQ_TP_POOL_PARK_REGISTERED, /* registered as a waiter (W1/W2), no re-check yet */
	LFQ_TP_POOL_PARK_CHECKED,    /* re-checked the rings and timers, found nothing */
	LFQ_TP_POOL_PARK_SLEEP,	     /* about to make the futex wait system call */
	LFQ_TP_POOL_WOKEN,	     /* back from the futex wait, nothing re-checked yet */
	LFQ_TP_POOL_DRAIN_TIMERS,    /* parking: shut down and drained, a retry was pending, its
				      * timer not looked at yet */
	LFQ_TP_COUNT
};

#ifdef LFQ_TESTING
#include <stdatomic.h>

/* Called at every test point when set; the argument is an enum lfq__test_point. */
extern void (*_Atomic lfq__test_hook)(int point);
/* Called at every scheduling point when set (see LFQ_SCHED_POINT), with the point's place. */
extern void (*_Atomic lfq__sched_hook)(const char *file, int line);
/* LFQ_SCQ_DEQ_SPINS in the testing build (64, as in the shipped one, unless a test changes
 * it). Relaxed: set before the threads that read it start. */
extern _Atomic int lfq__test_deq_spins;
/* Number of futex wake system calls the library has made. */
extern _Atomic unsigned long lfq__test_futex_wakes;
/* While positive, each lfq_queue segment allocation fails (and decrements it). */
extern _Atomic int lfq__test_fail_alloc;
/* While nonzero, the asymmetric fence (waitq.h, W2a) fails as membarrier(2) does under a
 * seccomp filter installed after the ring was created. */
extern _Atomic int lfq__test_fail_membarrier;

/* Relaxed: the hook is installed before the threads that hit it are started. */
#define LFQ_TEST_POINT(p)                                                                          \
	do {                                                                                       \
		void (*lfq__h)(int) = atomic_load_explicit(&lfq__test_hook, memory_order_relaxed); \
		if (lfq__h && (p) >= 0)                                                            \
			lfq__h(p);                                                                 \
	} while (0)
/* Relaxed as LFQ_TEST_POINT: installed before the checked threads start. */
#define LFQ_SCHED_POINT()                                                                          \
	do {                                                                                       \
		void (*lfq__s)(const char *, int) =                                                \
			atomic_load_explicit(&lfq__sched_hook, memory_order_relaxed);              \
		if (lfq__s)                                                                        \
			lfq__s(__FILE__, __LINE__);                                                \
	} while (0)
#else
#define LFQ_TEST_POINT(p) ((void)(p))
#define LFQ_SCHED_POINT() ((void)0)
#endif

#endif /* LFQ_TESTING_H */
