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
 * ones; the build selects the cell ring only where the compiler targets it.
 *
 * aarch64: CASPAL where the CPU has the ARMv8.1 atomics (LSE), otherwise an LDAXP/STLXP loop
 * followed by DMB ISH (ARMv8.0). Chosen at build time when the compiler targets ARMv8.1 or
 * later (__ARM_FEATURE_ATOMICS), at run time otherwise (lfq__arm_has_lse). Neither needs
 * libatomic, and both are lock-free (GCC 12 sends a 16-byte __atomic CAS to libatomic).
 * docs/design.md, "The cell ring on arm64", argues the ordering and the mixed-size atomicity.
 *
 * Under ThreadSanitizer the compiler's 16-byte __atomic builtin is used instead, so that TSan
 * sees the synchronization (it emulates 16-byte atomics; the ring then uses nothing but
 * 16-byte RMWs on a cell, so the emulation stays atomic with respect to every other RMW).
 */
#if (defined(__x86_64__) && defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)) ||                       \
	(defined(__aarch64__) && defined(__AARCH64EL__))
#define LFQ_HAVE_CAS128 1
__extension__ typedef unsigned __int128 lfq__u128;

#if defined(__aarch64__) && !defined(LFQ_TSAN)
#if !defined(__ARM_FEATURE_ATOMICS)
#include <stdatomic.h>
#include <sys/auxv.h>
#ifndef HWCAP_ATOMICS
#define HWCAP_ATOMICS (1UL << 8) /* the kernel's ABI value (asm/hwcap.h) */
#endif

/*
 * Whether this CPU has the ARMv8.1 atomics. Asked once per translation unit and remembered:
 * after the first call, one relaxed load and a predictable branch.
 */
static inline bool lfq__arm_has_lse(void)
{
	/* 0: not asked yet, 1: no LSE, 2: LSE. */
	static _Atomic unsigned char known;
	/* relaxed: a cache of a value that never changes; racing threads compute the same one */
	unsigned v = atomic_load_explicit(&known, memory_order_relaxed);

	if (__builtin_expect(v == 0, 0)) {
		v = (getauxval(AT_HWCAP) & HWCAP_ATOMICS) ? 2 : 1;
		/* relaxed: as above */
		atomic_store_explicit(&known, (unsigned char)v, memory_order_relaxed);
	}
	return v == 2;
}
#endif

/*
 * CASPAL compares (x0, x1) with the pair at p and stores (x2, x3) if they match; either way
 * x0, x1 receive what it read. The operand pairs must be even/odd register pairs, which no
 * constraint can ask for, hence the explicit registers. Acquire and release in one atomic
 * instruction: ordered after every earlier access and before every later one.
 */
static inline bool lfq__cas128_lse(void *p, uint64_t *lo, uint64_t *hi, uint64_t new_lo,
				   uint64_t new_hi)
{
	const uint64_t want_lo = *lo, want_hi = *hi;
	register uint64_t x0 __asm__("x0") = want_lo;
	register uint64_t x1 __asm__("x1") = want_hi;
	register uint64_t x2 __asm__("x2") = new_lo;
	register uint64_t x3 __asm__("x3") = new_hi;

	__asm__ __volatile__(".arch_extension lse\n\t"
			     "caspal %0, %1, %3, %4, %2"
			     : "+r"(x0), "+r"(x1), "+Q"(*(volatile lfq__u128 *)p)
			     : "r"(x2), "r"(x3)
			     : "memory");
	*lo = x0;
	*hi = x1;
	return x0 == want_lo && x1 == want_hi;
}

/*
 * ARMv8.0: LDAXP reads the pair, STLXP stores the new pair if no other observer wrote to the
 * granule since. LDAXP alone is single-copy atomic for each 64-bit half only: the pair is
 * one atomic read only once a store-exclusive to it succeeds. So a failed comparison stores
 * the pair it read back (STLXP of the same values) and retries until that succeeds too; only
 * then are (*lo, *hi) a value the cell really held. LOCK CMPXCHG16B also writes on failure.
 * The trailing DMB ISH makes the operation a full barrier as on x86-64 and with CASPAL:
 * without it a plain store before the loop and a plain load after it could pass each other.
 */
static inline bool lfq__cas128_llsc(void *p, uint64_t *lo, uint64_t *hi, uint64_t new_lo,
				    uint64_t new_hi)
{
	const uint64_t want_lo = *lo, want_hi = *hi;
	uint64_t old_lo, old_hi;
	uint32_t fail;

	__asm__ __volatile__("1:	ldaxp	%0, %1, %3\n\t"
			     "cmp	%0, %4\n\t"
			     "ccmp	%1, %5, #0, eq\n\t"
			     "b.ne	2f\n\t"
			     "stlxp	%w2, %6, %7, %3\n\t"
			     "cbnz	%w2, 1b\n\t"
			     "b	3f\n"
			     "2:	stlxp	%w2, %0, %1, %3\n\t"
			     "cbnz	%w2, 1b\n"
			     "3:	dmb	ish"
			     : "=&r"(old_lo), "=&r"(old_hi), "=&r"(fail),
			       "+Q"(*(volatile lfq__u128 *)p)
			     : "r"(want_lo), "r"(want_hi), "r"(new_lo), "r"(new_hi)
			     : "cc", "memory");
	*lo = old_lo;
	*hi = old_hi;
	return old_lo == want_lo && old_hi == want_hi;
}
#endif

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
#elif defined(__aarch64__) && defined(__ARM_FEATURE_ATOMICS)
	return lfq__cas128_lse(p, lo, hi, new_lo, new_hi);
#elif defined(__aarch64__)
	if (__builtin_expect(lfq__arm_has_lse(), 1))
		return lfq__cas128_lse(p, lo, hi, new_lo, new_hi);
	return lfq__cas128_llsc(p, lo, hi, new_lo, new_hi);
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
