/* SPDX-License-Identifier: MIT */
/**
 * @file common.h
 * Macros shared by every lfq public header: symbol export and result checks.
 */
#ifndef LFQ_COMMON_H
#define LFQ_COMMON_H

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

#endif /* LFQ_COMMON_H */
