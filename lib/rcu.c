/* SPDX-License-Identifier: MIT */
/* Automatic urcu-memb registration of the threads that use lfq_queue. */
#include <errno.h>
#include <pthread.h>

#define LFQ_RCU_STATIC
#include "rcu.h"

_Thread_local bool lfq__rcu_registered;
#ifdef LFQ_TSAN
char lfq__rcu_tsan_domain;
#endif

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static int key_error;

/* Runs in the exiting thread (a pthread key destructor) if lfq registered it. */
static void unregister_at_exit(void *value)
{
	(void)value;
	urcu_memb_unregister_thread();
	/* A pthread key destructor that runs after this one may still use a queue: it must
	 * register again (glibc then runs another round of destructors), not enter read-side
	 * sections that grace periods no longer wait for. */
	lfq__rcu_registered = false;
}

static void make_key(void)
{
	key_error = pthread_key_create(&exit_key, unregister_at_exit);
}

int lfq__rcu_setup(void)
{
	pthread_once(&key_once, make_key);
	return key_error ? -EAGAIN : 0;
}

void lfq__rcu_register_slow(void)
{
	/* A thread the application registered itself stays the application's to unregister. */
	if (!URCU_TLS(urcu_memb_reader).registered) {
		urcu_memb_register_thread();
		/* Any non-NULL value makes the destructor run at thread exit. The key exists:
		 * every queue was created after a successful lfq__rcu_setup. */
		pthread_setspecific(exit_key, &lfq__rcu_registered);
	}
	lfq__rcu_registered = true;
}
