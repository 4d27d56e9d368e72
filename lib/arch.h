/* SPDX-License-Identifier: MIT */
/*
 * The only architecture-specific code in lfq: the cache-line size and a spin-wait hint.
 * Everything else is portable C11 atomics.
 */
#ifndef LFQ_ARCH_H
#define LFQ_ARCH_H

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

#endif /* LFQ_ARCH_H */
