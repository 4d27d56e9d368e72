/* SPDX-License-Identifier: MIT */
/* Storage for the test hooks; built only into the lfq_testing library. */
#include "testing.h"

#ifdef LFQ_TESTING
void (*_Atomic lfq__test_hook)(int point);
void (*_Atomic lfq__sched_hook)(const char *file, int line);
_Atomic int lfq__test_deq_spins = 64;
_Atomic unsigned long lfq__test_futex_wakes;
_Atomic int lfq__test_fail_alloc;
_Atomic int lfq__test_fail_membarrier;
#endif
