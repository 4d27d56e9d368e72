/* SPDX-License-Identifier: MIT */
/* Time helpers shared by the test suites: CLOCK_MONOTONIC now, and sleeps that resume after
 * a signal. Lower bounds only: no test asserts how long something took at most. */
#ifndef LFQ_TESTS_TEST_TIME_H
#define LFQ_TESTS_TEST_TIME_H

#include <stdint.h>
#include <time.h>

#define MS 1000000LL

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

#endif /* LFQ_TESTS_TEST_TIME_H */
