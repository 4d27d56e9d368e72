// SPDX-License-Identifier: MIT
// Every public header must compile as C++ (the benchmarks and many users are C++).
#include <lfq/lfq.h>
#include <lfq/ring.h>

int main()
{
	lfq_ring *r = nullptr;
	int rc = lfq_ring_create(&r, 4, LFQ_RING_FLAGS_NONE);
	lfq_ring_destroy(r);
	const char *v = lfq_version();
	const char *e = lfq_strerror(rc);
	return rc == 0 && v != nullptr && e != nullptr ? 0 : 1;
}
