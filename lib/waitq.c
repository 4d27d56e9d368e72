/* SPDX-License-Identifier: MIT */
/* The system-call half of the eventcount (waitq.h). */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "testing.h"
#include "waitq.h"

int64_t lfq__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void lfq__waitq_sleep(struct lfq__waitq *w, uint32_t key, int64_t deadline_ns)
{
	struct timespec abs, *tsp = NULL;

	if (deadline_ns >= 0) {
		abs.tv_sec = (time_t)(deadline_ns / 1000000000);
		abs.tv_nsec = (long)(deadline_ns % 1000000000);
		tsp = &abs;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wait restarted
	 * after a signal does not stretch the timeout. EINTR, EAGAIN (seq already changed) and
	 * ETIMEDOUT all return to the caller, which re-checks its condition and the clock. */
	syscall(SYS_futex, &w->seq, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, key, tsp, NULL,
		FUTEX_BITSET_MATCH_ANY);
}

void lfq__waitq_wake(struct lfq__waitq *w, int n)
{
	/* N2: release: a sleeper that reads the new seq (W3) also sees the publish. */
	atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
#ifdef LFQ_TESTING
	atomic_fetch_add_explicit(&lfq__test_futex_wakes, 1, memory_order_relaxed);
#endif
	syscall(SYS_futex, &w->seq, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}
