/* SPDX-License-Identifier: MIT */
/* lfq_version: the version this library was built as (no atomics here). */
#include <lfq/version.h>

LFQ_API const char *lfq_version(void)
{
	return LFQ_VERSION_STRING;
}
