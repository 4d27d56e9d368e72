/* SPDX-License-Identifier: MIT */
/*
 * lfq_strerror: one switch over constants, so that it needs no buffer, no lock and no locale
 * (strerror(3) may use all three), which keeps it thread-safe and async-signal-safe. No
 * atomics here.
 */
#include <errno.h>

#include <lfq/error.h>

LFQ_API const char *lfq_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err > 0)
		return "not an error (lfq errors are negative errno values)";

	switch (err) {
	/* What lfq itself returns (see the public headers). */
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -EAGAIN:
		return "not possible right now (full, empty or nothing due): try again";
	case -EPIPE:
		return "closed";
	case -ETIMEDOUT:
		return "timed out";
	case -ESHUTDOWN:
		return "shut down: no new work is accepted";
	case -EDEADLK:
		return "would deadlock (a call that waits for the caller itself)";
	case -EBUSY:
		return "busy: already in use by another thread";
	case -EINTR:
		return "interrupted: a stop was requested";
	case -ENOENT:
		return "not found";
	case -ECANCELED:
		return "cancelled";
	case -EPROTO:
		return "protocol error: unexpected reply from the server";
	case -EBADMSG:
		return "corrupt shared ring: a cell in a state no operation writes";
	/* Negated pthread errors a call may pass on. */
	case -EPERM:
		return "operation not permitted";
	case -ESRCH:
		return "no such thread";
	case -ENOSYS:
		return "not supported by this system";
	case -EOPNOTSUPP:
		return "operation not supported";
	case -EOVERFLOW:
		return "value too large";
	case -ERANGE:
		return "out of range";
	case -EEXIST:
		return "already exists";
	case -EALREADY:
		return "already in progress";
	case -ENOSPC:
		return "no space left";
	/* Negated socket errors from liblfq_redis's connection to the server. */
	case -ECONNREFUSED:
		return "connection refused";
	case -ECONNRESET:
		return "connection reset by the server";
	case -ECONNABORTED:
		return "connection aborted";
	case -ENOTCONN:
		return "not connected";
	case -EHOSTUNREACH:
		return "host unreachable";
	case -ENETUNREACH:
		return "network unreachable";
	case -ENETDOWN:
		return "network is down";
	case -EADDRINUSE:
		return "address already in use";
	case -EADDRNOTAVAIL:
		return "address not available";
	case -EINPROGRESS:
		return "operation in progress";
	case -EIO:
		return "input/output error";
	case -EBADF:
		return "bad file descriptor";
	case -EMFILE:
		return "too many open files in this process";
	case -ENFILE:
		return "too many open files in the system";
	case -EACCES:
		return "permission denied";
	default:
		return "unknown error";
	}
}
