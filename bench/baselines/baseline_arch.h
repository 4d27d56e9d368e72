/* SPDX-License-Identifier: MIT */
/*
 * Private to the baselines: the cache-line size used for padding and a CPU pause hint for
 * spin loops. Kept separate from lib/arch.h so the baselines build without lfq's internals.
 */
#ifndef LFQ_BENCH_BASELINE_ARCH_H
#define LFQ_BENCH_BASELINE_ARCH_H

/* 64 bytes on every x86-64 and most AArch64 parts; 128 would also cover adjacent-line
 * prefetch, at twice the memory. The baselines use 64, like lfq's default. */
#define BASELINE_CACHE_LINE 64

static inline void baseline_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* LFQ_BENCH_BASELINE_ARCH_H */
