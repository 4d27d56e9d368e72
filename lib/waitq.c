/* SPDX-License-Identifier: MIT */
/* The system-call half of the eventcount (waitq.h). */
#include <errno.h>
#include <sched.h>
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

/* Process-private futexes skip the kernel's lookup of the backing page; shared ones (a ring
 * in memory several processes map, each at its own address) are keyed by that page. */
static int private_flag(const struct lfq__waitq *w)
{
	return w->shared ? 0 : FUTEX_PRIVATE_FLAG;
}

bool lfq__waitq_sleep(struct lfq__waitq *w, uint32_t key, int64_t deadline_ns)
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
	return syscall(SYS_futex, &w->seq, FUTEX_WAIT_BITSET | private_flag(w), key, tsp, NULL,
		       FUTEX_BITSET_MATCH_ANY) == 0;
}

int lfq__waitq_wake(struct lfq__waitq *w, int n)
{
	/* N2: release: a sleeper that reads the new seq (W3) also sees the publish. */
	atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
#ifdef LFQ_TESTING
	atomic_fetch_add_explicit(&lfq__test_futex_wakes, 1, memory_order_relaxed);
#endif
	const long woken =
		syscall(SYS_futex, &w->seq, FUTEX_WAKE | private_flag(w), n, NULL, NULL, 0);

	/* N3: the woken threads' announcements, withdrawn for them (see waitq.h). */
	if (woken > 0)
		atomic_fetch_sub_explicit(&w->waiters, (uint32_t)woken, memory_order_relaxed);
	return woken > 0 ? (int)woken : 0;
}

int lfq__waitq_wait(struct lfq__waitq *wq, int (*try)(void *obj, void *arg), void *obj, void *arg,
		    int64_t timeout_ns)
{
	int rc = try(obj, arg);

	if (rc != -EAGAIN || timeout_ns == 0)
		return rc;
	const int64_t deadline = lfq__deadline(timeout_ns);

	/* Spin: most hand-offs between running threads complete within microseconds, far
	 * sooner than a futex sleep and wake-up round trip. */
	for (unsigned i = 0; i < LFQ_WAIT_SPINS; i++) {
		lfq__cpu_relax();
		rc = try(obj, arg);
		if (rc != -EAGAIN)
			return rc;
	}
	const int64_t spin_end = lfq__now_ns() + LFQ_WAIT_SPIN_NS;

	do {
		sched_yield(); /* lets the thread we wait for run, if it shares our CPU */
		rc = try(obj, arg);
		if (rc != -EAGAIN)
			return rc;
	} while (lfq__now_ns() < spin_end && (deadline < 0 || lfq__now_ns() < deadline));
	/* Sleep. */
	for (;;) {
		const uint32_t key = lfq__waitq_prepare(wq);

		rc = try(obj, arg);
		if (rc != -EAGAIN || (deadline >= 0 && lfq__now_ns() >= deadline)) {
			lfq__waitq_done(wq);
			return rc == -EAGAIN ? -ETIMEDOUT : rc;
		}
		if (!lfq__waitq_sleep(wq, key, deadline))
			lfq__waitq_done(wq);
	}
}
