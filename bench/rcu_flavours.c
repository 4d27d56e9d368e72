/* SPDX-License-Identifier: MIT */
/*
 * What a read-side critical section costs in each liburcu flavour lfq could use for lfq_queue
 * (docs/design.md, section 4, "Flavour"): one thread, an empty section in a loop.
 *   build/release/bench/rcu_flavours
 */
#define _LGPL_SOURCE
#include <stdio.h>
#include <time.h>
#include <urcu/urcu-memb.h>
#include <urcu/urcu-mb.h>
#include <urcu/urcu-qsbr.h>
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}
int main(void)
{
	const long N = 20000000;
	double t0, t1;
	volatile long sink = 0;
	urcu_memb_register_thread();
	t0 = now();
	for (long i = 0; i < N; i++) {
		urcu_memb_read_lock();
		sink += i;
		urcu_memb_read_unlock();
	}
	t1 = now();
	printf("memb: %.2f ns per read-side section\n", (t1 - t0) / N);
	urcu_memb_unregister_thread();
	urcu_mb_register_thread();
	t0 = now();
	for (long i = 0; i < N; i++) {
		urcu_mb_read_lock();
		sink += i;
		urcu_mb_read_unlock();
	}
	t1 = now();
	printf("mb:   %.2f ns per read-side section\n", (t1 - t0) / N);
	urcu_mb_unregister_thread();
	urcu_qsbr_register_thread();
	t0 = now();
	for (long i = 0; i < N; i++) {
		urcu_qsbr_read_lock();
		sink += i;
		urcu_qsbr_read_unlock();
		if ((i & 1023) == 0)
			urcu_qsbr_quiescent_state();
	}
	t1 = now();
	printf("qsbr: %.2f ns per read-side section (+ a quiescent state every 1024)\n",
	       (t1 - t0) / N);
	urcu_qsbr_unregister_thread();
	t0 = now();
	for (long i = 0; i < N; i++) {
		sink += i;
		__asm__ volatile("" ::: "memory");
	}
	t1 = now();
	printf("none: %.2f ns per iteration\n", (t1 - t0) / N);
	printf("(checksum %ld)\n", (long)sink);
	return 0;
}
