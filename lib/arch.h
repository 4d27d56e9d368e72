/* SPDX-License-Identifier: MIT */
/*
 * The only architecture-specific code in lfq: the cache-line size, a spin-wait hint and the
 * double-width compare-and-swap of the cell ring. Everything else is portable C11 atomics.
 */
#ifndef LFQ_ARCH_H
#define LFQ_ARCH_H

#include <stdbool.h>
#include <stdint.h>

/* 64-byte lines on every x86-64 and most arm64 parts; only layout depends on it. */
#define LFQ_CACHE_LINE 64
#define LFQ_CACHE_ALIGNED _Alignas(LFQ_CACHE_LINE)

/* Tells the CPU we are spinning: frees pipeline resources for the sibling hyperthread. */
static inline void lfq__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LFQ_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(LFQ_TSAN)
#define LFQ_TSAN 1
#endif

/*
 * lfq__cas128: one atomic compare-and-swap of two adjacent 64-bit words (16-byte aligned):
 * if p[0] == *lo and p[1] == *hi, store (new_lo, new_hi) and return true; otherwise load the
 * current pair into (*lo, *hi) and return false. Sequentially consistent: a full barrier, and
 * a single point in the total order of seq_cst operations for both words (see docs/design.md,
 * "The cell ring and C11").
 *
 * x86-64: LOCK CMPXCHG16B, present on every x86-64 CPU since 2006 but for the very first
 * ones; the build selects the cell ring only where the compiler targets it. Under
 * ThreadSanitizer the compiler's 16-byte __atomic builtin is used instead, so that TSan sees
 * the synchronization (it emulates 16-byte atomics; the ring then uses nothing but 16-byte
 * RMWs on a cell, so the emulation stays atomic with respect to every other RMW).
 */
#if defined(__x86_64__) && defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#define LFQ_HAVE_CAS128 1
__extension__ typedef unsigned __int128 lfq__u128;

static inline bool lfq__cas128(void *p, uint64_t *lo, uint64_t *hi, uint64_t new_lo,
			       uint64_t new_hi)
{
#ifdef LFQ_TSAN
	lfq__u128 expected = ((lfq__u128)*hi << 64) | *lo;
	const lfq__u128 desired = ((lfq__u128)new_hi << 64) | new_lo;
	const bool ok = __atomic_compare_exchange_n((lfq__u128 *)p, &expected, desired, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);

	*lo = (uint64_t)expected;
	*hi = (uint64_t)(expected >> 64);
	return ok;
#else
	bool ok;

	__asm__ __volatile__("lock cmpxchg16b %1"
			     : "=@ccz"(ok), "+m"(*(volatile lfq__u128 *)p), "+a"(*lo), "+d"(*hi)
			     : "b"(new_lo), "c"(new_hi)
			     : "memory");
	return ok;
#endif
}
#endif

#endif /* LFQ_ARCH_H */
