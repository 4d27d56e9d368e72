// SPDX-License-Identifier: MIT
/*
 * End-to-end throughput through Redis Streams (issue 8): N entries are XADDed to a stream
 * (pipelined, not timed), then drained by 1 or 2 lfq_redis sources, each feeding its own
 * lfq_pool (2 workers, as a consumer process would), with the source's batch size 1, 16 or
 * 128. Time runs from starting the sources to every entry being acknowledged (XACK). Beside
 * it, the same N empty jobs submitted straight to an lfq_pool by one thread.
 *
 *   redis/drain/redis/S<s>/B<b>   s sources (consumers of one group), batch b
 *   redis/drain/inproc/S1/B1      lfq_pool alone, one submitter (lfq_pool_submit_wait)
 *
 * Each job adds its value to its worker's padded tally. A run is reported with
 * SkipWithError unless the tallies add up to exactly the entries added (count and sum) and
 * XPENDING of the group is empty at the end.
 *
 * The program starts its own redis-server (from PATH) on a free 127.0.0.1 port, without
 * persistence (--save '' --appendonly no), in a temporary directory, the first time a
 * benchmark needs it, and stops it before exiting. LFQ_BENCH_REDIS_ITEMS sets N (default
 * 20000; otherwise LFQ_BENCH_ITEMS / 25 when that is set).
 *
 * Run: build/redisbench/bench/bench_redis --benchmark_repetitions=3
 *          --benchmark_report_aggregates_only=true
 */
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <hiredis/hiredis.h>

#include <lfq/pool.h>
#include <lfq/redis.h>

#include "bench_common.h"

namespace
{

constexpr unsigned kMaxSources = 2;
constexpr unsigned kWorkers = 2; /* per pool */
constexpr size_t kCapacity = 1024;
constexpr const char *kStream = "bench-jobs";
constexpr const char *kDead = "bench-jobs-dead";
constexpr const char *kGroup = "bench";

int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void sleep_ms(unsigned ms)
{
	const struct timespec ts = {static_cast<time_t>(ms / 1000),
				    static_cast<long>(ms % 1000) * 1000000L};
	nanosleep(&ts, nullptr);
}

uint64_t redis_items()
{
	const uint64_t scaled = lfqbench::env_u64("LFQ_BENCH_ITEMS", 0) / 25;
	return lfqbench::env_u64("LFQ_BENCH_REDIS_ITEMS", scaled >= 1000 ? scaled : 20000);
}

/* ---- the server ---- */

redisContext *connect_to(unsigned port)
{
	struct timeval tv = {5, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", static_cast<int>(port), tv);
	if (c != nullptr && c->err) {
		redisFree(c);
		c = nullptr;
	}
	return c;
}

class Server
{
    public:
	/** Starts the server once; @return an empty string or why it could not. */
	std::string ensure()
	{
		if (pid_ > 0)
			return "";
		if (!error_.empty())
			return error_;
		error_ = start();
		return error_;
	}
	unsigned port() const
	{
		return port_;
	}
	void stop()
	{
		if (pid_ > 0) {
			int status;
			kill(pid_, SIGTERM);
			waitpid(pid_, &status, 0);
			pid_ = 0;
		}
		if (dir_[0] != '\0') {
			nftw(
				dir_,
				[](const char *path, const struct stat *, int, struct FTW *) {
					return remove(path);
				},
				8, FTW_DEPTH | FTW_PHYS);
			dir_[0] = '\0';
		}
	}

    private:
	static unsigned free_port()
	{
		struct sockaddr_in a = {};
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof(a);
		const int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return 0;
		unsigned port = 0;
		if (bind(fd, reinterpret_cast<struct sockaddr *>(&a), sizeof(a)) == 0 &&
		    getsockname(fd, reinterpret_cast<struct sockaddr *>(&a), &len) == 0)
			port = ntohs(a.sin_port);
		close(fd);
		return port;
	}

	std::string start()
	{
		signal(SIGPIPE, SIG_IGN);
		std::snprintf(dir_, sizeof(dir_), "/tmp/lfq-bench-redis-XXXXXX");
		if (mkdtemp(dir_) == nullptr) {
			dir_[0] = '\0';
			return "mkdtemp failed";
		}
		port_ = free_port();
		if (port_ == 0)
			return "no free port";
		const std::string port = std::to_string(port_);
		const std::string log = std::string(dir_) + "/redis.log";
		const pid_t pid = fork();
		if (pid < 0)
			return "fork failed";
		if (pid == 0) {
			/* Dies with the benchmark; keeps its output off the benchmark's. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			const int null = open("/dev/null", O_RDWR);
			dup2(null, 1);
			dup2(null, 2);
			execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind",
			       "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir_,
			       "--logfile", log.c_str(), static_cast<char *>(nullptr));
			_exit(127);
		}
		pid_ = pid;
		for (int i = 0; i < 400; i++) { /* up to ~10 s */
			redisContext *c = connect_to(port_);
			if (c != nullptr) {
				auto *r = static_cast<redisReply *>(redisCommand(c, "PING"));
				const bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
				freeReplyObject(r);
				redisFree(c);
				if (ok)
					return "";
			}
			int status;
			if (waitpid(pid_, &status, WNOHANG) == pid_) {
				pid_ = 0;
				return "redis-server exited (is it installed?)";
			}
			sleep_ms(25);
		}
		return "redis-server did not answer PING";
	}

	pid_t pid_ = 0;
	unsigned port_ = 0;
	char dir_[64] = "";
	std::string error_;
};

Server server;

/* Runs one command; @return its integer reply, or -1 on an error. */
long long command_int(redisContext *c, const char *fmt, const char *a, const char *b)
{
	auto *r = static_cast<redisReply *>(redisCommand(c, fmt, a, b));
	long long v = -1;
	if (r != nullptr && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Deletes both streams (and with them the group), then XADDs 1..items, pipelined in chunks.
 * @return an empty string or what failed. */
std::string fill_stream(redisContext *c, uint64_t items)
{
	if (command_int(c, "DEL %s %s", kStream, kDead) < 0)
		return "DEL failed";
	constexpr uint64_t kChunk = 1000;
	for (uint64_t first = 1; first <= items; first += kChunk) {
		const uint64_t last = std::min(items, first + kChunk - 1);
		for (uint64_t v = first; v <= last; v++) {
			const std::string value = std::to_string(v);
			if (redisAppendCommand(c, "XADD %s * v %s", kStream, value.c_str()) !=
			    REDIS_OK)
				return "pipelined XADD failed";
		}
		for (uint64_t v = first; v <= last; v++) {
			void *reply = nullptr;
			if (redisGetReply(c, &reply) != REDIS_OK)
				return "pipelined XADD lost the connection";
			const bool ok =
				static_cast<redisReply *>(reply)->type == REDIS_REPLY_STRING;
			freeReplyObject(reply);
			if (!ok)
				return "XADD answered an error";
		}
	}
	return "";
}

/* @return the group's pending count (XPENDING summary), or -1 on an error. */
long long pending(redisContext *c)
{
	auto *r = static_cast<redisReply *>(redisCommand(c, "XPENDING %s %s", kStream, kGroup));
	long long v = -1;
	if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER)
		v = r->element[0]->integer;
	freeReplyObject(r);
	return v;
}

/* ---- jobs and their tallies ---- */

/* One line per worker of each pool; written only by that worker, read once it is idle. */
struct alignas(64) Tally {
	uint64_t count;
	uint64_t sum;
};
Tally tallies[kMaxSources][kWorkers];
struct lfq_pool *pools[kMaxSources];

template <unsigned P> int job(void *arg)
{
	const int w = lfq_pool_worker_index(pools[P]);
	Tally &t = tallies[P][w < 0 ? 0 : w];
	t.count++;
	t.sum += reinterpret_cast<uintptr_t>(arg);
	return 0;
}

template <unsigned P>
int decode(const char *, const struct lfq_redis_field *f, size_t nf, struct lfq_job *j,
	   const char **reason, void *)
{
	char buf[24];
	if (nf < 1 || f[0].key_len != 1 || f[0].key[0] != 'v' || f[0].value_len == 0 ||
	    f[0].value_len >= sizeof(buf)) {
		*reason = "no v field";
		return -1;
	}
	std::memcpy(buf, f[0].value, f[0].value_len);
	buf[f[0].value_len] = '\0';
	j->fn = job<P>;
	j->arg = reinterpret_cast<void *>(static_cast<uintptr_t>(std::strtoull(buf, nullptr, 10)));
	return 0;
}

void on_dead(const struct lfq_job *j, int reason, unsigned attempts, int last, void *)
{
	(void)lfq_redis_on_dead(j, reason, attempts, last);
}

int create_pool(unsigned p)
{
	struct lfq_pool_config cfg = {};
	cfg.workers = kWorkers;
	cfg.queue_capacity = kCapacity;
	/* Several pools share few CPUs with redis-server: no pinning. */
	cfg.flags = LFQ_POOL_NO_PIN;
	cfg.on_dead = on_dead;
	return lfq_pool_create(&pools[p], &cfg);
}

std::string check_tallies(unsigned npools, uint64_t items)
{
	uint64_t count = 0, sum = 0;
	for (unsigned p = 0; p < npools; p++) {
		for (const auto &t : tallies[p]) {
			count += t.count;
			sum += t.sum;
		}
	}
	if (count != items || sum != items * (items + 1) / 2)
		return "job check failed: ran " + std::to_string(count) + " of " +
		       std::to_string(items);
	return "";
}

/* ---- through Redis ---- */

/* One timed drain of @p items entries by @p nsrc sources with batch @p batch; sets @p
 * seconds. @return an empty string or what failed. */
std::string drain_once(redisContext *c, uint64_t items, unsigned nsrc, unsigned batch,
		       double &seconds)
{
	std::string error = fill_stream(c, items);
	if (!error.empty())
		return error;
	for (auto &row : tallies)
		for (auto &t : row)
			t = Tally{};

	struct lfq_redis_source *src[kMaxSources] = {};
	const lfq_redis_decode_fn decoders[kMaxSources] = {decode<0>, decode<1>};
	const std::string names[kMaxSources] = {"bench-0", "bench-1"};
	unsigned created = 0;
	for (unsigned s = 0; s < nsrc && error.empty(); s++) {
		if (create_pool(s) != 0) {
			error = "pool create failed";
			break;
		}
		struct lfq_redis_source_config cfg = {};
		cfg.port = server.port();
		cfg.stream = kStream;
		cfg.group = kGroup;
		cfg.consumer = names[s].c_str();
		cfg.dead_letter_stream = kDead;
		cfg.batch = batch;
		cfg.block_ms = 50;
		cfg.pool = pools[s];
		cfg.decode = decoders[s];
		if (lfq_redis_source_create(&src[s], &cfg) != 0) {
			lfq_pool_destroy(pools[s]);
			error = "source create failed";
			break;
		}
		created++;
	}

	std::atomic<int> run_error{0};
	std::vector<std::thread> threads;
	const int64_t t0 = now_ns();
	if (error.empty()) {
		for (unsigned s = 0; s < created; s++)
			threads.emplace_back([&, s] {
				const int rc = lfq_redis_source_run(src[s]);
				if (rc != 0)
					run_error.store(rc, std::memory_order_relaxed);
			});
	}
	/* Until every entry is acknowledged, a source fails, or the deadline passes. */
	const int64_t deadline =
		t0 + static_cast<int64_t>(lfqbench::bench_timeout_s()) * 1000000000;
	int64_t t1 = t0;
	while (error.empty()) {
		uint64_t acked = 0;
		for (unsigned s = 0; s < created; s++) {
			struct lfq_redis_source_stats st = {};
			if (lfq_redis_source_stats(src[s], &st) == 0)
				acked += st.acked;
		}
		t1 = now_ns();
		if (acked >= items)
			break;
		if (run_error.load(std::memory_order_relaxed) != 0) {
			error = "source run failed: " + std::to_string(run_error.load());
			break;
		}
		if (t1 > deadline) {
			error = "timed out: acknowledged " + std::to_string(acked) + " of " +
				std::to_string(items);
			break;
		}
		/* Sleeps rather than spins: the sources and redis-server need the CPUs. */
		const struct timespec pause = {0, 100000};
		nanosleep(&pause, nullptr);
	}
	seconds = static_cast<double>(t1 - t0) / 1e9;

	for (unsigned s = 0; s < created; s++)
		lfq_redis_source_stop(src[s]);
	for (auto &t : threads)
		t.join();
	for (unsigned s = 0; s < created; s++) {
		if (lfq_pool_shutdown(pools[s], -1) != 0 && error.empty())
			error = "pool shutdown failed";
		lfq_redis_source_destroy(src[s]);
		lfq_pool_destroy(pools[s]);
		pools[s] = nullptr;
	}
	if (!error.empty())
		return error;
	if (run_error.load() != 0)
		return "source run failed: " + std::to_string(run_error.load());
	error = check_tallies(created, items);
	if (!error.empty())
		return error;
	const long long left = pending(c);
	if (left != 0)
		return "XPENDING not empty: " + std::to_string(left);
	return "";
}

void BM_Redis_Drain(benchmark::State &state, unsigned nsrc, unsigned batch)
{
	const uint64_t items = redis_items();
	std::string error = server.ensure();
	double seconds = 0;
	redisContext *c = error.empty() ? connect_to(server.port()) : nullptr;
	if (error.empty() && c == nullptr)
		error = "cannot connect to redis-server";

	for (auto _ : state) {
		if (!error.empty())
			break;
		error = drain_once(c, items, nsrc, batch, seconds);
		if (!error.empty())
			break;
		state.SetIterationTime(seconds);
	}
	if (c != nullptr)
		redisFree(c);
	if (!error.empty()) {
		state.SkipWithError(error.c_str());
		return;
	}
	state.counters["jobs_per_s"] = static_cast<double>(items) / seconds;
	state.counters["sources"] = nsrc;
	state.counters["batch"] = batch;
	state.counters["workers"] = kWorkers * nsrc;
}

/* ---- in process ---- */

void BM_Inproc(benchmark::State &state)
{
	const uint64_t items = redis_items();
	std::string error;
	double seconds = 0;

	for (auto _ : state) {
		for (auto &row : tallies)
			for (auto &t : row)
				t = Tally{};
		if (create_pool(0) != 0) {
			error = "pool create failed";
			break;
		}
		int rc = 0;
		const int64_t t0 = now_ns();
		for (uint64_t v = 1; v <= items && rc == 0; v++) {
			struct lfq_job j = {};
			j.fn = job<0>;
			j.arg = reinterpret_cast<void *>(static_cast<uintptr_t>(v));
			rc = lfq_pool_submit_wait(pools[0], &j, -1);
		}
		if (rc == 0)
			rc = lfq_pool_wait_idle(pools[0],
						static_cast<int64_t>(lfqbench::bench_timeout_s()) *
							1000000000);
		seconds = static_cast<double>(now_ns() - t0) / 1e9;
		state.SetIterationTime(seconds);
		lfq_pool_destroy(pools[0]);
		pools[0] = nullptr;
		if (rc != 0)
			error = "submit or wait_idle failed: " + std::to_string(rc);
		else
			error = check_tallies(1, items);
		if (!error.empty())
			break;
	}
	if (!error.empty()) {
		state.SkipWithError(error.c_str());
		return;
	}
	state.counters["jobs_per_s"] = static_cast<double>(items) / seconds;
	state.counters["sources"] = 1;
	state.counters["batch"] = 1;
	state.counters["workers"] = kWorkers;
}

} // namespace

int main(int argc, char **argv)
{
	const int rc = lfqbench::run_main(argc, argv, [] {
		benchmark::AddCustomContext("redis_items", std::to_string(redis_items()));
		lfqbench::with_spread(
			benchmark::RegisterBenchmark("redis/drain/inproc/S1/B1", BM_Inproc))
			->UseManualTime()
			->Iterations(1)
			->Unit(benchmark::kMillisecond);
		for (unsigned s = 1; s <= kMaxSources; s++) {
			for (unsigned b : {1u, 16u, 128u}) {
				const std::string name = "redis/drain/redis/S" + std::to_string(s) +
							 "/B" + std::to_string(b);
				lfqbench::with_spread(benchmark::RegisterBenchmark(
							      name.c_str(), BM_Redis_Drain, s, b))
					->UseManualTime()
					->Iterations(1)
					->Unit(benchmark::kMillisecond);
			}
		}
	});
	server.stop();
	return rc;
}
