// SPDX-License-Identifier: MIT
// Every public header must compile as C++ (the benchmarks and many users are C++).
#include <lfq/lfq.h>
#include <lfq/ring.h>

int main()
{
	lfq_ring *r = nullptr;
	int rc = lfq_ring_create(&r, 4, LFQ_RING_FLAGS_NONE);
	lfq_ring_destroy(r);
	return rc == 0 ? 0 : 1;
}
