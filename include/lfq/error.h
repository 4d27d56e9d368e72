/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * Descriptions of the error codes lfq calls return.
 *
 * Every fallible lfq call returns 0 or a negative errno value (-EINVAL, -EAGAIN, -EPIPE, ...;
 * each header lists which, and what each means for that call); nothing sets `errno`.
 * lfq_strerror turns such a value into a short English description for logs.
 */
#ifndef LFQ_ERROR_H
#define LFQ_ERROR_H

#include <lfq/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Describes an lfq result code.
 *
 * @param err  a value an lfq call returned: 0, or a negative errno.
 * @return a static, NUL-terminated description, never NULL and never to be freed:
 *         "success" for 0; for each negative errno an lfq call can return (including the
 *         negated pthread and socket errors some calls pass on) its description, e.g.
 *         "closed" for -EPIPE; "unknown error" for any other negative value; and
 *         "not an error (lfq errors are negative errno values)" for a positive value.
 *         The same @p err always gives the same pointer.
 *
 * Unlike strerror(3) it never uses a buffer, a lock or the locale.
 * Thread-safety: any thread; async-signal-safe (it only reads constant data); wait-free.
 */
LFQ_API const char *lfq_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LFQ_ERROR_H */
