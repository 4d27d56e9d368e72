/* SPDX-License-Identifier: MIT */
/*
 * lfq_pool's configuration: validating a struct lfq_pool_config, the defaults it leaves to
 * the pool, the sizes create allocates, the CPUs the pool counts (affinity mask and cgroup
 * v2 quota) and which CPU each worker is pinned to. No atomics (but a test hook).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lfq/pool.h>

#include "pool_internal.h"

/* Most free slots a sleeping submit_wait waits for before a worker wakes it (see
 * lfq__pool_copy_out). */
#define WAKE_FREE_MAX 64

/* n rounded up to a whole number of cache lines, in 64-bit arithmetic; 0 if that exceeds
 * size_max (or n does). */
static uint64_t lines_within(uint64_t n, uint64_t size_max)
{
	if (n > size_max || n > UINT64_MAX - LFQ_CACHE_LINE)
		return 0;
	n = (n + LFQ_CACHE_LINE - 1) / LFQ_CACHE_LINE * LFQ_CACHE_LINE;
	return n > size_max ? 0 : n;
}

static unsigned order_for(size_t capacity)
{
	unsigned order = 0;

	while (((size_t)1 << order) < capacity)
		order++;
	return order;
}

int lfq__pool_layout(size_t capacity, unsigned levels, unsigned nworkers, uint64_t size_max,
		     struct lfq__pool_layout *out)
{
	if (capacity == 0 || capacity > LFQ_POOL_CAPACITY_MAX || levels == 0 ||
	    levels > LFQ_POOL_PRIORITIES_MAX || nworkers == 0)
		return -EINVAL;
	out->order = order_for(capacity);
	/* Every product in 64 bits (order <= 24, capacity <= 2^24, nworkers < 2^32: each is
	 * far below 2^64), then checked against size_max: on a 32-bit target
	 * `(size_t)2 << order` and the products would wrap before any check could run. */
	const uint64_t entries = (uint64_t)2 << out->order;

	out->ring_bytes = entries * sizeof(_Atomic uint64_t);
	out->entries_bytes = lines_within((uint64_t)(levels + 1) * out->ring_bytes, size_max);
	out->slots_bytes = lines_within((uint64_t)capacity * sizeof(struct lfq__task), size_max);
	out->workers_bytes =
		lines_within((uint64_t)nworkers * sizeof(struct lfq__pool_worker), size_max);
	if (!out->entries_bytes || !out->slots_bytes || !out->workers_bytes)
		return -ENOMEM;
	return 0;
}

int lfq__cpu_mask_get(struct lfq__cpu_mask *m)
{
	m->nconf = sysconf(_SC_NPROCESSORS_CONF);
	if (m->nconf < 1)
		m->nconf = 1;
	const long nalloc = m->nconf > CPU_SETSIZE ? m->nconf : CPU_SETSIZE;

	m->set = CPU_ALLOC((int)nalloc);
	if (!m->set)
		return -ENOMEM;
	m->size = CPU_ALLOC_SIZE((int)nalloc);
	CPU_ZERO_S(m->size, m->set);
	if (sched_getaffinity(0, m->size, m->set) != 0) {
		const int err = errno;

		CPU_FREE(m->set);
		return -err;
	}
	return 0;
}

void lfq__cpu_mask_free(struct lfq__cpu_mask *m)
{
	CPU_FREE(m->set);
}

#ifdef LFQ_TESTING
const char *_Atomic lfq__pool_test_cpu_max;
#endif

unsigned lfq__cpu_max_limit(const char *path)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	char quota[32];
	unsigned long long period = 0;
	const int n = fscanf(f, "%31s %llu", quota, &period);

	fclose(f);
	if (n != 2 || period == 0 || strcmp(quota, "max") == 0)
		return 0;
	char *end;
	const unsigned long long q = strtoull(quota, &end, 10);

	if (*end != '\0' || q == 0)
		return 0;
	/* ceil(quota / period), without overflow; at least 1. */
	const unsigned long long cpus = q / period + (q % period != 0);

	return cpus > UINT_MAX ? UINT_MAX : cpus < 1 ? 1 : (unsigned)cpus;
}

/* The cgroup v2 directory of this process (the "0::" line of /proc/self/cgroup under the
 * cgroup2 mount found in /proc/self/mountinfo), and that mount point: true if found. */
static bool cgroup_dir(char *dir, size_t dlen, char *mnt, size_t mlen)
{
	char line[4096], rel[2048] = "", root[2048] = "";
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0 && sscanf(line + 3, "%2047s", rel) == 1)
			break;
	fclose(f);
	if (rel[0] != '/')
		return false;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	bool found = false;

	mnt[0] = '\0';
	while (!found && fgets(line, sizeof(line), f)) {
		const char *dash = strstr(line, " - cgroup2 ");
		char mp[2048];

		/* id parent major:minor root mount-point ... - cgroup2 ... */
		if (dash && sscanf(line, "%*s %*s %*s %2047s %2047s", root, mp) == 2 &&
		    strlen(mp) < mlen) {
			snprintf(mnt, mlen, "%s", mp);
			found = true;
		}
	}
	fclose(f);
	if (!found)
		return false;
	/* The cgroup path relative to the mount's root (a container sees its own root). */
	const size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	const char *tail = strncmp(rel, root, rl) == 0 ? rel + rl : rel;
	const int w = snprintf(dir, dlen, "%s%s", mnt, strcmp(tail, "/") == 0 ? "" : tail);

	return w > 0 && (size_t)w < dlen;
}

unsigned lfq__cpu_quota(void)
{
#ifdef LFQ_TESTING
	const char *fake = atomic_load_explicit(&lfq__pool_test_cpu_max, memory_order_relaxed);

	if (fake)
		return lfq__cpu_max_limit(fake);
#endif
	char dir[4096], mnt[2048], path[4200];

	if (!cgroup_dir(dir, sizeof(dir), mnt, sizeof(mnt)))
		return 0;
	unsigned limit = 0;
	const size_t ml = strlen(mnt);

	/* This cgroup and each ancestor up to the mount: the smallest limit applies. */
	for (;;) {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		const unsigned l = lfq__cpu_max_limit(path);

		if (l && (!limit || l < limit))
			limit = l;
		char *slash = strrchr(dir, '/');

		if (strlen(dir) <= ml || !slash || (size_t)(slash - dir) < ml)
			break;
		*slash = '\0';
	}
	return limit;
}

unsigned lfq__pool_cpu_count(const struct lfq__cpu_mask *mask)
{
	const unsigned nallowed = (unsigned)CPU_COUNT_S(mask->size, mask->set);
	const unsigned quota = lfq__cpu_quota();

	return quota && quota < nallowed ? quota : nallowed;
}

static bool cpu_usable(const struct lfq__cpu_mask *m, unsigned cpu)
{
	return (long)cpu < m->nconf && (size_t)cpu < m->size * 8 &&
	       CPU_ISSET_S(cpu, m->size, m->set);
}

int lfq__pool_validate(const struct lfq_pool_config *cfg)
{
	const int64_t base =
		cfg->retry_base_ns ? cfg->retry_base_ns : LFQ_POOL_DEFAULT_RETRY_BASE_NS;
	const int64_t cap = cfg->retry_cap_ns ? cfg->retry_cap_ns : LFQ_POOL_DEFAULT_RETRY_CAP_NS;

	if (cfg->priorities > LFQ_POOL_PRIORITIES_MAX || cfg->log_level > LFQ_LOG_DEBUG ||
	    base < 0 || cap < base)
		return -EINVAL;
	if (cfg->workers > LFQ_POOL_WORKERS_MAX || cfg->queue_capacity > LFQ_POOL_CAPACITY_MAX ||
	    (cfg->flags &
	     ~(LFQ_POOL_NO_PIN | LFQ_POOL_PIN | LFQ_POOL_METRICS | LFQ_POOL_COMPLETIONS)) ||
	    (!cfg->cpus != !cfg->ncpus) || (cfg->cpus && (cfg->flags & LFQ_POOL_NO_PIN)) ||
	    ((cfg->flags & LFQ_POOL_PIN) && (cfg->flags & LFQ_POOL_NO_PIN)) ||
	    !lfq__all_zero(cfg->reserved, sizeof(cfg->reserved) / sizeof(cfg->reserved[0])))
		return -EINVAL;
	if (cfg->name && strlen(cfg->name) > sizeof(((struct lfq_pool *)0)->name) - 1)
		return -EINVAL;
	return 0;
}

int lfq__pool_check_cpus(const struct lfq_pool_config *cfg, const struct lfq__cpu_mask *mask)
{
	for (size_t i = 0; i < cfg->ncpus; i++)
		if (!cpu_usable(mask, cfg->cpus[i]))
			return -EINVAL;
	return 0;
}

void lfq__pool_sizes(const struct lfq_pool_config *cfg, const struct lfq__cpu_mask *mask,
		     struct lfq__pool_sizes *out)
{
	/* The default worker count: one per CPU the pool may use (the affinity mask, cut to
	 * the cgroup's CPU quota). */
	const unsigned nallowed = lfq__pool_cpu_count(mask);

	out->nworkers = cfg->workers ? cfg->workers : (nallowed ? nallowed : 1);
	out->capacity = cfg->queue_capacity ? cfg->queue_capacity : LFQ_POOL_DEFAULT_CAPACITY;
	out->levels = cfg->priorities ? cfg->priorities : 1;
}

void lfq__pool_apply_config(struct lfq_pool *pool, const struct lfq_pool_config *cfg)
{
	const size_t capacity = pool->capacity;

	pool->starve_limit = cfg->starve_limit ? cfg->starve_limit : LFQ_POOL_DEFAULT_STARVE_LIMIT;
	pool->max_attempts = cfg->max_attempts ? cfg->max_attempts : LFQ_POOL_DEFAULT_MAX_ATTEMPTS;
	pool->retry_base_ns =
		cfg->retry_base_ns ? cfg->retry_base_ns : LFQ_POOL_DEFAULT_RETRY_BASE_NS;
	pool->retry_cap_ns = cfg->retry_cap_ns ? cfg->retry_cap_ns : LFQ_POOL_DEFAULT_RETRY_CAP_NS;
	pool->metrics = (cfg->flags & LFQ_POOL_METRICS) != 0;
	pool->on_dead = cfg->on_dead;
	pool->log = cfg->log;
	pool->log_level = cfg->log_level ? cfg->log_level : LFQ_LOG_INFO;
	pool->clock = cfg->clock;
	/* Sleeping submitters are woken once this many slots are free: half the queue, at most
	 * WAKE_FREE_MAX (so a big queue does not make them wait for thousands of jobs). */
	pool->wake_free = capacity / 2 < 1		 ? 1
			  : capacity / 2 > WAKE_FREE_MAX ? WAKE_FREE_MAX
							 : capacity / 2;
	pool->idle_spin = cfg->idle_spin ? cfg->idle_spin : LFQ_POOL_DEFAULT_IDLE_SPIN;
	pool->on_error = cfg->on_error;
	pool->on_cancelled = cfg->on_cancelled;
	pool->ctx = cfg->ctx;
	snprintf(pool->name, sizeof(pool->name), "%s", cfg->name ? cfg->name : "lfq-w");
}

int lfq__pool_assign_cpus(struct lfq_pool *pool, const struct lfq_pool_config *cfg,
			  const struct lfq__cpu_mask *mask)
{
	const unsigned nallowed = (unsigned)CPU_COUNT_S(mask->size, mask->set);
	/* Pinned only when asked: a pinned worker can only run on its CPU, so when that CPU is
	 * busy (a submitter, another worker, another process) a woken worker waits there
	 * although another CPU may be idle; unpinned, the scheduler moves it (docs/tuning.md,
	 * "Pinning"). */
	const bool pin = cfg->cpus || (cfg->flags & LFQ_POOL_PIN);
	/* Worker i's CPU: cpus[i % ncpus], or the (i % nallowed)-th allowed CPU. */
	unsigned *allowed = NULL;

	if (pin && !cfg->cpus) {
		allowed = malloc((nallowed ? nallowed : 1) * sizeof(*allowed));
		if (!allowed)
			return -ENOMEM;
		unsigned k = 0;

		for (long c = 0; c < (long)(mask->size * 8) && k < nallowed; c++)
			if (CPU_ISSET_S((size_t)c, mask->size, mask->set))
				allowed[k++] = (unsigned)c;
	}
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct lfq__pool_worker *w = &pool->workers[i];

		if (!pin || (!cfg->cpus && nallowed == 0))
			w->cpu = -1;
		else
			w->cpu = (int)(cfg->cpus ? cfg->cpus[i % cfg->ncpus]
						 : allowed[i % nallowed]);
	}
	free(allowed);
	return 0;
}
