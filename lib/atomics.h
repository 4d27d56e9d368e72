/* SPDX-License-Identifier: MIT */
/*
 * The atomic accesses of the cell ring (ring_cells.h, ring_cells.c), of the waitq (waitq.h,
 * waitq.c) and of lfq_queue's segment links (queue.c), spelled as macros so that
 * one test-only build can hand them to a weak-memory model.
 *
 * In every build but one they are exactly the <stdatomic.h> call they name (and lfq__cas128),
 * so the shipped code is what it would be without them. In the test-only library built with
 * -DLFQ_WEAK_MODEL (lib/meson.build, lfq_weak) each one calls the model of
 * tests/sched/weak.c with its address, size, memory order(s) and place (__FILE__, __LINE__ of
 * the macro's name, which names the site: the label comment on or above that line, C2, O5, ...,
 * names the order). The model decides which store a load reads, within what C11's coherence and
 * happens-before allow, and can weaken the order of one site (docs/design.md, "The weak-memory
 * checker").
 */
#ifndef LFQ_ATOMICS_H
#define LFQ_ATOMICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch.h"

/*
 * LFQ_LOAD_KEPT is LFQ_LOAD for a load whose value the caller keeps without a later
 * read-modify-write confirming it (the single consumer's read of its item). C11 lets a load
 * read any store it does not happen-before, one made after it included (load buffering); the
 * model, whose loads read only stores already made, checks instead that every later store to
 * that word by another thread comes after such a load in happens-before.
 *
 * LFQ_SLOT_LOAD / LFQ_SLOT_STORE are plain (non-atomic) accesses of an item slot that threads
 * hand to each other through the atomics around it (the SCQ ring's data array). The model
 * checks both directions of each hand-over: a read happens after the write it reads, and a
 * write happens after the reads of the value it replaces (else a data race).
 *
 * LFQ_CAS_WEAK is a compare-exchange that may fail spuriously; the model never makes it fail
 * spuriously (a spurious failure only makes its caller retry).
 */
#ifndef LFQ_WEAK_MODEL
#define LFQ_LOAD(p, mo) atomic_load_explicit(p, mo)
#define LFQ_LOAD_KEPT(p, mo) atomic_load_explicit(p, mo)
#define LFQ_STORE(p, v, mo) atomic_store_explicit(p, v, mo)
#define LFQ_CAS(p, e, d, ok, fail) atomic_compare_exchange_strong_explicit(p, e, d, ok, fail)
#define LFQ_CAS_WEAK(p, e, d, ok, fail) atomic_compare_exchange_weak_explicit(p, e, d, ok, fail)
#define LFQ_FETCH_ADD(p, v, mo) atomic_fetch_add_explicit(p, v, mo)
#define LFQ_FETCH_SUB(p, v, mo) atomic_fetch_sub_explicit(p, v, mo)
#define LFQ_FETCH_OR(p, v, mo) atomic_fetch_or_explicit(p, v, mo)
#define LFQ_SLOT_LOAD(p) (*(p))
#define LFQ_SLOT_STORE(p, v) (*(p) = (v))
#define LFQ_FENCE(mo) atomic_thread_fence(mo)
#define LFQ_CAS128(p, lo, hi, nlo, nhi) lfq__cas128(p, lo, hi, nlo, nhi)
#else
/* The model (tests/sched/weak.c). Values are at most 8 bytes, zero-extended; `size` is 4 or 8. */
uint64_t lfq__wm_load(const volatile void *p, size_t size, int mo, const char *file, int line);
uint64_t lfq__wm_load_kept(const volatile void *p, size_t size, int mo, const char *file, int line);
void lfq__wm_store(volatile void *p, size_t size, uint64_t v, int mo, const char *file, int line);
bool lfq__wm_cas(volatile void *p, size_t size, void *expected, uint64_t desired, int ok, int fail,
		 const char *file, int line);
uint64_t lfq__wm_fetch_add(volatile void *p, size_t size, uint64_t v, int mo, const char *file,
			   int line);
uint64_t lfq__wm_fetch_or(volatile void *p, size_t size, uint64_t v, int mo, const char *file,
			  int line);
void *lfq__wm_slot_load(void *const *p, const char *file, int line);
void lfq__wm_slot_store(void **p, void *v, const char *file, int line);
void lfq__wm_fence(int mo, const char *file, int line);
/* lfq__cas128's contract (arch.h): one seq_cst read-modify-write of both words. */
bool lfq__wm_cas128(void *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi, int mo,
		    const char *file, int line);

/* The waitq's system calls (waitq.c): FUTEX_WAIT (true: woken by a wake), FUTEX_WAKE (how
 * many it woke), membarrier(2). */
bool lfq__wm_futex_wait(const volatile void *addr, uint32_t key);
int lfq__wm_futex_wake(const volatile void *addr, int n);
void lfq__wm_membarrier(void);

/* The model works on 64-bit words; each result is converted back to the location's own
 * type (the comma drops _Atomic), so that signed and pointer words compare as in C. */
#define LFQ__WM_AS(p, x)                                                                           \
	__extension__({                                                                            \
		__typeof__((void)0, *(p)) lfq__wm_v = (__typeof__((void)0, *(p)))(x);              \
		lfq__wm_v;                                                                         \
	})
#define LFQ_LOAD(p, mo) LFQ__WM_AS(p, lfq__wm_load(p, sizeof(*(p)), mo, __FILE__, __LINE__))
#define LFQ_LOAD_KEPT(p, mo)                                                                       \
	LFQ__WM_AS(p, lfq__wm_load_kept(p, sizeof(*(p)), mo, __FILE__, __LINE__))
/* A stored or desired value may be a pointer too (queue.c). */
#define LFQ_STORE(p, v, mo) lfq__wm_store(p, sizeof(*(p)), (uintptr_t)(v), mo, __FILE__, __LINE__)
#define LFQ_CAS(p, e, d, ok, fail)                                                                 \
	lfq__wm_cas(p, sizeof(*(p)), e, (uintptr_t)(d), ok, fail, __FILE__, __LINE__)
#define LFQ_CAS_WEAK(p, e, d, ok, fail) LFQ_CAS(p, e, d, ok, fail)
#define LFQ_FETCH_ADD(p, v, mo)                                                                    \
	LFQ__WM_AS(p, lfq__wm_fetch_add(p, sizeof(*(p)), v, mo, __FILE__, __LINE__))
#define LFQ_FETCH_SUB(p, v, mo)                                                                    \
	LFQ__WM_AS(p, lfq__wm_fetch_add(p, sizeof(*(p)), -(uint64_t)(v), mo, __FILE__, __LINE__))
#define LFQ_FETCH_OR(p, v, mo)                                                                     \
	LFQ__WM_AS(p, lfq__wm_fetch_or(p, sizeof(*(p)), v, mo, __FILE__, __LINE__))
#define LFQ_SLOT_LOAD(p) lfq__wm_slot_load(p, __FILE__, __LINE__)
#define LFQ_SLOT_STORE(p, v) lfq__wm_slot_store(p, v, __FILE__, __LINE__)
#define LFQ_FENCE(mo) lfq__wm_fence(mo, __FILE__, __LINE__)
#define LFQ_CAS128(p, lo, hi, nlo, nhi)                                                            \
	lfq__wm_cas128(p, lo, hi, nlo, nhi, memory_order_seq_cst, __FILE__, __LINE__)
#endif

/*
 * Plain (non-atomic) writes of [p, p + n) by the calling thread, done: memory it is about to
 * publish (an lfq_queue segment before its Q2). Nothing in every build but the model's, where
 * each later atomic access there by another thread must happen after this point: a missing
 * publish shows as a data race (tests/sched/weak.c).
 */
#ifndef LFQ_WEAK_MODEL
#define LFQ_PLAIN_INIT(p, n) ((void)0)
#else
void lfq__wm_plain_init(const volatile void *p, size_t n);
#define LFQ_PLAIN_INIT(p, n) lfq__wm_plain_init(p, n)
#endif

#endif /* LFQ_ATOMICS_H */
