/* SPDX-License-Identifier: MIT */
/*
 * lfq_redis against a real redis-server: each test starts its own server on a free loopback
 * port (127.0.0.1 only) with a temporary directory, and kills it at the end.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include <lfq/pool.h>
#include <lfq/redis.h>

#define MAXN 1024
#define WAIT_MS 60000

struct server {
	pid_t pid;
	unsigned port;
	bool aof;
	char dir[64];
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static unsigned free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static redisContext *connect_to(unsigned port)
{
	redisContext *c =
		redisConnectWithTimeout("127.0.0.1", (int)port, (struct timeval){.tv_sec = 2});

	if (c && c->err) {
		redisFree(c);
		c = NULL;
	}
	return c;
}

static void server_start(struct server *s)
{
	char port[16], log[96];
	pid_t pid;

	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Dies with the test (even one that fails with _Exit), and keeps the test's
		 * output pipe free, so that meson does not wait for it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--save", "", "--appendonly", s->aof ? "yes" : "no", "--appendfsync",
		       "always", "--dir", s->dir, "--logfile", log, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; i < 400; i++) { /* up to ~10 s */
		redisContext *c = connect_to(s->port);

		if (c) {
			redisReply *r = redisCommand(c, "PING");
			bool ok = r && r->type == REDIS_REPLY_STATUS;

			freeReplyObject(r);
			redisFree(c);
			if (ok)
				return;
		}
		sleep_ms(25);
	}
	cr_assert(false, "redis-server did not answer PING");
}

static void server_stop(struct server *s)
{
	int status;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, &status, 0);
		s->pid = 0;
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void server_setup(struct server *s, bool aof)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(s->dir, sizeof(s->dir), "/tmp/lfq-redis-XXXXXX");
	cr_assert_not_null(mkdtemp(s->dir));
	s->port = free_port();
	s->aof = aof;
	server_start(s);
}

static void server_teardown(struct server *s)
{
	server_stop(s);
	nftw(s->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- jobs ---- */

static _Atomic unsigned runs[MAXN];
static _Atomic unsigned distinct;
static unsigned job_sleep_ms;

static int parse_n(const struct lfq_redis_field *f, size_t nf, const char *key, long *out)
{
	for (size_t i = 0; i < nf; i++) {
		if (f[i].key_len == strlen(key) && memcmp(f[i].key, key, f[i].key_len) == 0) {
			char buf[24];

			if (f[i].value_len == 0 || f[i].value_len >= sizeof(buf))
				return -1;
			memcpy(buf, f[i].value, f[i].value_len);
			buf[f[i].value_len] = '\0';
			*out = strtol(buf, NULL, 10);
			return 0;
		}
	}
	return -1;
}

static int job_ok(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg - 1;

	if (job_sleep_ms)
		sleep_ms(job_sleep_ms);
	if (atomic_fetch_add(&runs[i], 1) == 0)
		atomic_fetch_add(&distinct, 1);
	return 0;
}

static int job_fail(void *arg)
{
	(void)arg;
	return LFQ_JOB_FAIL;
}

static int decode(const char *id, const struct lfq_redis_field *f, size_t nf, struct lfq_job *job,
		  const char **reason, void *ctx)
{
	long n, fail = 0;

	(void)id;
	(void)ctx;
	if (parse_n(f, nf, "n", &n) != 0 || n < 0 || n >= MAXN) {
		*reason = "no valid n field";
		return -1;
	}
	(void)parse_n(f, nf, "fail", &fail);
	job->fn = fail ? job_fail : job_ok;
	job->arg = (void *)(uintptr_t)(n + 1);
	return 0;
}

static void on_dead(const struct lfq_job *job, int reason, unsigned attempts, int last_result,
		    void *ctx)
{
	(void)ctx;
	cr_assert(lfq_redis_on_dead(job, reason, attempts, last_result));
}

static void reset_counts(void)
{
	for (unsigned i = 0; i < MAXN; i++)
		atomic_store(&runs[i], 0);
	atomic_store(&distinct, 0);
	job_sleep_ms = 0;
}

static struct lfq_pool *make_pool(void)
{
	struct lfq_pool_config pc = {.workers = 2,
				     .queue_capacity = 8,
				     .flags = LFQ_POOL_NO_PIN,
				     .on_dead = on_dead,
				     .max_attempts = 1};
	struct lfq_pool *pool;

	cr_assert_eq(lfq_pool_create(&pool, &pc), 0);
	return pool;
}

struct runner {
	struct lfq_redis_source *src;
	pthread_t thread;
	int rc;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->rc = lfq_redis_source_run(r->src);
	return NULL;
}

static void start_source(struct runner *r, const struct server *s, struct lfq_pool *pool,
			 const char *consumer, unsigned min_idle_ms)
{
	struct lfq_redis_source_config cfg = {.port = s->port,
					      .stream = "jobs",
					      .group = "workers",
					      .consumer = consumer,
					      .dead_letter_stream = "jobs-dead",
					      .batch = 16,
					      .block_ms = 100,
					      .min_idle_ms = min_idle_ms ? min_idle_ms : 60000,
					      .reconnect_max_ms = 200,
					      .pool = pool,
					      .decode = decode};

	cr_assert_eq(lfq_redis_source_create(&r->src, &cfg), 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void stop_source(struct runner *r)
{
	lfq_redis_source_stop(r->src);
	cr_assert_eq(pthread_join(r->thread, NULL), 0);
	cr_assert_eq(r->rc, 0);
}

static void produce(const struct server *s, unsigned from, unsigned n, bool fail_every_5th,
		    bool malformed_every_7th)
{
	struct lfq_redis_producer *p;

	cr_assert_eq(lfq_redis_producer_create(&p, "127.0.0.1", s->port, 0), 0);
	for (unsigned i = from; i < from + n; i++) {
		char v[16];
		struct lfq_redis_field f[2] = {{"n", 1, v, 0}, {"fail", 4, "1", 1}};
		size_t nf = fail_every_5th && i % 5 == 0 ? 2 : 1;
		char id[48];

		snprintf(v, sizeof(v), "%u", i);
		f[0].value_len = strlen(v);
		if (malformed_every_7th && i % 7 == 0) {
			f[0].key = "junk";
			f[0].key_len = 4;
		}
		cr_assert_eq(lfq_redis_produce(p, "jobs", f, nf, 0, id, sizeof(id)), 0);
		cr_assert(strchr(id, '-') != NULL);
	}
	lfq_redis_producer_destroy(p);
}

static long long int_reply(const struct server *s, const char *fmt, ...)
{
	redisContext *c = connect_to(s->port);
	redisReply *r;
	long long v = -1;
	va_list ap;

	cr_assert_not_null(c);
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r);
	if (r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		 r->element[0]->type == REDIS_REPLY_INTEGER)
		v = r->element[0]->integer; /* XPENDING summary: the count */
	freeReplyObject(r);
	redisFree(c);
	return v;
}

static bool wait_for(bool (*cond)(const struct server *, unsigned), const struct server *s,
		     unsigned want)
{
	for (unsigned i = 0; i < WAIT_MS / 10; i++) {
		if (cond(s, want))
			return true;
		sleep_ms(10);
	}
	return false;
}

static bool distinct_reached(const struct server *s, unsigned want)
{
	(void)s;
	return atomic_load(&distinct) >= want;
}

static bool dead_reached(const struct server *s, unsigned want)
{
	return int_reply(s, "XLEN jobs-dead") >= (long long)want;
}

static bool nothing_pending(const struct server *s, unsigned want)
{
	(void)want;
	return int_reply(s, "XPENDING jobs workers") == 0;
}

/* Counts dead letters whose field lfq_reason equals reason and that carry lfq_detail
 * containing detail (if not NULL). */
static unsigned count_dead(const struct server *s, const char *reason, const char *detail)
{
	redisContext *c = connect_to(s->port);
	redisReply *r;
	unsigned n = 0;

	cr_assert_not_null(c);
	r = redisCommand(c, "XRANGE jobs-dead - +");
	cr_assert(r && r->type == REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *kv = r->element[i]->element[1];
		bool reason_ok = false, detail_ok = detail == NULL;

		for (size_t k = 0; k + 1 < kv->elements; k += 2) {
			if (strcmp(kv->element[k]->str, "lfq_reason") == 0)
				reason_ok = strcmp(kv->element[k + 1]->str, reason) == 0;
			if (detail && strcmp(kv->element[k]->str, "lfq_detail") == 0)
				detail_ok = strstr(kv->element[k + 1]->str, detail) != NULL;
		}
		n += reason_ok && detail_ok;
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* ---- tests ---- */

Test(redis, config_is_validated)
{
	struct lfq_redis_source *src = NULL;
	struct lfq_pool *pool = make_pool();
	struct lfq_redis_source_config cfg = {.stream = "s",
					      .group = "g",
					      .consumer = "c",
					      .dead_letter_stream = "d",
					      .pool = pool,
					      .decode = decode};
	struct lfq_redis_source_config bad;

	cr_assert_eq(lfq_redis_source_create(NULL, &cfg), -EINVAL);
	cr_assert_eq(lfq_redis_source_create(&src, NULL), -EINVAL);
	bad = cfg;
	bad.dead_letter_stream = "s";
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.group = "";
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.batch = 32;
	bad.max_inflight = 16;
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.port = 70000;
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.decode = NULL;
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	cr_assert_null(src);
	cr_assert_eq(lfq_redis_source_create(&src, &cfg), 0);
	lfq_redis_source_destroy(src);
	lfq_redis_source_destroy(NULL);
	cr_assert_not(lfq_redis_on_dead(&(struct lfq_job){.fn = job_ok}, LFQ_DEAD_FAILED, 1, 1));
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
}

Test(redis, jobs_flow_through_and_are_acked)
{
	struct server s;
	struct runner r;
	struct lfq_pool *pool;
	struct lfq_redis_source_stats st;
	const unsigned n = 300;

	reset_counts();
	server_setup(&s, false);
	produce(&s, 0, n, false, false);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	cr_assert_eq(lfq_redis_source_stats(r.src, &st), 0);
	cr_assert_eq(st.acked, n);
	cr_assert_eq(st.dead_letters, 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&runs[i]), 1, "job %u ran %u times", i,
			     atomic_load(&runs[i]));
	cr_assert_eq(int_reply(&s, "XPENDING jobs workers"), 0);
	lfq_redis_source_destroy(r.src);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
	server_teardown(&s);
}

Test(redis, failed_and_malformed_entries_are_dead_lettered)
{
	struct server s;
	struct runner r;
	struct lfq_pool *pool;
	const unsigned n = 140; /* 0..139: 20 malformed (i % 7), 24 more failing (i % 5) */
	unsigned malformed = 0, failing = 0;

	for (unsigned i = 0; i < n; i++) {
		malformed += i % 7 == 0;
		failing += i % 7 != 0 && i % 5 == 0;
	}
	reset_counts();
	server_setup(&s, false);
	produce(&s, 0, n, true, true);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	cr_assert(wait_for(distinct_reached, &s, n - malformed - failing));
	cr_assert(wait_for(dead_reached, &s, malformed + failing));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	cr_assert_eq(count_dead(&s, "malformed", "no valid n field"), malformed);
	cr_assert_eq(count_dead(&s, "failed", NULL), failing);
	cr_assert_eq(int_reply(&s, "XLEN jobs-dead"), (long long)(malformed + failing));
	lfq_redis_source_destroy(r.src);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
	server_teardown(&s);
}

Test(redis, two_consumers_share_a_stream)
{
	struct server s;
	struct runner r1, r2;
	struct lfq_pool *p1, *p2;
	struct lfq_redis_source_stats st1, st2;
	const unsigned n = 600;

	reset_counts();
	job_sleep_ms = 1;
	server_setup(&s, false);
	p1 = make_pool();
	p2 = make_pool();
	start_source(&r1, &s, p1, "c1", 0);
	start_source(&r2, &s, p2, "c2", 0);
	produce(&s, 0, n, false, false);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r1);
	stop_source(&r2);
	cr_assert_eq(lfq_redis_source_stats(r1.src, &st1), 0);
	cr_assert_eq(lfq_redis_source_stats(r2.src, &st2), 0);
	cr_assert_eq(st1.acked + st2.acked, n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_geq(atomic_load(&runs[i]), 1);
	lfq_redis_source_destroy(r1.src);
	lfq_redis_source_destroy(r2.src);
	cr_assert_eq(lfq_pool_shutdown(p1, -1), 0);
	cr_assert_eq(lfq_pool_shutdown(p2, -1), 0);
	lfq_pool_destroy(p1);
	lfq_pool_destroy(p2);
	server_teardown(&s);
}

Test(redis, source_reconnects_after_server_restart)
{
	struct server s;
	struct runner r;
	struct lfq_pool *pool;
	struct lfq_redis_source_stats st;
	const unsigned n = 400;

	reset_counts();
	job_sleep_ms = 1;
	server_setup(&s, true); /* append-only file: the stream survives the restart */
	produce(&s, 0, n, false, false);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 500);
	cr_assert(wait_for(distinct_reached, &s, 50));
	server_stop(&s);
	sleep_ms(100);
	server_start(&s);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	cr_assert_eq(lfq_redis_source_stats(r.src, &st), 0);
	cr_assert_geq(st.reconnects, 1);
	for (unsigned i = 0; i < n; i++)
		cr_assert_geq(atomic_load(&runs[i]), 1);
	lfq_redis_source_destroy(r.src);
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
	server_teardown(&s);
}

#ifdef LFQ_REDIS_CONSUMER
/* ---- consumer processes (tests/redis_consumer.c) ---- */

static pid_t spawn_consumer(const struct server *s, const char *name, const char *log,
			    const char *max_inflight)
{
	char port[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%u", s->port);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(LFQ_REDIS_CONSUMER, LFQ_REDIS_CONSUMER, port, name, log, "500", max_inflight,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Reads the shared log: fills per-index run counts, returns the lines (runs) read. */
static unsigned read_log(const char *path, unsigned *counts, unsigned n, unsigned *distinct_out)
{
	FILE *f = fopen(path, "r");
	unsigned lines = 0, d = 0, i;

	memset(counts, 0, n * sizeof(*counts));
	if (f) {
		while (fscanf(f, "%u", &i) == 1) {
			lines++;
			if (i < n && counts[i]++ == 0)
				d++;
		}
		fclose(f);
	}
	*distinct_out = d;
	return lines;
}

Test(redis, killed_consumer_work_is_reclaimed)
{
	static unsigned counts[MAXN];
	struct server s;
	char log[96];
	const unsigned n = 400, window = 32;
	unsigned lines = 0, d = 0, i;
	pid_t a, b;
	int status;

	server_setup(&s, false);
	snprintf(log, sizeof(log), "%s/runs.log", s.dir);
	produce(&s, 0, n, false, false);
	a = spawn_consumer(&s, "ca", log, "32");
	b = spawn_consumer(&s, "cb", log, "32");
	for (i = 0; i < WAIT_MS / 10 && lines < 60; i++) {
		sleep_ms(10);
		lines = read_log(log, counts, n, &d);
	}
	cr_assert_geq(lines, 60, "consumers made no progress");
	kill(a, SIGKILL);
	cr_assert_eq(waitpid(a, &status, 0), a);
	for (i = 0; i < WAIT_MS / 10; i++) {
		lines = read_log(log, counts, n, &d);
		if (d == n && nothing_pending(&s, 0))
			break;
		sleep_ms(10);
	}
	cr_assert_eq(d, n, "only %u of %u entries ran", d, n);
	cr_assert(nothing_pending(&s, 0));
	kill(b, SIGTERM);
	cr_assert_eq(waitpid(b, &status, 0), b);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	lines = read_log(log, counts, n, &d);
	/* Duplicates: only entries the killed consumer ran and had not acknowledged yet. */
	cr_assert_leq(lines - n, window, "%u duplicates, window %u", lines - n, window);
	server_teardown(&s);
}
#endif
