/* SPDX-License-Identifier: MIT */
/*
 * lfq_redis against a real redis-server: each test starts its own server on a free loopback
 * port (127.0.0.1 only) with a temporary directory, and kills it at the end.
 *
 * The fault tests (consumers SIGKILLed, the server SIGKILLed and restarted, passwords, long
 * jobs, poison entries) check that every job ran at least once, that nothing is left pending
 * and that lfq_redis_source_run never returned early, and print how many runs were
 * duplicates ("redis.<test>: ... duplicates"), which at-least-once delivery allows.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
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

#define MAXN 4096
#define WAIT_MS 60000

struct server {
	pid_t pid;
	unsigned port;
	bool aof;
	const char *password;  /* requirepass, used by the test's own connections */
	const char *acl[2][8]; /* up to two extra ACL users: "--user" directives' words */
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

static redisContext *connect_pw(unsigned port, const char *password)
{
	redisContext *c =
		redisConnectWithTimeout("127.0.0.1", (int)port, (struct timeval){.tv_sec = 2});

	if (c && c->err) {
		redisFree(c);
		c = NULL;
	}
	if (c && password) {
		redisReply *r = redisCommand(c, "AUTH %s", password);
		bool ok = r && r->type == REDIS_REPLY_STATUS;

		freeReplyObject(r);
		if (!ok) {
			redisFree(c);
			c = NULL;
		}
	}
	return c;
}

static redisContext *connect_to(const struct server *s)
{
	return connect_pw(s->port, s->password);
}

/* PING answers PONG (not LOADING, not refused). */
static bool server_ready(const struct server *s)
{
	redisContext *c = connect_to(s);
	bool ok = false;

	if (c) {
		redisReply *r = redisCommand(c, "PING");

		ok = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		redisFree(c);
	}
	return ok;
}

/* Starts redis-server; with wait, returns once it answers PING (its dataset loaded). */
static void server_spawn(struct server *s, bool wait)
{
	char port[16], log[96];
	const char *argv[64];
	int argc = 0;
	pid_t pid;

	snprintf(port, sizeof(port), "%u", s->port);
	snprintf(log, sizeof(log), "%s/redis.log", s->dir);
	argv[argc++] = "redis-server";
	argv[argc++] = "--port";
	argv[argc++] = port;
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = s->aof ? "yes" : "no";
	argv[argc++] = "--appendfsync";
	argv[argc++] = "always";
	argv[argc++] = "--dir";
	argv[argc++] = s->dir;
	argv[argc++] = "--logfile";
	argv[argc++] = log;
	if (s->password) {
		argv[argc++] = "--requirepass";
		argv[argc++] = s->password;
	}
	for (int u = 0; u < 2 && s->acl[u][0]; u++) {
		argv[argc++] = "--user";
		for (int w = 0; w < 8 && s->acl[u][w]; w++)
			argv[argc++] = s->acl[u][w];
	}
	argv[argc] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Dies with the test (even one that fails with _Exit), and keeps the test's
		 * output pipe free, so that meson does not wait for it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; wait && i < 2400; i++) { /* up to ~60 s */
		if (server_ready(s))
			return;
		sleep_ms(25);
	}
	cr_assert(!wait, "redis-server did not answer PING");
}

static void server_start(struct server *s)
{
	server_spawn(s, true);
}

/* SIGKILL: no shutdown, no final fsync; what the append-only file holds is what survives. */
static void server_kill(struct server *s)
{
	int status;

	kill(s->pid, SIGKILL);
	cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
	s->pid = 0;
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
static _Atomic unsigned total_runs;
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
	atomic_fetch_add(&total_runs, 1);
	if (atomic_fetch_add(&runs[i], 1) == 0)
		atomic_fetch_add(&distinct, 1);
	return 0;
}

static int job_fail(void *arg)
{
	(void)arg;
	return LFQ_JOB_FAIL;
}

/* The job index comes from the job id ("job-<n>", set by lfq_redis_produce_job) when the
 * entry has one, else from the field n. */
static int decode(const char *id, const struct lfq_redis_field *f, size_t nf, struct lfq_job *job,
		  const char **reason, void *ctx)
{
	long n = -1, fail = 0;
	size_t len;
	const char *jid = lfq_redis_job_id(f, nf, &len);

	(void)id;
	(void)ctx;
	if (jid) {
		char buf[32];

		if (len < 5 || len >= sizeof(buf) || memcmp(jid, "job-", 4) != 0) {
			*reason = "bad job id";
			return -1;
		}
		memcpy(buf, jid + 4, len - 4);
		buf[len - 4] = '\0';
		n = strtol(buf, NULL, 10);
	} else if (parse_n(f, nf, "n", &n) != 0) {
		n = -1;
	}
	if (n < 0 || n >= MAXN) {
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

/* Counts the source's log events whose "reply" field starts with LOADING. */
static _Atomic unsigned loading_seen;
static unsigned produce_eagain; /* XADDs refused with -EAGAIN (LOADING) and retried */

static _Atomic unsigned reclaimed_logged;

static void on_log(int level, const char *msg, const struct lfq_log_field *f, size_t n, void *ctx)
{
	(void)level;
	(void)ctx;
	if (strcmp(msg, "redis entry reclaimed") == 0 && n >= 1 && strcmp(f[0].key, "id") == 0 &&
	    f[0].str && f[0].str[0])
		atomic_fetch_add(&reclaimed_logged, 1);
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].key, "reply") == 0 && f[i].str &&
		    strncmp(f[i].str, "LOADING", 7) == 0)
			atomic_fetch_add(&loading_seen, 1);
}

static void reset_counts(void)
{
	for (unsigned i = 0; i < MAXN; i++)
		atomic_store(&runs[i], 0);
	atomic_store(&distinct, 0);
	atomic_store(&total_runs, 0);
	atomic_store(&loading_seen, 0);
	atomic_store(&reclaimed_logged, 0);
	produce_eagain = 0;
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
	atomic_bool returned;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->rc = lfq_redis_source_run(r->src);
	atomic_store(&r->returned, true);
	return NULL;
}

static struct lfq_redis_source_config source_config(const struct server *s, struct lfq_pool *pool,
						    const char *consumer, unsigned min_idle_ms)
{
	return (struct lfq_redis_source_config){.port = s->port,
						.stream = "jobs",
						.group = "workers",
						.consumer = consumer,
						.dead_letter_stream = "jobs-dead",
						.batch = 16,
						.block_ms = 100,
						.min_idle_ms = min_idle_ms ? min_idle_ms : 60000,
						.reconnect_max_ms = 200,
						.pool = pool,
						.decode = decode,
						.log = on_log};
}

static void run_source(struct runner *r, const struct lfq_redis_source_config *cfg)
{
	atomic_store(&r->returned, false);
	r->rc = 0;
	if (cfg)
		cr_assert_eq(lfq_redis_source_create(&r->src, cfg), 0);
	cr_assert_eq(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void start_source(struct runner *r, const struct server *s, struct lfq_pool *pool,
			 const char *consumer, unsigned min_idle_ms)
{
	struct lfq_redis_source_config cfg = source_config(s, pool, consumer, min_idle_ms);

	run_source(r, &cfg);
}

/* Stops a source that must still be running (run never returned on its own). */
static void stop_source(struct runner *r)
{
	/* rc is read only once returned says it was written. */
	if (atomic_load(&r->returned))
		cr_assert(false, "run returned early: %d", r->rc);
	lfq_redis_source_stop(r->src);
	cr_assert_eq(pthread_join(r->thread, NULL), 0);
	cr_assert_eq(r->rc, 0);
}

/* Waits (bounded) for a run to return on its own, and joins it. */
static int join_source(struct runner *r)
{
	for (unsigned i = 0; i < WAIT_MS / 10 && !atomic_load(&r->returned); i++)
		sleep_ms(10);
	if (!atomic_load(&r->returned))
		lfq_redis_source_stop(r->src);
	cr_assert_eq(pthread_join(r->thread, NULL), 0);
	return r->rc;
}

/* Produces jobs from .. from+n-1, with job ids "job-<i>". Retries an XADD the server did not
 * take (a restart, LOADING); a retry after -ECONNRESET may add an entry twice, which the job
 * ids show as a duplicate run. */
static void produce_with(struct lfq_redis_producer *p, unsigned from, unsigned n,
			 bool fail_every_5th, bool malformed_every_7th)
{
	for (unsigned i = from; i < from + n; i++) {
		char v[16], jid[32];
		struct lfq_redis_field f[2] = {{"n", 1, v, 0}, {"fail", 4, "1", 1}};
		size_t nf = fail_every_5th && i % 5 == 0 ? 2 : 1;
		char id[48];
		int rc;
		unsigned tries = 0;

		snprintf(v, sizeof(v), "%u", i);
		snprintf(jid, sizeof(jid), "job-%u", i);
		f[0].value_len = strlen(v);
		do {
			if (malformed_every_7th && i % 7 == 0) {
				f[0].key = "junk";
				f[0].key_len = 4;
				rc = lfq_redis_produce(p, "jobs", f, nf, 0, id, sizeof(id));
			} else {
				rc = lfq_redis_produce_job(p, "jobs", jid, f, nf, 0, id,
							   sizeof(id));
			}
			produce_eagain += rc == -EAGAIN;
			if (rc == -EAGAIN || rc == -ECONNRESET || rc == -ECONNREFUSED)
				sleep_ms(20);
		} while ((rc == -EAGAIN || rc == -ECONNRESET || rc == -ECONNREFUSED) &&
			 ++tries < WAIT_MS / 20);
		cr_assert_eq(rc, 0, "produce %u: %d", i, rc);
		cr_assert(strchr(id, '-') != NULL);
	}
}

static void produce(const struct server *s, unsigned from, unsigned n, bool fail_every_5th,
		    bool malformed_every_7th)
{
	struct lfq_redis_producer_config pc = {.port = s->port, .password = s->password};
	struct lfq_redis_producer *p;

	cr_assert_eq(lfq_redis_producer_connect(&p, &pc), 0);
	produce_with(p, from, n, fail_every_5th, malformed_every_7th);
	lfq_redis_producer_destroy(p);
}

static long long int_reply(const struct server *s, const char *fmt, ...)
{
	redisContext *c = connect_to(s);
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

/* Consumers of the group (XINFO CONSUMERS): how many, and whether name is one of them. */
static unsigned group_consumers(const struct server *s, const char *name, bool *found)
{
	redisContext *c = connect_to(s);
	redisReply *r;
	unsigned n = 0;

	cr_assert_not_null(c);
	*found = false;
	r = redisCommand(c, "XINFO CONSUMERS jobs workers");
	cr_assert(r && r->type == REDIS_REPLY_ARRAY);
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *kv = r->element[i];

		n++;
		for (size_t k = 0; k + 1 < kv->elements; k += 2)
			if (strcmp(kv->element[k]->str, "name") == 0 &&
			    strcmp(kv->element[k + 1]->str, name) == 0)
				*found = true;
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
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

static bool is_ready(const struct server *s, unsigned want)
{
	(void)want;
	return server_ready(s);
}

/* Counts dead letters whose field lfq_reason equals reason and that carry lfq_detail
 * containing detail (if not NULL). */
static unsigned count_dead(const struct server *s, const char *reason, const char *detail)
{
	redisContext *c = connect_to(s);
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

/* Every job 0..n-1 ran at least once; prints and returns the duplicate runs. */
static unsigned check_all_ran(const char *test, unsigned n)
{
	unsigned dups;

	for (unsigned i = 0; i < n; i++)
		cr_assert_geq(atomic_load(&runs[i]), 1, "job %u never ran", i);
	dups = atomic_load(&total_runs) - n;
	printf("redis.%s: %u jobs, %u runs, %u duplicates\n", test, n, atomic_load(&total_runs),
	       dups);
	fflush(stdout);
	return dups;
}

static void destroy_pool(struct lfq_pool *pool)
{
	cr_assert_eq(lfq_pool_shutdown(pool, -1), 0);
	lfq_pool_destroy(pool);
}

/* Writes keys k0..k<n-1> (32-byte values) with pipelined SETs, so that a restart has a dataset
 * to load (its LOADING phase). The keys are ballast, not under test: they are written with
 * appendfsync no (one fsync per event-loop round would take many seconds on a slow disk),
 * which still puts them in the append-only file (a SIGKILL leaves the page cache intact);
 * appendfsync always is back on before any job is produced. */
static void fill_keys(const struct server *s, unsigned n)
{
	redisContext *c = connect_to(s);
	const unsigned chunk = 10000;
	redisReply *r;

	cr_assert_not_null(c);
	r = redisCommand(c, "CONFIG SET appendfsync no");
	cr_assert(r && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	for (unsigned i = 0; i < n; i += chunk) {
		for (unsigned k = i; k < i + chunk && k < n; k++)
			cr_assert_eq(redisAppendCommand(c, "SET k%u %s", k,
							"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"),
				     REDIS_OK);
		for (unsigned k = i; k < i + chunk && k < n; k++) {
			redisReply *set;

			cr_assert_eq(redisGetReply(c, (void **)&set), REDIS_OK);
			cr_assert_eq(set->type, REDIS_REPLY_STATUS);
			freeReplyObject(set);
		}
	}
	r = redisCommand(c, "CONFIG SET appendfsync always");
	cr_assert(r && r->type == REDIS_REPLY_STATUS);
	freeReplyObject(r);
	redisFree(c);
}

/* ---- tests ---- */

Test(redis, field_get_copies_a_value_as_a_c_string)
{
	const struct lfq_redis_field f[] = {
		{"n", 1, "12345", 5}, {"name", 4, "abcdef", 6}, {"empty", 5, "", 0}};
	char buf[4];

	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(lfq_redis_field_get(f, 3, "n", buf, sizeof(buf)), -ENOSPC);
	cr_assert_eq(strcmp(buf, "123"), 0);
	char big[16];

	cr_assert_eq(lfq_redis_field_get(f, 3, "n", big, sizeof(big)), 0);
	cr_assert_eq(strcmp(big, "12345"), 0);
	cr_assert_eq(lfq_redis_field_get(f, 3, "name", big, sizeof(big)), 0);
	cr_assert_eq(strcmp(big, "abcdef"), 0);
	cr_assert_eq(lfq_redis_field_get(f, 3, "empty", big, sizeof(big)), 0);
	cr_assert_eq(strcmp(big, ""), 0);
	cr_assert_eq(lfq_redis_field_get(f, 3, "nam", big, sizeof(big)), -ENOENT);
	cr_assert_eq(strcmp(big, ""), 0);
	cr_assert_eq(lfq_redis_field_get(f, 3, "n", big, 1), -ENOSPC);
	cr_assert_eq(big[0], '\0');
	cr_assert_eq(lfq_redis_field_get(NULL, 3, "n", big, sizeof(big)), -EINVAL);
	cr_assert_eq(lfq_redis_field_get(f, 3, NULL, big, sizeof(big)), -EINVAL);
	cr_assert_eq(lfq_redis_field_get(f, 3, "n", NULL, 4), -EINVAL);
	cr_assert_eq(lfq_redis_field_get(f, 3, "n", big, 0), -EINVAL);
}

Test(redis, config_is_validated)
{
	struct lfq_redis_source *src = NULL;
	struct lfq_redis_producer *prod = NULL;
	struct lfq_pool *pool = make_pool();
	struct lfq_redis_source_config cfg = {.stream = "s",
					      .group = "g",
					      .consumer = "c",
					      .dead_letter_stream = "d",
					      .pool = pool,
					      .decode = decode};
	struct lfq_redis_source_config bad;
	const struct lfq_redis_tls tls = {.server_name = "localhost"};
	const struct lfq_redis_field f = {"k", 1, "v", 1};
	const struct lfq_redis_field idf[2] = {{"a", 1, "b", 1}, {"lfq_job_id", 10, "x", 1}};
	size_t len = 0;

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
	/* block_ms + the command timeout's margin must not overflow. */
	bad = cfg;
	bad.block_ms = UINT_MAX;
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad.block_ms = LFQ_REDIS_TIMEOUT_MS_MAX + 1;
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.reconnect_max_ms = UINT_MAX;
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.user = "u"; /* a user needs a password */
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.password = "";
	cr_assert_eq(lfq_redis_source_create(&src, &bad), -EINVAL);
	bad = cfg;
	bad.tls = &tls;
	if (!lfq_redis_tls_supported())
		cr_assert_eq(lfq_redis_source_create(&src, &bad), -ENOTSUP);
	cr_assert_null(src);
	cr_assert_eq(lfq_redis_source_create(&src, &cfg), 0);
	lfq_redis_source_destroy(src);
	src = NULL;
	bad = cfg;
	bad.block_ms = LFQ_REDIS_TIMEOUT_MS_MAX;
	bad.user = "u";
	bad.password = "p";
	cr_assert_eq(lfq_redis_source_create(&src, &bad), 0);
	lfq_redis_source_destroy(src);
	lfq_redis_source_destroy(NULL);
	cr_assert_eq(lfq_redis_source_run(NULL), -EINVAL);
	cr_assert_not(lfq_redis_on_dead(&(struct lfq_job){.fn = job_ok}, LFQ_DEAD_FAILED, 1, 1));

	cr_assert_eq(lfq_redis_producer_connect(NULL, &(struct lfq_redis_producer_config){0}),
		     -EINVAL);
	cr_assert_eq(lfq_redis_producer_connect(&prod, NULL), -EINVAL);
	cr_assert_eq(
		lfq_redis_producer_connect(&prod, &(struct lfq_redis_producer_config){.user = "u"}),
		-EINVAL);
	cr_assert_eq(lfq_redis_producer_connect(&prod,
						&(struct lfq_redis_producer_config){.port = 65536}),
		     -EINVAL);
	cr_assert_eq(lfq_redis_producer_connect(
			     &prod, &(struct lfq_redis_producer_config){.timeout_ms = UINT_MAX}),
		     -EINVAL);
	if (!lfq_redis_tls_supported())
		cr_assert_eq(lfq_redis_producer_connect(
				     &prod, &(struct lfq_redis_producer_config){.tls = &tls}),
			     -ENOTSUP);
	cr_assert_null(prod);
	cr_assert_eq(lfq_redis_produce_job(NULL, "s", "j", &f, 1, 0, NULL, 0), -EINVAL);

	cr_assert_null(lfq_redis_job_id(NULL, 0, &len));
	cr_assert_null(lfq_redis_job_id(&f, 1, &len));
	cr_assert(lfq_redis_job_id(idf, 2, &len) == idf[1].value);
	cr_assert_eq(len, 1);
	destroy_pool(pool);
}

Test(redis, jobs_flow_through_and_are_acked)
{
	struct server s = {0};
	struct runner r;
	struct lfq_pool *pool;
	struct lfq_redis_source_stats st;
	const unsigned n = 300;
	bool found;

	reset_counts();
	server_setup(&s, false);
	produce(&s, 0, n, false, false);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	cr_assert_eq(group_consumers(&s, "c1", &found), 1);
	cr_assert(found);
	stop_source(&r);
	cr_assert_eq(lfq_redis_source_stats(r.src, &st), 0);
	cr_assert_eq(st.acked, n);
	cr_assert_eq(st.dead_letters, 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&runs[i]), 1, "job %u ran %u times", i,
			     atomic_load(&runs[i]));
	cr_assert_eq(int_reply(&s, "XPENDING jobs workers"), 0);
	/* A clean stop with nothing pending: the consumer left the group. */
	cr_assert_eq(group_consumers(&s, "c1", &found), 0);
	cr_assert_not(found);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

/* Entries left pending by a consumer that is gone are reclaimed, and each reclaim is logged
 * with the entry's id. */
Test(redis, reclaimed_entries_are_logged)
{
	struct server s = {0};
	struct runner r;
	struct lfq_pool *pool;
	struct lfq_redis_source_stats st;
	struct lfq_redis_source_config cfg;
	const unsigned n = 10;
	redisContext *c;
	redisReply *rep;

	reset_counts();
	server_setup(&s, false);
	produce(&s, 0, n, false, false);
	c = connect_to(&s);
	cr_assert_not_null(c);
	rep = redisCommand(c, "XGROUP CREATE jobs workers 0 MKSTREAM");
	cr_assert(rep && rep->type == REDIS_REPLY_STATUS, "XGROUP CREATE");
	freeReplyObject(rep);
	/* A consumer that reads every entry, then dies without acknowledging any. */
	rep = redisCommand(c, "XREADGROUP GROUP workers ghost COUNT 100 STREAMS jobs >");
	cr_assert(rep && rep->type == REDIS_REPLY_ARRAY, "XREADGROUP");
	freeReplyObject(rep);
	redisFree(c);
	cr_assert_eq(int_reply(&s, "XPENDING jobs workers"), (long long)n);
	sleep_ms(300);
	pool = make_pool();
	cfg = source_config(&s, pool, "c1", 200);
	run_source(&r, &cfg);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	cr_assert_eq(lfq_redis_source_stats(r.src, &st), 0);
	cr_assert_eq(st.claimed, n);
	cr_assert_eq(atomic_load(&reclaimed_logged), n, "%u reclaims logged, %u entries reclaimed",
		     atomic_load(&reclaimed_logged), n);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

Test(redis, run_works_again_after_stop)
{
	struct server s = {0};
	struct runner r;
	struct lfq_pool *pool;
	const unsigned n = 40;

	reset_counts();
	server_setup(&s, false);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	produce(&s, 0, n, false, false);
	cr_assert(wait_for(distinct_reached, &s, n));
	stop_source(&r);
	/* A second run on the same source reads the entries produced meanwhile. */
	produce(&s, n, n, false, false);
	run_source(&r, NULL);
	cr_assert(wait_for(distinct_reached, &s, 2 * n), "second run: %u of %u jobs ran",
		  atomic_load(&distinct), 2 * n);
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	check_all_ran("run_works_again_after_stop", 2 * n);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

Test(redis, failed_and_malformed_entries_are_dead_lettered)
{
	struct server s = {0};
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
	destroy_pool(pool);
	server_teardown(&s);
}

Test(redis, two_consumers_share_a_stream)
{
	struct server s = {0};
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
	check_all_ran("two_consumers_share_a_stream", n);
	lfq_redis_source_destroy(r1.src);
	lfq_redis_source_destroy(r2.src);
	destroy_pool(p1);
	destroy_pool(p2);
	server_teardown(&s);
}

/* The server is SIGKILLed mid-run while holding 300,000 keys besides the stream, and
 * restarted from its append-only file (appendfsync always): while it loads, it answers
 * LOADING, which the source must treat like a lost connection. Jobs are produced before the
 * kill and after the restart. */
Test(redis, server_killed_and_restarted_while_loading)
{
	struct server s = {0};
	struct runner r1, r2;
	struct lfq_pool *p1, *p2;
	struct lfq_redis_source_stats st1, st2;
	struct lfq_redis_producer *prod;
	const unsigned n = 400, keys = 300000;

	reset_counts();
	job_sleep_ms = 1;
	server_setup(&s, true);
	fill_keys(&s, keys);
	cr_assert_eq(lfq_redis_producer_create(&prod, "127.0.0.1", s.port, 0), 0);
	produce_with(prod, 0, n / 2, false, false);
	p1 = make_pool();
	p2 = make_pool();
	start_source(&r1, &s, p1, "c1", 1000);
	start_source(&r2, &s, p2, "c2", 1000);
	cr_assert(wait_for(distinct_reached, &s, n / 8));
	server_kill(&s);
	server_spawn(&s, false); /* loads ~300k keys: LOADING for a while */
	produce_with(prod, n / 2, n / 2, false, false);
	cr_assert(wait_for(distinct_reached, &s, n), "%u of %u jobs ran", atomic_load(&distinct),
		  n);
	cr_assert(wait_for(nothing_pending, &s, 0));
	cr_assert(wait_for(is_ready, &s, 0));
	cr_assert_eq(int_reply(&s, "DBSIZE"), (long long)keys + 1, "the restart lost keys");
	stop_source(&r1);
	stop_source(&r2);
	cr_assert_eq(lfq_redis_source_stats(r1.src, &st1), 0);
	cr_assert_eq(lfq_redis_source_stats(r2.src, &st2), 0);
	cr_assert_geq(st1.reconnects, 1);
	cr_assert_geq(st2.reconnects, 1);
	cr_assert_geq(atomic_load(&loading_seen), 1, "no source saw the LOADING state");
	cr_assert_eq(int_reply(&s, "XPENDING jobs workers"), 0);
	printf("redis.server_killed_and_restarted_while_loading: LOADING replies seen %u, "
	       "transient %llu + %llu, reconnects %llu + %llu, producer -EAGAIN %u\n",
	       atomic_load(&loading_seen), (unsigned long long)st1.transient,
	       (unsigned long long)st2.transient, (unsigned long long)st1.reconnects,
	       (unsigned long long)st2.reconnects, produce_eagain);
	check_all_ran("server_killed_and_restarted_while_loading", n);
	lfq_redis_producer_destroy(prod);
	lfq_redis_source_destroy(r1.src);
	lfq_redis_source_destroy(r2.src);
	destroy_pool(p1);
	destroy_pool(p2);
	server_teardown(&s);
}

/* A stop while the server is down: the finished jobs' XACKs are retried with backoff until the
 * restarted server takes them, instead of being given up (which would run them again). */
Test(redis, acks_after_a_stop_wait_for_the_server)
{
	struct server s = {0};
	struct runner r;
	struct lfq_pool *pool;
	struct lfq_redis_source_stats st;
	const unsigned n = 40;

	reset_counts();
	job_sleep_ms = 50;
	server_setup(&s, true);
	produce(&s, 0, n, false, false);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	cr_assert(wait_for(distinct_reached, &s, 4));
	server_kill(&s);
	lfq_redis_source_stop(r.src); /* jobs still in flight; their acks cannot go out */
	sleep_ms(300);
	if (atomic_load(&r.returned))
		cr_assert(false, "run gave up on its acks: %d", r.rc);
	server_start(&s);
	cr_assert_eq(join_source(&r), 0);
	cr_assert_eq(lfq_redis_source_stats(r.src, &st), 0);
	/* Everything the source read was acknowledged: nothing pending, nothing to re-run. */
	cr_assert_eq(int_reply(&s, "XPENDING jobs workers"), 0);
	cr_assert_eq(st.acked, st.read);
	cr_assert_eq(atomic_load(&total_runs), atomic_load(&distinct));
	printf("redis.acks_after_a_stop_wait_for_the_server: %llu read, %llu acked after the "
	       "restart, 0 duplicates\n",
	       (unsigned long long)st.read, (unsigned long long)st.acked);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

/* requirepass for the default user plus an ACL user "worker" (keys jobs*), and one without
 * rights to the stream. */
Test(redis, password_and_acl_user)
{
	struct server s = {.password = "s3cret",
			   .acl = {{"worker", "on", ">w0rker", "~jobs*", "+@all"},
				   {"outsider", "on", ">0ut", "~other*", "+@all"}}};
	struct runner r, bad;
	struct lfq_pool *pool;
	struct lfq_redis_producer *prod = NULL;
	struct lfq_redis_source_config cfg;
	struct lfq_redis_source_stats st;
	const struct lfq_redis_field f = {"n", 1, "1", 1};
	const unsigned n = 200;

	reset_counts();
	server_setup(&s, false);
	pool = make_pool();

	/* Producers: wrong password, no password, right password, ACL user. */
	cr_assert_eq(lfq_redis_producer_connect(
			     &prod, &(struct lfq_redis_producer_config){.port = s.port,
									.password = "wrong"}),
		     -EACCES);
	cr_assert_eq(lfq_redis_producer_connect(
			     &prod, &(struct lfq_redis_producer_config){.port = s.port,
									.user = "worker",
									.password = "s3cret"}),
		     -EACCES);
	cr_assert_null(prod);
	cr_assert_eq(lfq_redis_producer_create(&prod, "127.0.0.1", s.port, 0), 0);
	cr_assert_eq(lfq_redis_produce(prod, "jobs", &f, 1, 0, NULL, 0), -EACCES);
	lfq_redis_producer_destroy(prod);
	cr_assert_eq(lfq_redis_producer_connect(
			     &prod, &(struct lfq_redis_producer_config){.port = s.port,
									.user = "outsider",
									.password = "0ut"}),
		     0);
	cr_assert_eq(lfq_redis_produce(prod, "jobs", &f, 1, 0, NULL, 0), -EACCES); /* NOPERM */
	lfq_redis_producer_destroy(prod);
	cr_assert_eq(lfq_redis_producer_connect(
			     &prod, &(struct lfq_redis_producer_config){.port = s.port,
									.user = "worker",
									.password = "w0rker"}),
		     0);
	produce_with(prod, 0, n, false, false);
	lfq_redis_producer_destroy(prod);

	/* Sources with wrong or missing credentials return -EACCES at once (no retry loop). */
	cfg = source_config(&s, pool, "bad", 0);
	cfg.password = "wrong";
	run_source(&bad, &cfg);
	cr_assert_eq(join_source(&bad), -EACCES);
	cr_assert_eq(lfq_redis_source_stats(bad.src, &st), 0);
	cr_assert_eq(st.read, 0);
	lfq_redis_source_destroy(bad.src);
	cfg.password = NULL;
	run_source(&bad, &cfg);
	cr_assert_eq(join_source(&bad), -EACCES); /* NOAUTH */
	lfq_redis_source_destroy(bad.src);
	cfg.user = "outsider";
	cfg.password = "0ut";
	run_source(&bad, &cfg);
	cr_assert_eq(join_source(&bad), -EACCES); /* NOPERM on the stream */
	lfq_redis_source_destroy(bad.src);

	/* The ACL user's source runs the jobs. */
	cfg = source_config(&s, pool, "c1", 0);
	cfg.user = "worker";
	cfg.password = "w0rker";
	run_source(&r, &cfg);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	check_all_ran("password_and_acl_user", n);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

/* Jobs that run (and wait in the pool's queue) much longer than min_idle_ms, under two
 * consumers that both reclaim idle entries: lease renewal keeps them from stealing each
 * other's live work, so each job runs exactly once. */
Test(redis, long_jobs_are_not_reclaimed_while_they_run)
{
	struct server s = {0};
	struct runner r1, r2;
	struct lfq_pool *p1, *p2;
	struct lfq_redis_source_stats st1, st2;
	struct lfq_redis_source_config cfg;
	const unsigned n = 8, min_idle_ms = 400;

	reset_counts();
	job_sleep_ms = 1000; /* 2.5 * min_idle_ms; queued jobs wait about as long */
	server_setup(&s, false);
	produce(&s, 0, n, false, false);
	p1 = make_pool();
	p2 = make_pool();
	/* Small windows, so that both consumers hold jobs: 2 running and 2 queued each. */
	cfg = source_config(&s, p1, "c1", min_idle_ms);
	cfg.batch = 2;
	cfg.max_inflight = 4;
	run_source(&r1, &cfg);
	cfg = source_config(&s, p2, "c2", min_idle_ms);
	cfg.batch = 2;
	cfg.max_inflight = 4;
	run_source(&r2, &cfg);
	cr_assert(wait_for(distinct_reached, &s, n));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r1);
	stop_source(&r2);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(atomic_load(&runs[i]), 1, "job %u ran %u times", i,
			     atomic_load(&runs[i]));
	cr_assert_eq(lfq_redis_source_stats(r1.src, &st1), 0);
	cr_assert_eq(lfq_redis_source_stats(r2.src, &st2), 0);
	cr_assert_geq(st1.renewed + st2.renewed, 1);
	cr_assert_eq(st1.claimed + st2.claimed, 0);
	printf("redis.long_jobs_are_not_reclaimed_while_they_run: lease renewals %llu\n",
	       (unsigned long long)(st1.renewed + st2.renewed));
	check_all_ran("long_jobs_are_not_reclaimed_while_they_run", n);
	lfq_redis_source_destroy(r1.src);
	lfq_redis_source_destroy(r2.src);
	destroy_pool(p1);
	destroy_pool(p2);
	server_teardown(&s);
}

#ifdef LFQ_REDIS_CONSUMER
/* ---- consumer processes (tests/redis_consumer.c) ---- */

static pid_t spawn_consumer(const struct server *s, const char *name, const char *log,
			    const char *max_inflight, const char *max_deliveries)
{
	char port[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%u", s->port);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		sigset_t term;

		/* SIGTERM stays blocked (across exec) until the consumer's handler is installed:
		 * a stop_consumer right after the spawn must not kill it before (that failed
		 * under ASan, whose start-up is slow: "status 0xf"). */
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigprocmask(SIG_BLOCK, &term, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(LFQ_REDIS_CONSUMER, LFQ_REDIS_CONSUMER, port, name, log, "300", max_inflight,
		      max_deliveries, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Reads the shared log: fills per-index run counts and crash counts ("c<n>" lines), returns
 * the runs of normal jobs read. */
static unsigned read_log(const char *path, unsigned *counts, unsigned *crashes, unsigned n,
			 unsigned *distinct_out)
{
	FILE *f = fopen(path, "r");
	unsigned lines = 0, d = 0, i;
	char line[32];

	memset(counts, 0, n * sizeof(*counts));
	if (crashes)
		memset(crashes, 0, n * sizeof(*crashes));
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (line[0] == 'c') {
				if (crashes && sscanf(line + 1, "%u", &i) == 1 && i < n)
					crashes[i]++;
				continue;
			}
			if (sscanf(line, "%u", &i) != 1)
				continue;
			lines++;
			if (i < n && counts[i]++ == 0)
				d++;
		}
		fclose(f);
	}
	*distinct_out = d;
	return lines;
}

static void stop_consumer(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "consumer did not stop cleanly (status %#x)", status);
}

/* Two consumer processes; one is SIGKILLed mid-batch and replaced by a new one. */
Test(redis, killed_consumer_is_replaced_and_its_work_reclaimed)
{
	static unsigned counts[MAXN];
	struct server s = {0};
	char log[96];
	const unsigned n = 600, window = 32;
	unsigned lines = 0, d = 0, i;
	pid_t a, b, c;
	int status;

	server_setup(&s, false);
	snprintf(log, sizeof(log), "%s/runs.log", s.dir);
	produce(&s, 0, n, false, false);
	a = spawn_consumer(&s, "ca", log, "32", "0");
	b = spawn_consumer(&s, "cb", log, "32", "0");
	for (i = 0; i < WAIT_MS / 10 && lines < 100; i++) {
		sleep_ms(10);
		lines = read_log(log, counts, NULL, n, &d);
	}
	cr_assert_geq(lines, 100, "consumers made no progress");
	kill(a, SIGKILL);
	cr_assert_eq(waitpid(a, &status, 0), a);
	c = spawn_consumer(&s, "cc", log, "32", "0"); /* the replacement */
	for (i = 0; i < WAIT_MS / 10; i++) {
		lines = read_log(log, counts, NULL, n, &d);
		if (d == n && nothing_pending(&s, 0))
			break;
		sleep_ms(10);
	}
	cr_assert_eq(d, n, "only %u of %u entries ran", d, n);
	cr_assert(nothing_pending(&s, 0));
	stop_consumer(b);
	stop_consumer(c);
	lines = read_log(log, counts, NULL, n, &d);
	printf("redis.killed_consumer_is_replaced_and_its_work_reclaimed: %u jobs, %u runs, %u "
	       "duplicates\n",
	       n, lines, lines - n);
	/* Duplicates: only entries the killed consumer ran and had not acknowledged yet. */
	cr_assert_leq(lines - n, window, "%u duplicates, window %u", lines - n, window);
	server_teardown(&s);
}

/* Entries whose job kills its consumer process (poison) and entries that cannot be decoded:
 * consumers that die are replaced; a poison entry is run at most max_deliveries times, then
 * dead-lettered as "poison"; malformed ones are dead-lettered at once; all others run. */
Test(redis, poison_and_malformed_entries_are_dead_lettered)
{
	static unsigned counts[MAXN], crashes[MAXN];
	struct server s = {0};
	struct lfq_redis_producer *prod;
	char log[96], name[16];
	const unsigned n = 300, max_deliveries = 2;
	const unsigned poison[] = {40, 170}, npoison = 2, nmalformed = 3;
	unsigned lines = 0, d = 0, spawned = 0, i, want;
	pid_t pids[2];

	server_setup(&s, false);
	snprintf(log, sizeof(log), "%s/runs.log", s.dir);
	cr_assert_eq(lfq_redis_producer_create(&prod, "127.0.0.1", s.port, 0), 0);
	for (i = 0; i < n; i++) {
		char v[16];
		struct lfq_redis_field f[2] = {{"n", 1, v, 0}, {"crash", 5, "1", 1}};
		bool crash = i == poison[0] || i == poison[1];

		snprintf(v, sizeof(v), "%u", i);
		f[0].value_len = strlen(v);
		cr_assert_eq(lfq_redis_produce(prod, "jobs", f, crash ? 2 : 1, 0, NULL, 0), 0);
		if (i % 100 == 50) {
			f[0].key = "junk"; /* malformed: no n field */
			cr_assert_eq(lfq_redis_produce(prod, "jobs", f, 1, 0, NULL, 0), 0);
		}
	}
	lfq_redis_producer_destroy(prod);
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "c%u", spawned++);
		pids[i] = spawn_consumer(&s, name, log, "32", "2");
	}
	want = n - npoison;
	for (i = 0; i < WAIT_MS / 10; i++) {
		for (unsigned k = 0; k < 2; k++) {
			int status;

			if (waitpid(pids[k], &status, WNOHANG) == pids[k]) {
				cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
					  "a consumer exited with status %#x", status);
				snprintf(name, sizeof(name), "c%u", spawned++);
				pids[k] = spawn_consumer(&s, name, log, "32", "2");
			}
		}
		lines = read_log(log, counts, crashes, n, &d);
		if (d == want && nothing_pending(&s, 0) && dead_reached(&s, npoison + nmalformed))
			break;
		sleep_ms(10);
	}
	cr_assert_eq(d, want, "only %u of %u entries ran", d, want);
	cr_assert(nothing_pending(&s, 0));
	stop_consumer(pids[0]);
	stop_consumer(pids[1]);
	lines = read_log(log, counts, crashes, n, &d);
	for (i = 0; i < npoison; i++) {
		cr_assert_geq(crashes[poison[i]], 1);
		cr_assert_leq(crashes[poison[i]], max_deliveries, "poison entry %u ran %u times",
			      poison[i], crashes[poison[i]]);
	}
	cr_assert_eq(count_dead(&s, "poison", "max_deliveries 2"), npoison);
	cr_assert_eq(count_dead(&s, "malformed", "no n field"), nmalformed);
	cr_assert_eq(int_reply(&s, "XLEN jobs-dead"), (long long)(npoison + nmalformed));
	printf("redis.poison_and_malformed_entries_are_dead_lettered: %u jobs, %u runs, %u "
	       "duplicates, %u consumers started, poison runs %u + %u\n",
	       want, lines, lines - want, spawned, crashes[poison[0]], crashes[poison[1]]);
	server_teardown(&s);
}
#endif

static bool pending_is(const struct server *s, unsigned want)
{
	return int_reply(s, "XPENDING jobs workers") == (long long)want;
}

/* XGROUP DESTROY while a source runs: the group is recreated after the newest entry the
 * source read, so the entries that had run do not run again (the whole stream did, when the
 * group was recreated at its beginning), and the entries produced afterwards still run. */
Test(redis, deleted_group_is_recreated_without_replaying_the_stream)
{
	struct server s = {0};
	struct runner r;
	struct lfq_pool *pool;
	unsigned dups;

	reset_counts();
	server_setup(&s, false);
	produce(&s, 0, 100, false, false);
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	cr_assert(wait_for(distinct_reached, &s, 100));
	cr_assert(wait_for(nothing_pending, &s, 0));
	cr_assert_eq(int_reply(&s, "XGROUP DESTROY jobs workers"), 1);
	produce(&s, 100, 20, false, false);
	cr_assert(wait_for(distinct_reached, &s, 120));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	dups = check_all_ran("deleted_group_is_recreated_without_replaying_the_stream", 120);
	cr_assert_eq(dups, 0, "%u entries ran again after the group was recreated", dups);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

/* maxmemory reached: the server refuses the dead-letter XADD and XGROUP CREATE with OOM but
 * runs XREADGROUP, XACK and XCLAIM. The source keeps its connection, acknowledges every job
 * that succeeded meanwhile and keeps the failed ones pending until their dead letters can
 * be written (before: one OOM dropped the connection and every reconnect's XGROUP CREATE was
 * refused, so nothing was read or acknowledged for the whole episode). */
Test(redis, out_of_memory_refuses_dead_letters_but_acks_go_on)
{
	struct server s = {0};
	struct runner r;
	struct lfq_pool *pool;
	struct lfq_redis_source_stats st;
	const unsigned n = 50, failing = 10; /* every 5th fails */

	reset_counts();
	server_setup(&s, false);
	produce(&s, 0, n, true, false);
	/* The group exists, as it does for a source that was running when memory ran out. */
	(void)int_reply(&s, "XGROUP CREATE jobs workers 0");
	(void)int_reply(&s, "CONFIG SET maxmemory-policy noeviction");
	(void)int_reply(&s, "CONFIG SET maxmemory 1");
	pool = make_pool();
	start_source(&r, &s, pool, "c1", 0);
	cr_assert(wait_for(distinct_reached, &s, n - failing));
	cr_assert(wait_for(pending_is, &s, failing), "the jobs that succeeded were not acked");
	cr_assert_eq(int_reply(&s, "XLEN jobs-dead"), 0);
	cr_assert_eq(lfq_redis_source_stats(r.src, &st), 0);
	cr_assert_eq(st.reconnects, 0, "an OOM reply dropped the connection");
	(void)int_reply(&s, "CONFIG SET maxmemory 0");
	cr_assert(wait_for(dead_reached, &s, failing));
	cr_assert(wait_for(nothing_pending, &s, 0));
	stop_source(&r);
	cr_assert_eq(count_dead(&s, "exhausted", NULL) + count_dead(&s, "failed", NULL), failing);
	lfq_redis_source_destroy(r.src);
	destroy_pool(pool);
	server_teardown(&s);
}

/* How many times @p needle is in this process's writable anonymous memory (heap, stacks,
 * anonymous mappings), freed blocks included: read byte by byte, outside the sanitizers'
 * view (freed memory is what is looked at). */
__attribute__((no_sanitize("address", "thread", "undefined"))) static unsigned
count_in_memory(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "r");
	const size_t n = strlen(needle);
	unsigned hits = 0;
	char line[512];

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8], path[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms, path) < 3)
			continue;
		if (perms[0] != 'r' || perms[1] != 'w' || hi - lo > (1UL << 30))
			continue; /* not writable, or a sanitizer's shadow reservation */
		if (path[0] && strcmp(path, "[heap]") != 0 && strncmp(path, "[stack", 6) != 0)
			continue;
		for (const volatile char *p = (const char *)lo; p + n <= (const char *)hi; p++) {
			size_t k = 0;

			while (k < n && p[k] == needle[k])
				k++;
			hits += k == n;
		}
	}
	fclose(f);
	return hits;
}

/* A producer that authenticated leaves no copy of the password in this process's memory
 * once it is destroyed: the library clears its own copy, and writes AUTH from a buffer it
 * clears (hiredis would keep it in command buffers it frees without clearing). The password
 * is an ACL user's, known to this test only as a string constant (not in writable memory).
 * Also: maxlen beyond the server's signed 64-bit limit is refused here, not by the server. */
Test(redis, password_is_not_left_in_memory)
{
	static const char acl_word[] = ">pw-7f3a9c1e5b2d4068";
	const char *password = acl_word + 1;
	struct server s = {.acl = {{"scanner", "on", acl_word, "~*", "+@all"}}};
	struct lfq_redis_producer *prod = NULL;
	const struct lfq_redis_field f = {"n", 1, "1", 1};

	server_setup(&s, false);
	cr_assert_eq(lfq_redis_producer_connect(
			     &prod, &(struct lfq_redis_producer_config){.port = s.port,
									.user = "scanner",
									.password = password}),
		     0);
	cr_assert_eq(lfq_redis_produce(prod, "jobs", &f, 1, 0, NULL, 0), 0);
	cr_assert_eq(lfq_redis_produce(prod, "jobs", &f, 1, SIZE_MAX, NULL, 0), -EINVAL);
	cr_assert_eq(lfq_redis_produce(prod, "jobs", &f, 1, LFQ_REDIS_MAXLEN_MAX, NULL, 0), 0);
	lfq_redis_producer_destroy(prod);
	cr_assert_eq(count_in_memory(password), 0, "the password is still in memory");
	server_teardown(&s);
}
