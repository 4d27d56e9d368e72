/* SPDX-License-Identifier: MIT */
/**
 * @file common.h
 * Macros shared by every lfq public header: symbol export, result checks and durations.
 *
 * Every lfq header includes this one, and with it <errno.h>: the error constants the headers
 * document (EINVAL, EAGAIN, EPIPE, ETIMEDOUT, ESHUTDOWN, ...) are usable as soon as any lfq
 * header is included.
 */
#ifndef LFQ_COMMON_H
#define LFQ_COMMON_H

#include <errno.h>
#include <stdint.h>

#if defined(LFQ_BUILDING_LIBRARY) && defined(__GNUC__)
#define LFQ_API __attribute__((visibility("default")))
#else
#define LFQ_API
#endif

#if defined(__GNUC__)
/** Marks a call whose result must be looked at (errors are return values). */
#define LFQ_NODISCARD __attribute__((warn_unused_result))
#else
#define LFQ_NODISCARD
#endif

/**
 * Durations. Every lfq time is an int64_t count of nanoseconds: timeouts and drain timeouts
 * are relative (< 0: no limit, see LFQ_FOREVER; 0: do not wait), deadlines are absolute on
 * the clock the call names. These build such counts: `lfq_pool_shutdown(pool, LFQ_SEC(5))`.
 * The argument is converted to int64_t first; a result beyond INT64_MAX (about 292 years)
 * overflows.
 */
#define LFQ_NS(x) ((int64_t)(x))
/** @p x microseconds, in ns. */
#define LFQ_US(x) ((int64_t)(x)*1000)
/** @p x milliseconds, in ns. */
#define LFQ_MS(x) ((int64_t)(x)*1000000)
/** @p x seconds, in ns. */
#define LFQ_SEC(x) ((int64_t)(x)*1000000000)
/** A timeout that never expires (any negative timeout means the same). */
#define LFQ_FOREVER ((int64_t)-1)

#endif /* LFQ_COMMON_H */
