/* SPDX-License-Identifier: MIT */
/* lfq_strerror: a static description for every code, from any thread or signal handler. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <lfq/error.h>

#define UNKNOWN "unknown error"

/* The codes lfq's public headers name, and the pthread and socket errors calls pass on.
 * tests/check_strerror.sh checks the headers against lfq_strerror on its own. */
static const int known[] = {
	-EINVAL,      -ENOMEM,	     -EAGAIN,	   -EPIPE,	  -ETIMEDOUT,  -ESHUTDOWN,
	-EDEADLK,     -EBUSY,	     -EINTR,	   -ENOENT,	  -ECANCELED,  -EPROTO,
	-EPERM,	      -ESRCH,	     -ENOSYS,	   -EOPNOTSUPP,	  -EOVERFLOW,  -ERANGE,
	-EEXIST,      -EALREADY,     -ENOSPC,	   -ECONNREFUSED, -ECONNRESET, -ECONNABORTED,
	-ENOTCONN,    -EHOSTUNREACH, -ENETUNREACH, -ENETDOWN,	  -EADDRINUSE, -EADDRNOTAVAIL,
	-EINPROGRESS, -EIO,	     -EBADF,	   -EMFILE,	  -ENFILE,     -EACCES,
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

Test(error, zero_is_success)
{
	cr_assert(strcmp(lfq_strerror(0), "success") == 0);
}

Test(error, every_known_code_has_its_own_description)
{
	for (size_t i = 0; i < NKNOWN; i++) {
		const char *s = lfq_strerror(known[i]);

		cr_assert_not_null(s, "code %d", known[i]);
		cr_assert_gt(strlen(s), 0, "code %d", known[i]);
		cr_assert(strcmp(s, UNKNOWN) != 0, "code %d has no description", known[i]);
		for (size_t j = 0; j < i; j++)
			cr_assert(strcmp(s, lfq_strerror(known[j])) != 0,
				  "codes %d and %d read the same", known[i], known[j]);
	}
}

Test(error, descriptions_say_what_lfq_means)
{
	cr_assert(strcmp(lfq_strerror(-EPIPE), "closed") == 0);
	cr_assert(strcmp(lfq_strerror(-ETIMEDOUT), "timed out") == 0);
	cr_assert(strcmp(lfq_strerror(-EINVAL), "invalid argument") == 0);
	cr_assert_not_null(strstr(lfq_strerror(-EAGAIN), "try again"));
	cr_assert_not_null(strstr(lfq_strerror(-ESHUTDOWN), "shut down"));
}

Test(error, unknown_and_positive_values_are_never_null)
{
	static const int unknown[] = {-4095, -100000, INT_MIN, INT_MIN + 1, -1000};
	static const int positive[] = {1, EINVAL, EPIPE, INT_MAX};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		cr_assert(strcmp(lfq_strerror(unknown[i]), UNKNOWN) == 0, "value %d", unknown[i]);
	for (size_t i = 0; i < sizeof(positive) / sizeof(positive[0]); i++) {
		const char *s = lfq_strerror(positive[i]);

		cr_assert_not_null(s);
		cr_assert(strcmp(s, UNKNOWN) != 0);
		cr_assert(strcmp(s, "success") != 0);
		cr_assert_not_null(strstr(s, "negative"), "value %d: %s", positive[i], s);
	}
}

Test(error, same_pointer_every_call)
{
	for (size_t i = 0; i < NKNOWN; i++)
		cr_assert_eq(lfq_strerror(known[i]), lfq_strerror(known[i]));
	cr_assert_eq(lfq_strerror(-100000), lfq_strerror(-100001));
}

/* From a signal handler: the handler's answers must be the main thread's. */
static const char *volatile from_handler[NKNOWN];

static void on_usr1(int sig)
{
	(void)sig;
	for (size_t i = 0; i < NKNOWN; i++)
		from_handler[i] = lfq_strerror(known[i]);
}

Test(error, callable_from_a_signal_handler)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, &old), 0);
	cr_assert_eq(raise(SIGUSR1), 0);
	cr_assert_eq(sigaction(SIGUSR1, &old, NULL), 0);
	for (size_t i = 0; i < NKNOWN; i++)
		cr_assert_eq(from_handler[i], lfq_strerror(known[i]), "code %d", known[i]);
}

/* From several threads at once: every answer is the single-threaded one. */
#define THREADS 4
#define ROUNDS 2000

static const char *expect[NKNOWN];

static void *hammer(void *arg)
{
	size_t *mismatches = arg;

	for (int r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < NKNOWN; i++)
			if (lfq_strerror(known[i]) != expect[i])
				(*mismatches)++;
	return NULL;
}

Test(error, concurrent_calls_agree)
{
	pthread_t t[THREADS];
	size_t mismatches[THREADS] = {0};

	for (size_t i = 0; i < NKNOWN; i++)
		expect[i] = lfq_strerror(known[i]);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hammer, &mismatches[i]), 0);
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(pthread_join(t[i], NULL), 0);
		cr_assert_eq(mismatches[i], 0, "thread %d saw other descriptions", i);
	}
}
