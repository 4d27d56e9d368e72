// SPDX-License-Identifier: MIT
/*
 * bench_ring_wait: the blocking calls (push_wait, pop_wait, close) of lfq_ring against the
 * mutex + condition-variable baseline, with Google Benchmark. Every benchmark is registered
 * once per adapter in lfqbench::WaitRingImpls, named
 *
 *   ring_wait/throughput/<impl>/P<p>C<c>   p producers, c consumers, capacity 1024
 *   ring_wait/pingpong/<impl>              1 producer, 1 consumer, capacity 1, latency
 *
 * (Google Benchmark appends "/iterations:1/manual_time".) bench/peers/go runs the same
 * benchmarks on Go channels and writes the same JSON, as ring_wait/.../go/....
 *
 * Both benchmarks use only blocking calls with an infinite timeout: producers push_wait(-1)
 * their share of the items; consumers pop_wait(-1) until -EPIPE. The main thread closes the
 * ring once every producer has returned, so no end markers are needed. Time is wall-clock
 * from opening the start gate to the last consumer seeing -EPIPE (thread creation and
 * joining excluded), and items_per_second = items / that time.
 *
 * throughput moves LFQ_BENCH_ITEMS items (default 1,000,000), split across the producers.
 * pingpong moves LFQ_BENCH_ITEMS / 5 items (default 200,000) through a ring of one slot; the
 * producer stamps each item with CLOCK_MONOTONIC just before push_wait (in an array indexed
 * by sequence number; the item is the index + 1) and the consumer takes the difference to
 * its own clock reading just after pop_wait returned. p50_ns, p99_ns and p999_ns are
 * nearest-rank percentiles of those differences. With one slot the difference includes the
 * time the producer waits for the previous item to be taken, as it would in a pipeline.
 *
 * Every iteration checks count and sum of the items popped (and that each consumer sees each
 * producer's items in order); a mismatch, an unexpected return value, or no completion
 * within LFQ_BENCH_TIMEOUT seconds (default 60 + 1 per 100,000 items) is reported with
 * SkipWithError instead of a number. A ring that still has consumers stuck in pop_wait after
 * the close and a further grace period aborts the program: they cannot be joined.
 *
 * vol_csw_per_item and invol_csw_per_item are the process's voluntary (mostly: went to sleep
 * in a futex) and involuntary (preempted) context switches during the run, per item.
 *
 * Environment: LFQ_BENCH_ITEMS, LFQ_BENCH_TIMEOUT, LFQ_BENCH_PLACEMENT=spread|packed|free
 * (bench_common.h; LFQ_BENCH_PIN=1: spread).
 */
#include "bench_common.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace
{

constexpr size_t kThroughputCapacity = 1024;
constexpr size_t kPingPongCapacity = 1;
/* Ping-pong moves this fraction of LFQ_BENCH_ITEMS: 200,000 by default. */
constexpr uint64_t kPingPongDivisor = 5;
/* How long consumers may take to drain after the close that a timeout forced. */
constexpr auto kDrainGrace = std::chrono::seconds(10);
constexpr int64_t kForever = -1;

/* Item encoding for throughput: (producer << kSeqBits) + seq + 1, as in bench_ring.cc. */
constexpr unsigned kSeqBits = 40;
constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;

inline void *to_item(uint64_t v)
{
	return reinterpret_cast<void *>(static_cast<uintptr_t>(v));
}

inline uint64_t from_item(void *item)
{
	return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(item));
}

/* CLOCK_MONOTONIC in ns: the clock lfq's timeouts use (and Go's monotonic clock reads). */
inline int64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/* Context switches of the whole process so far. */
struct Switches {
	int64_t voluntary = 0;
	int64_t involuntary = 0;

	static Switches now()
	{
		Switches s;
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0) {
			s.voluntary = ru.ru_nvcsw;
			s.involuntary = ru.ru_nivcsw;
		}
		return s;
	}
};

/* ---------------------------------------------------------------------------------------- */
/* One iteration's threads, the start gate, the close, and the deadline. */

/* Counts workers of one kind down to zero; the coordinator waits for zero with a deadline. */
class Countdown
{
    public:
	explicit Countdown(unsigned n) : left_(n)
	{
	}
	void arrive()
	{
		std::lock_guard<std::mutex> lock(m_);
		if (--left_ == 0)
			cv_.notify_all();
	}
	/** @return true if the count reached zero before @p deadline. */
	bool wait_until(std::chrono::steady_clock::time_point deadline)
	{
		std::unique_lock<std::mutex> lock(m_);
		return cv_.wait_until(lock, deadline, [this] { return left_ == 0; });
	}

    private:
	std::mutex m_;
	std::condition_variable cv_;
	unsigned left_;
};

struct RunTimes {
	double seconds = 0;
	Switches switches; /* during the run */
	bool timed_out = false;
};

/*
 * Runs produce(p) on each of @p producers threads and consume(c) on each of @p consumers
 * threads, all released together by a start gate. Closes the ring when every produce()
 * has returned (or at the deadline, to wake stuck threads), and returns the time from the
 * gate to the last consume() returning.
 */
template <class I, class Produce, class Consume>
RunTimes run_closing(typename I::ring_type *ring, unsigned producers, unsigned consumers,
		     Produce produce, Consume consume)
{
	using SteadyClock = std::chrono::steady_clock;
	lfqbench::StartGate gate;
	Countdown producing(producers);
	Countdown consuming(consumers);
	std::vector<int64_t> consumer_end(consumers, 0);

	const lfqbench::Placement where = lfqbench::bench_placement();
	std::vector<std::thread> threads;
	threads.reserve(producers + consumers);
	for (unsigned c = 0; c < consumers; c++) {
		threads.emplace_back([&, c] {
			gate.arrive_and_wait();
			consume(c);
			consumer_end[c] = now_ns();
			consuming.arrive();
		});
		lfqbench::place_thread(threads.back().native_handle(), c, where);
	}
	for (unsigned p = 0; p < producers; p++) {
		threads.emplace_back([&, p] {
			gate.arrive_and_wait();
			produce(p);
			producing.arrive();
		});
		lfqbench::place_thread(threads.back().native_handle(), consumers + p, where);
	}

	RunTimes res;
	gate.wait_for(producers + consumers);
	const Switches sw0 = Switches::now();
	const int64_t start = now_ns();
	const auto deadline =
		SteadyClock::now() + std::chrono::seconds(lfqbench::bench_timeout_s());
	gate.open();

	res.timed_out = !producing.wait_until(deadline);
	/* Every producer is done (or stuck: then the close wakes it with -EPIPE). */
	I::close(ring);
	if (!consuming.wait_until(std::max(deadline, SteadyClock::now()) + kDrainGrace)) {
		std::fprintf(
			stderr,
			"bench_ring_wait: %s: consumers still blocked in pop_wait %lld s after "
			"close; aborting (threads cannot be joined)\n",
			I::kName, static_cast<long long>(kDrainGrace.count()));
		std::abort();
	}
	const Switches sw1 = Switches::now();
	for (auto &t : threads)
		t.join();

	int64_t end = start;
	for (int64_t e : consumer_end)
		end = std::max(end, e);
	res.seconds = static_cast<double>(end - start) * 1e-9;
	res.switches.voluntary = sw1.voluntary - sw0.voluntary;
	res.switches.involuntary = sw1.involuntary - sw0.involuntary;
	return res;
}

/* printf into @p out. */
__attribute__((format(printf, 2, 3))) void format_error(std::string &out, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	std::vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out = msg;
}

void set_switch_counters(benchmark::State &state, const Switches &sw, double items)
{
	state.counters["vol_csw_per_item"] = static_cast<double>(sw.voluntary) / items;
	state.counters["invol_csw_per_item"] = static_cast<double>(sw.involuntary) / items;
}

/* ---------------------------------------------------------------------------------------- */
/* Throughput: p producers, c consumers, capacity 1024. */

struct alignas(64) ProducerTally {
	uint64_t pushed = 0;
	uint64_t sum = 0;
	int error = 0; /* first unexpected return value of push_wait */
};

struct alignas(64) ConsumerTally {
	uint64_t popped = 0;
	uint64_t sum = 0;
	uint64_t out_of_order = 0;  /* a producer's items seen by this consumer out of order */
	uint64_t bad_value = 0;	    /* decoded to a producer that does not exist */
	int error = 0;		    /* first unexpected return value of pop_wait */
	std::vector<uint64_t> last; /* per producer: last seq seen + 1, 0 = none yet */
};

template <class I>
void BM_RingWait_Throughput(benchmark::State &state, unsigned producers, unsigned consumers)
{
	const uint64_t total = lfqbench::bench_items();
	if (total / producers + 1 > kSeqMask) {
		state.SkipWithError("LFQ_BENCH_ITEMS too large for the item encoding");
		return;
	}

	Switches switches;
	std::string error;
	for (auto _ : state) {
		lfqbench::RingHandle<I> ring(kThroughputCapacity);
		if (!ring.ok()) {
			error = "ring create failed";
			break;
		}
		std::vector<ProducerTally> pt(producers);
		std::vector<ConsumerTally> ct(consumers);
		for (auto &c : ct)
			c.last.assign(producers, 0);

		auto produce = [&](unsigned p) {
			ProducerTally &t = pt[p];
			const uint64_t count = total / producers + (p < total % producers ? 1 : 0);
			for (uint64_t seq = 0; seq < count; seq++) {
				const uint64_t v = (uint64_t{p} << kSeqBits) + seq + 1;
				const int rc = I::push_wait(ring.get(), to_item(v), kForever);
				if (rc != 0) {
					t.error = rc;
					return;
				}
				t.pushed++;
				t.sum += v;
			}
		};
		auto consume = [&](unsigned c) {
			ConsumerTally &t = ct[c];
			for (;;) {
				void *item = nullptr;
				const int rc = I::pop_wait(ring.get(), &item, kForever);
				if (rc == -EPIPE)
					return;
				if (rc != 0) {
					t.error = rc;
					return;
				}
				const uint64_t v = from_item(item);
				const uint64_t producer = (v - 1) >> kSeqBits;
				const uint64_t seq = (v - 1) & kSeqMask;
				t.popped++;
				t.sum += v;
				if (v == 0 || producer >= producers) {
					t.bad_value++;
					continue;
				}
				if (seq + 1 <= t.last[producer])
					t.out_of_order++;
				t.last[producer] = seq + 1;
			}
		};
		const RunTimes rt =
			run_closing<I>(ring.get(), producers, consumers, produce, consume);

		uint64_t pushed = 0, push_sum = 0, popped = 0, pop_sum = 0, disorder = 0, bad = 0;
		int rc = 0;
		for (const auto &t : pt) {
			pushed += t.pushed;
			push_sum += t.sum;
			rc = rc ? rc : t.error;
		}
		for (const auto &t : ct) {
			popped += t.popped;
			pop_sum += t.sum;
			disorder += t.out_of_order;
			bad += t.bad_value;
			rc = rc ? rc : t.error;
		}
		if (rt.timed_out) {
			format_error(
				error,
				"no completion within %llu s: pushed %llu, popped %llu of %llu",
				static_cast<unsigned long long>(lfqbench::bench_timeout_s()),
				static_cast<unsigned long long>(pushed),
				static_cast<unsigned long long>(popped),
				static_cast<unsigned long long>(total));
		} else if (rc != 0) {
			format_error(error, "push_wait or pop_wait returned %d", rc);
		} else if (pushed != total || popped != total || pop_sum != push_sum || bad != 0 ||
			   disorder != 0) {
			format_error(
				error,
				"verification failed: pushed %llu, popped %llu of %llu, sums %s, "
				"%llu bad values, %llu out of order",
				static_cast<unsigned long long>(pushed),
				static_cast<unsigned long long>(popped),
				static_cast<unsigned long long>(total),
				pop_sum == push_sum ? "equal" : "differ",
				static_cast<unsigned long long>(bad),
				static_cast<unsigned long long>(disorder));
		}
		if (!error.empty())
			break;
		state.SetIterationTime(rt.seconds);
		switches.voluntary += rt.switches.voluntary;
		switches.involuntary += rt.switches.involuntary;
	}
	if (!error.empty()) {
		state.SkipWithError(error.c_str());
		return;
	}
	const double items = static_cast<double>(state.iterations()) * static_cast<double>(total);
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total));
	set_switch_counters(state, switches, items);
	state.counters["producers"] = producers;
	state.counters["consumers"] = consumers;
}

/* ---------------------------------------------------------------------------------------- */
/* Ping-pong: one producer, one consumer, capacity 1, per-item latency. */

/* Nearest-rank percentile of sorted samples: the smallest value >= q of them. */
double percentile(const std::vector<int64_t> &sorted, double q)
{
	if (sorted.empty())
		return 0;
	const double rank = q * static_cast<double>(sorted.size());
	size_t i = static_cast<size_t>(rank);
	if (static_cast<double>(i) < rank)
		i++; /* ceil */
	i = std::min(std::max<size_t>(i, 1), sorted.size());
	return static_cast<double>(sorted[i - 1]);
}

template <class I> void BM_RingWait_PingPong(benchmark::State &state)
{
	const uint64_t n = std::max<uint64_t>(1, lfqbench::bench_items() / kPingPongDivisor);

	Switches switches;
	std::vector<int64_t> all_latencies;
	std::string error;
	for (auto _ : state) {
		lfqbench::RingHandle<I> ring(kPingPongCapacity);
		if (!ring.ok()) {
			error = "ring create failed";
			break;
		}
		/* Written by the producer before the push; the push/pop pair orders the read. */
		std::vector<int64_t> sent(n, 0);
		std::vector<int64_t> latency;
		latency.reserve(n);
		uint64_t pushed = 0, push_sum = 0, popped = 0, pop_sum = 0, disorder = 0, bad = 0;
		int push_rc = 0, pop_rc = 0;

		auto produce = [&](unsigned) {
			for (uint64_t i = 0; i < n; i++) {
				sent[i] = now_ns();
				const int rc = I::push_wait(ring.get(), to_item(i + 1), kForever);
				if (rc != 0) {
					push_rc = rc;
					return;
				}
				pushed++;
				push_sum += i + 1;
			}
		};
		auto consume = [&](unsigned) {
			for (;;) {
				void *item = nullptr;
				const int rc = I::pop_wait(ring.get(), &item, kForever);
				const int64_t received = now_ns();
				if (rc == -EPIPE)
					return;
				if (rc != 0) {
					pop_rc = rc;
					return;
				}
				const uint64_t v = from_item(item);
				popped++;
				pop_sum += v;
				if (v == 0 || v > n) {
					bad++;
					continue;
				}
				if (v != popped)
					disorder++;
				latency.push_back(received - sent[v - 1]);
			}
		};
		const RunTimes rt = run_closing<I>(ring.get(), 1, 1, produce, consume);

		const int rc = push_rc ? push_rc : pop_rc;
		if (rt.timed_out) {
			format_error(
				error,
				"no completion within %llu s: pushed %llu, popped %llu of %llu",
				static_cast<unsigned long long>(lfqbench::bench_timeout_s()),
				static_cast<unsigned long long>(pushed),
				static_cast<unsigned long long>(popped),
				static_cast<unsigned long long>(n));
		} else if (rc != 0) {
			format_error(error, "push_wait or pop_wait returned %d", rc);
		} else if (pushed != n || popped != n || pop_sum != push_sum || bad != 0 ||
			   disorder != 0) {
			format_error(
				error,
				"verification failed: pushed %llu, popped %llu of %llu, sums %s, "
				"%llu bad values, %llu out of order",
				static_cast<unsigned long long>(pushed),
				static_cast<unsigned long long>(popped),
				static_cast<unsigned long long>(n),
				pop_sum == push_sum ? "equal" : "differ",
				static_cast<unsigned long long>(bad),
				static_cast<unsigned long long>(disorder));
		}
		if (!error.empty())
			break;
		state.SetIterationTime(rt.seconds);
		switches.voluntary += rt.switches.voluntary;
		switches.involuntary += rt.switches.involuntary;
		all_latencies.insert(all_latencies.end(), latency.begin(), latency.end());
	}
	if (!error.empty()) {
		state.SkipWithError(error.c_str());
		return;
	}
	const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
	std::sort(all_latencies.begin(), all_latencies.end());
	state.counters["p50_ns"] = percentile(all_latencies, 0.50);
	state.counters["p99_ns"] = percentile(all_latencies, 0.99);
	state.counters["p999_ns"] = percentile(all_latencies, 0.999);
	set_switch_counters(state, switches, items);
}

/* ---------------------------------------------------------------------------------------- */

struct Shape {
	unsigned producers;
	unsigned consumers;
};

constexpr Shape kThroughputShapes[] = {{1, 1}, {4, 4}};

template <class I> void register_impl()
{
	const std::string impl = I::kName;
	for (const Shape &s : kThroughputShapes) {
		const std::string name = "ring_wait/throughput/" + impl + "/P" +
					 std::to_string(s.producers) + "C" +
					 std::to_string(s.consumers);
		lfqbench::with_spread(benchmark::RegisterBenchmark(name.c_str(),
								   BM_RingWait_Throughput<I>,
								   s.producers, s.consumers))
			->UseManualTime()
			->MeasureProcessCPUTime()
			->Iterations(1)
			->Unit(benchmark::kMillisecond);
	}
	lfqbench::with_spread(benchmark::RegisterBenchmark(("ring_wait/pingpong/" + impl).c_str(),
							   BM_RingWait_PingPong<I>))
		->UseManualTime()
		->MeasureProcessCPUTime()
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
}

void register_ring_wait_benchmarks()
{
	lfqbench::for_each_impl(lfqbench::WaitRingImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		register_impl<I>();
	});
}

} // namespace

int main(int argc, char **argv)
{
	return lfqbench::run_main(argc, argv, [] {
		benchmark::AddCustomContext(
			"pingpong_items", std::to_string(std::max<uint64_t>(
						  1, lfqbench::bench_items() / kPingPongDivisor)));
		register_ring_wait_benchmarks();
	});
}
