// SPDX-License-Identifier: MIT
/*
 * Shared by the Google Benchmark programs in bench/: one adapter per ring implementation,
 * the retry policy every implementation gets on -EAGAIN, a start gate for worker threads,
 * environment knobs, and the machine description written into the JSON "context".
 *
 * Adding an implementation: write an adapter struct like LfqRing below (same static
 * members, plus any of the optional traits of bench_impl_list.h), then add it to RingImpls
 * (a peer: to its list in bench_peers.h). Every benchmark in bench_ring.cc is registered for
 * every adapter in that list whose traits allow it. An adapter that also has the blocking
 * calls (push_wait, pop_wait, close, with lfq's meaning) can join WaitRingImpls, used by
 * bench_ring_wait.cc.
 */
#ifndef LFQ_BENCH_COMMON_H
#define LFQ_BENCH_COMMON_H

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <fstream>
#include <vector>
#include <string>
#include <thread>
#include <atomic>
#include <chrono>

#include <lfq/ring.h>

#include "mutex_ring.h"
#include "spin_ring.h"
#include "vyukov_ring.h"

#include "bench_config.h"

#include "bench_impl_list.h"
#include "bench_peers.h"

namespace lfqbench
{

/* ---------------------------------------------------------------------------------------- */
/* Adapters: the same static interface over every ring. Return values follow lfq: 0 or a
 * negative errno from create/push/pop, counts from the bursts. */

/** lfq_ring, the library under test. */
template <unsigned Flags> struct LfqRingMode {
	using ring_type = struct lfq_ring;

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return lfq_ring_create(r, capacity, Flags);
	}
	static void destroy(ring_type *r)
	{
		lfq_ring_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return lfq_ring_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return lfq_ring_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return lfq_ring_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return lfq_ring_pop_burst(r, items, n);
	}
	/* The blocking calls (WaitRingImpls): timeout_ns < 0 waits forever. */
	[[nodiscard]] static int push_wait(ring_type *r, void *item, int64_t timeout_ns)
	{
		return lfq_ring_push_wait(r, item, timeout_ns);
	}
	[[nodiscard]] static int pop_wait(ring_type *r, void **item, int64_t timeout_ns)
	{
		return lfq_ring_pop_wait(r, item, timeout_ns);
	}
	static void close(ring_type *r)
	{
		lfq_ring_close(r);
	}
};

struct LfqRing : LfqRingMode<LFQ_RING_FLAGS_NONE> {
	static constexpr const char *kName = "lfq";
};
/* The single-side modes (LFQ_RING_SP, LFQ_RING_SC), only at the shapes they allow. */
struct LfqSpscRing : LfqRingMode<LFQ_RING_SP | LFQ_RING_SC> {
	static constexpr const char *kName = "lfq_spsc";
	static constexpr unsigned kMaxProducers = 1;
	static constexpr unsigned kMaxConsumers = 1;
};
struct LfqMpscRing : LfqRingMode<LFQ_RING_SC> {
	static constexpr const char *kName = "lfq_mpsc";
	static constexpr unsigned kMaxConsumers = 1;
};
struct LfqSpmcRing : LfqRingMode<LFQ_RING_SP> {
	static constexpr const char *kName = "lfq_spmc";
	static constexpr unsigned kMaxProducers = 1;
};

/** Baseline: one pthread mutex, condition variables only for waiting calls. */
struct MutexRing {
	using ring_type = struct mutex_ring;
	static constexpr const char *kName = "mutex";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return mutex_ring_create(r, capacity);
	}
	static void destroy(ring_type *r)
	{
		mutex_ring_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return mutex_ring_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return mutex_ring_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return mutex_ring_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return mutex_ring_pop_burst(r, items, n);
	}
	[[nodiscard]] static int push_wait(ring_type *r, void *item, int64_t timeout_ns)
	{
		return mutex_ring_push_wait(r, item, timeout_ns);
	}
	[[nodiscard]] static int pop_wait(ring_type *r, void **item, int64_t timeout_ns)
	{
		return mutex_ring_pop_wait(r, item, timeout_ns);
	}
	static void close(ring_type *r)
	{
		mutex_ring_close(r);
	}
};

/** Baseline: Vyukov's bounded MPMC queue (lock-less, but blocking). */
struct VyukovRing {
	using ring_type = struct vyukov_ring;
	static constexpr const char *kName = "vyukov";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return vyukov_ring_create(r, capacity);
	}
	static void destroy(ring_type *r)
	{
		vyukov_ring_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return vyukov_ring_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return vyukov_ring_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return vyukov_ring_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return vyukov_ring_pop_burst(r, items, n);
	}
};

/** Baseline: the mutex ring's layout under a test-and-test-and-set spinlock. */
struct SpinRing {
	using ring_type = struct spin_ring;
	static constexpr const char *kName = "spin";

	[[nodiscard]] static int create(ring_type **r, size_t capacity)
	{
		return spin_ring_create(r, capacity);
	}
	static void destroy(ring_type *r)
	{
		spin_ring_destroy(r);
	}
	[[nodiscard]] static int push(ring_type *r, void *item)
	{
		return spin_ring_push(r, item);
	}
	[[nodiscard]] static int pop(ring_type *r, void **item)
	{
		return spin_ring_pop(r, item);
	}
	static size_t push_burst(ring_type *r, void *const *items, size_t n)
	{
		return spin_ring_push_burst(r, items, n);
	}
	static size_t pop_burst(ring_type *r, void **items, size_t n)
	{
		return spin_ring_pop_burst(r, items, n);
	}
};

/** Every ring benchmark runs for each of these, in this order: lfq, the baselines, then the
 *  peers that were found at build time (bench_peers.h; missing ones are not in the list). */
using RingImpls = Concat<
	ImplList<LfqRing, LfqSpscRing, LfqMpscRing, LfqSpmcRing, MutexRing, VyukovRing, SpinRing>,
	PeerRingImpls>::type;

/** The rings with blocking calls (push_wait, pop_wait, close): bench_ring_wait.cc. */
using WaitRingImpls = Concat<ImplList<LfqRing, MutexRing>, PeerWaitRingImpls>::type;

/** Owns one ring of adapter I; check ok() (or error()) before use. */
template <class I> class RingHandle
{
    public:
	explicit RingHandle(size_t capacity) : error_(I::create(&ring_, capacity))
	{
	}
	~RingHandle()
	{
		if (error_ == 0)
			I::destroy(ring_);
	}
	RingHandle(const RingHandle &) = delete;
	RingHandle &operator=(const RingHandle &) = delete;

	bool ok() const
	{
		return error_ == 0;
	}
	int error() const
	{
		return error_;
	}
	typename I::ring_type *get() const
	{
		return ring_;
	}

    private:
	typename I::ring_type *ring_ = nullptr;
	int error_;
};

/* ---------------------------------------------------------------------------------------- */
/* The retry policy, identical for every implementation. */

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/**
 * What a benchmark thread does after a push or pop returned -EAGAIN (or a burst returned 0):
 * a few pause instructions while the failures are fresh, and after kFailuresBeforeYield
 * consecutive failures, sched_yield() on every further failure (so an oversubscribed
 * machine hands the CPU to the thread that can make progress). reset() after a success.
 */
class Retry
{
    public:
	static constexpr unsigned kPausesPerFailure = 4;
	static constexpr unsigned kFailuresBeforeYield = 64;

	/** @return true if it yielded the CPU (a good moment to check for an abort). */
	bool backoff()
	{
		if (failures_ < kFailuresBeforeYield) {
			++failures_;
			for (unsigned i = 0; i < kPausesPerFailure; i++)
				cpu_relax();
			return false;
		}
		sched_yield();
		return true;
	}
	void reset()
	{
		failures_ = 0;
	}

    private:
	unsigned failures_ = 0;
};

/* ---------------------------------------------------------------------------------------- */
/* Threads. */

/**
 * Releases worker threads together: each calls arrive_and_wait(); the coordinator calls
 * wait_for(n) until all n have arrived, takes its start time, then open().
 */
class StartGate
{
    public:
	void arrive_and_wait()
	{
		arrived_.fetch_add(1, std::memory_order_relaxed);
		/* Acquire pairs with the release in open(): the start time and everything the
		 * coordinator prepared are visible once the gate is seen open. */
		while (!open_.load(std::memory_order_acquire))
			sched_yield();
	}
	void wait_for(unsigned n)
	{
		/* Relaxed: only a count; the workers publish nothing through it. */
		while (arrived_.load(std::memory_order_relaxed) < n)
			sched_yield();
	}
	void open()
	{
		open_.store(true, std::memory_order_release);
	}

    private:
	std::atomic<unsigned> arrived_{0};
	std::atomic<bool> open_{false};
};

/** @return the value of environment variable @p name as an unsigned number, or @p fallback
 *          when it is unset, empty or not a positive number. */
inline uint64_t env_u64(const char *name, uint64_t fallback)
{
	const char *s = std::getenv(name);
	if (s == nullptr || *s == '\0')
		return fallback;
	char *end = nullptr;
	unsigned long long v = std::strtoull(s, &end, 0);
	if (end == s || *end != '\0' || v == 0)
		return fallback;
	return static_cast<uint64_t>(v);
}

/** Items moved per multi-thread iteration: LFQ_BENCH_ITEMS, default one million. */
inline uint64_t bench_items()
{
	return env_u64("LFQ_BENCH_ITEMS", 1000000);
}

/** Seconds a multi-thread iteration may take before it is reported as stuck:
 *  LFQ_BENCH_TIMEOUT, default 60 + 1 per 100,000 items. */
inline uint64_t bench_timeout_s()
{
	return env_u64("LFQ_BENCH_TIMEOUT", 60 + bench_items() / 100000);
}

/**
 * Where a benchmark's threads run (docs/benchmarks.md, "Placement"). Two threads that hand
 * items to each other behave differently on two CPUs (every hand-off crosses cores) and
 * time-sharing one (hand-offs stay in one cache), and unpinned the scheduler picks one or the
 * other per run; so every multi-thread figure names its placement.
 *   kSpread  thread i pinned to the (i mod n)-th allowed CPU
 *   kPacked  every thread pinned to the first allowed CPU
 *   kFree    unpinned: the scheduler's choice, which changes from run to run
 */
enum class Placement { kFree, kSpread, kPacked };

inline const char *placement_name(Placement p)
{
	return p == Placement::kSpread ? "spread" : p == Placement::kPacked ? "packed" : "free";
}

/** LFQ_BENCH_PLACEMENT: spread, packed or free (the default); LFQ_BENCH_PIN=1 means spread. */
inline Placement bench_placement()
{
	const char *s = std::getenv("LFQ_BENCH_PLACEMENT");
	if (s != nullptr && std::string(s) == "spread")
		return Placement::kSpread;
	if (s != nullptr && std::string(s) == "packed")
		return Placement::kPacked;
	if ((s == nullptr || *s == '\0') && env_u64("LFQ_BENCH_PIN", 0) != 0)
		return Placement::kSpread;
	return Placement::kFree;
}

/** Whether LFQ_BENCH_PIN / LFQ_BENCH_PLACEMENT ask for pinned threads (spread or packed). */
inline bool bench_pin()
{
	return bench_placement() != Placement::kFree;
}

/** Whether multi-thread runs happen in a child process with a watchdog: LFQ_BENCH_ISOLATE,
 *  default yes (0 turns it off, e.g. to profile a run in-process). */
inline bool bench_isolate()
{
	const char *s = std::getenv("LFQ_BENCH_ISOLATE");
	return s == nullptr || std::string(s) != "0";
}

/** The CPUs of this process's affinity mask, in order; empty if it cannot be read. */
inline std::vector<int> allowed_cpu_list()
{
	std::vector<int> cpus;
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return cpus;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed))
			cpus.push_back(cpu);
	return cpus;
}

/** Places thread @p t, the @p index-th thread of a run, as @p where says. */
inline void place_thread(pthread_t t, unsigned index, Placement where)
{
	static const std::vector<int> cpus = allowed_cpu_list();
	if (where == Placement::kFree || cpus.empty())
		return;
	const int cpu = where == Placement::kPacked ? cpus[0] : cpus[index % cpus.size()];
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	(void)pthread_setaffinity_np(t, sizeof(one), &one);
}

/** Pins @p t to the @p index-th CPU of the process's affinity mask (round-robin). */
inline void pin_thread(std::thread &t, unsigned index)
{
	place_thread(t.native_handle(), index, Placement::kSpread);
}

/** What a stretch of a run cost the whole process: on-CPU time summed over its threads (those
 * that ended included) and context switches, from getrusage(RUSAGE_SELF). */
struct ProcessCost {
	double cpu_ns = 0;
	double switches = 0;

	static ProcessCost now()
	{
		struct rusage ru;
		ProcessCost c;
		if (getrusage(RUSAGE_SELF, &ru) != 0)
			return c;
		c.cpu_ns = (static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9) +
			   (static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3);
		c.switches = static_cast<double>(ru.ru_nvcsw + ru.ru_nivcsw);
		return c;
	}
	ProcessCost operator-(const ProcessCost &o) const
	{
		ProcessCost c;
		c.cpu_ns = cpu_ns - o.cpu_ns;
		c.switches = switches - o.switches;
		return c;
	}
};

/** Google Benchmark statistics beside its mean/median/stddev/cv: the spread of the
 * repetitions, which every table cell shows next to the median. */
inline benchmark::internal::Benchmark *with_spread(benchmark::internal::Benchmark *b)
{
	return b->ComputeStatistics("min",
				    [](const std::vector<double> &v) {
					    return *std::min_element(v.begin(), v.end());
				    })
		->ComputeStatistics("max", [](const std::vector<double> &v) {
			return *std::max_element(v.begin(), v.end());
		});
}

/* ---------------------------------------------------------------------------------------- */
/* Machine description, written to the JSON "context" next to Google Benchmark's own
 * (date, host_name, num_cpus, mhz_per_cpu, caches, load_avg). */

inline std::string cpu_model()
{
	std::ifstream in("/proc/cpuinfo");
	std::string line;
	/* "model name" on x86; AArch64 kernels have no model name, only "CPU part". */
	while (std::getline(in, line)) {
		if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
			size_t colon = line.find(':');
			if (colon != std::string::npos && colon + 2 <= line.size())
				return line.substr(colon + 2);
		}
	}
	return "unknown";
}

inline void add_machine_context()
{
	benchmark::AddCustomContext("lfq_version", LFQ_BENCH_LFQ_VERSION);
	benchmark::AddCustomContext("cpu_model", cpu_model());
	benchmark::AddCustomContext("cpus_online", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		benchmark::AddCustomContext("cpus_allowed", std::to_string(CPU_COUNT(&allowed)));

	struct utsname u;
	if (uname(&u) == 0) {
		benchmark::AddCustomContext("kernel", std::string(u.sysname) + " " + u.release +
							      " " + u.version);
		benchmark::AddCustomContext("arch", u.machine);
	}

#if defined(__clang__)
	benchmark::AddCustomContext("cxx_compiler", std::string("clang ") + __VERSION__);
#elif defined(__GNUC__)
	benchmark::AddCustomContext("cxx_compiler", std::string("gcc ") + __VERSION__);
#else
	benchmark::AddCustomContext("cxx_compiler", "unknown");
#endif
	benchmark::AddCustomContext("c_compiler", LFQ_BENCH_C_COMPILER);
	benchmark::AddCustomContext("buildtype", LFQ_BENCH_BUILDTYPE);
	benchmark::AddCustomContext("optimization", LFQ_BENCH_OPTIMIZATION);
	benchmark::AddCustomContext("assertions", LFQ_BENCH_ASSERTIONS);
	benchmark::AddCustomContext("lto", LFQ_BENCH_LTO);
	benchmark::AddCustomContext("c_args", LFQ_BENCH_C_ARGS);
	benchmark::AddCustomContext("cpp_args", LFQ_BENCH_CPP_ARGS);

	benchmark::AddCustomContext("peers_found", LFQ_BENCH_PEERS_FOUND);
	benchmark::AddCustomContext("peers_skipped", LFQ_BENCH_PEERS_SKIPPED);
	benchmark::AddCustomContext("bench_items", std::to_string(bench_items()));
	benchmark::AddCustomContext("bench_pin", bench_pin() ? "yes" : "no");
	benchmark::AddCustomContext("placement", placement_name(bench_placement()));
	benchmark::AddCustomContext(
		"retry_policy",
		std::to_string(Retry::kPausesPerFailure) + " pause per EAGAIN, sched_yield after " +
			std::to_string(Retry::kFailuresBeforeYield) + " consecutive EAGAIN");
}

/**
 * The main() of every benchmark program: Google Benchmark's flags, the machine description,
 * then @p register_benchmarks (which may add its own context), then the run.
 */
template <class Register> int run_main(int argc, char **argv, Register register_benchmarks)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	add_machine_context();
	register_benchmarks();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}

} // namespace lfqbench

#endif // LFQ_BENCH_COMMON_H
