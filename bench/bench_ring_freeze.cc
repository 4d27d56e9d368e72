// SPDX-License-Identifier: MIT
/*
 * bench_ring_freeze: which rings stall when one thread is stopped in the middle of what it
 * was doing. Not a speed benchmark: a probe of the progress guarantee, run with Google
 * Benchmark so that it shares the other programs' flags, JSON and machine context.
 * Registered once per multi-producer/multi-consumer adapter in lfqbench::RingImpls that has
 * non-blocking calls (bench_impl_list.h), at capacities 4 and 64:
 *
 *   freeze/stall/<impl>/P2C2/cap<n>
 *
 * Each run: 2 producers and 2 consumers hammer one ring with single-item push and pop
 * (lfqbench::Retry on -EAGAIN), each counting the operations it completed. The main thread
 * then, LFQ_FREEZE_COUNT times (default 100):
 *   1. sleeps a random gap of 1 to LFQ_FREEZE_GAP_MS ms (default 4), so the next freeze
 *      lands at a random moment of the target's loop;
 *   2. freezes the next thread in turn (producer 0, consumer 0, producer 1, consumer 1)
 *      with pthread_kill(SIGUSR1); the handler says it is frozen and waits in sigsuspend()
 *      until thawed (async-signal-safe: atomics, sigsuspend, pthread_sigmask), so the
 *      thread stays exactly where the signal found it, possibly inside a push or pop;
 *   3. waits LFQ_FREEZE_SETTLE_MS ms (default 2), long enough for the others to fill or
 *      empty a small ring;
 *   4. counts the operations the other three complete over a window of
 *      LFQ_FREEZE_WINDOW_MS ms (default 20); none at all is a stalled window. A ring that
 *      is full or empty only because of the frozen thread (e.g. a slot it reserved and
 *      never published) therefore counts as stalled, as it should: the others can do
 *      nothing until that thread runs again. But a window in which the others did nothing
 *      because the machine did not run them (a loaded machine: they waited for a CPU, per
 *      /proc/self/task/<tid>/schedstat, more than half the window, and ran less than 2 ms
 *      together) proves nothing: the probe extends the window by as much again, up to 5
 *      times; if the others still neither ran 2 ms nor did anything, the freeze counts as
 *      `starved`, not stalled. Threads asleep in the
 *      kernel (a mutex) wait for no CPU, so their empty windows do count as stalls;
 *   5. thaws the thread (SIGUSR2) and waits until it has left the handler.
 * A lock-free ring shows no stalled window; a blocking one stalls whenever the freeze
 * caught the target inside its critical window (between reserving and publishing a slot,
 * holding a lock, ...), so its count is roughly the share of the loop spent there.
 *
 * After the freezes the workers stop, the ring is drained and the run verifies itself:
 * every item pushed was popped or drained (count and sum), no invented values, and each
 * producer's items in order as each consumer saw them (counted, not checked, for adapters
 * with kFifoPerProducer = false). A mismatch, or a thread that does not acknowledge a
 * freeze within a second, is an error instead of numbers.
 *
 * Counters: freezes, stalled (windows), stalled_producer / stalled_consumer (of those, the
 * ones with a producer / consumer frozen), starved (freezes left undecided, see 4.),
 * ops_per_window_p50 (the median number of operations the others completed in the first
 * window of a freeze), capacity.
 *
 * Environment: LFQ_FREEZE_COUNT, LFQ_FREEZE_WINDOW_MS, LFQ_FREEZE_SETTLE_MS,
 * LFQ_FREEZE_GAP_MS, LFQ_FREEZE_SEED (default 1).
 */
#include "bench_common.h"
#include "bench_mpmc.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace
{

constexpr unsigned kProducers = 2;
constexpr unsigned kConsumers = 2;
constexpr unsigned kThreads = kProducers + kConsumers;
constexpr size_t kCapacities[] = {4, 64};
constexpr int kFreezeSignal = SIGUSR1;
constexpr int kThawSignal = SIGUSR2;
/* How long a thread may take to enter or leave the handler before the run is an error. */
constexpr auto kAckTimeout = std::chrono::seconds(1);
/* An empty window is a stall if the others ran at least this long in it together... */
constexpr uint64_t kMinRunNs = 2000000;
/* ... or waited for a CPU less than this fraction of it; else it is extended, up to: */
constexpr double kMaxWaitFraction = 0.5;
constexpr unsigned kMaxWindows = 5;

/* ---------------------------------------------------------------------------------------- */
/* The freeze: one thread at a time, so one pair of flags. Lock-free atomics only, which is
 * what makes them usable from a signal handler. */

std::atomic<int> g_frozen{0}; /* 1 while the target is in the handler */
std::atomic<int> g_thaw{0};   /* set by the main thread before it sends kThawSignal */
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs lock-free atomics");

extern "C" void on_freeze(int)
{
	const int saved_errno = errno;
	/* Release pairs with the acquire in wait_for_flag(): the target is in the handler. */
	g_frozen.store(1, std::memory_order_release);
	sigset_t wait_mask;
	pthread_sigmask(SIG_BLOCK, nullptr, &wait_mask); /* kThawSignal blocked (sa_mask) */
	sigdelset(&wait_mask, kThawSignal);
	/* Acquire pairs with the release store of g_thaw in thaw(). kThawSignal, if it came
	 * already, is pending until sigsuspend unblocks it, so it cannot be missed. */
	while (g_thaw.load(std::memory_order_acquire) == 0)
		sigsuspend(&wait_mask);
	/* Release pairs with the acquire in wait_for_flag(): the target is about to resume. */
	g_frozen.store(0, std::memory_order_release);
	errno = saved_errno;
}

extern "C" void on_thaw(int)
{
	/* Only interrupts sigsuspend in on_freeze. */
}

bool install_handlers()
{
	struct sigaction sa = {};
	sa.sa_handler = on_freeze;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, kThawSignal);
	sa.sa_flags = SA_RESTART;
	if (sigaction(kFreezeSignal, &sa, nullptr) != 0)
		return false;
	struct sigaction st = {};
	st.sa_handler = on_thaw;
	sigemptyset(&st.sa_mask);
	st.sa_flags = SA_RESTART;
	return sigaction(kThawSignal, &st, nullptr) == 0;
}

/** Waits until g_frozen == @p want. @return false after kAckTimeout. */
bool wait_for_flag(int want)
{
	const auto give_up = std::chrono::steady_clock::now() + kAckTimeout;
	while (g_frozen.load(std::memory_order_acquire) != want) {
		if (std::chrono::steady_clock::now() > give_up)
			return false;
		sched_yield();
	}
	return true;
}

void sleep_us(int64_t us)
{
	struct timespec ts = {static_cast<time_t>(us / 1000000),
			      static_cast<long>(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* ---------------------------------------------------------------------------------------- */
/* The workers. */

struct alignas(64) Worker {
	/* Operations completed; written by its thread only, read by the main thread.
	 * Relaxed: a progress count; nothing is published through it. */
	std::atomic<uint64_t> ops{0};
	std::atomic<bool> started{false};
	pthread_t handle{};
	pid_t tid = 0; /* for its schedstat */
	/* Tallies, read after join(). */
	uint64_t count = 0;
	uint64_t sum = 0;
	uint64_t out_of_order = 0;
	uint64_t bad_value = 0;
	uint64_t last[kProducers] = {}; /* consumers: last seq seen + 1 per producer */
};

struct Probe {
	std::atomic<bool> stop{false};
	Worker workers[kThreads]; /* producers first, then consumers */
};

void count_op(Worker &w)
{
	w.ops.store(w.ops.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

template <class I> void producer(typename I::ring_type *ring, Probe &pr, unsigned id)
{
	Worker &w = pr.workers[id];
	lfqbench::thread_enter<I>();
	w.handle = pthread_self();
	w.tid = static_cast<pid_t>(syscall(SYS_gettid));
	w.started.store(true, std::memory_order_release); /* pairs with start_workers() */
	lfqbench::Retry retry;
	uint64_t seq = 0;
	/* Relaxed: stop carries no data; the tallies travel by join(). */
	while (!pr.stop.load(std::memory_order_relaxed)) {
		void *item = lfqbench::encode_item(id, seq);
		if (I::push(ring, item) != 0) {
			retry.backoff();
			continue;
		}
		retry.reset();
		seq++;
		w.count++;
		w.sum += reinterpret_cast<uintptr_t>(item);
		count_op(w);
	}
	lfqbench::thread_exit<I>();
}

void account(Worker &w, void *item)
{
	const uint64_t v = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(item)) - 1;
	const uint64_t p = v >> lfqbench::kSeqBits;
	const uint64_t seq = v & lfqbench::kSeqMask;
	w.count++;
	w.sum += v + 1;
	if (item == nullptr || p >= kProducers) {
		w.bad_value++;
		return;
	}
	if (seq + 1 <= w.last[p])
		w.out_of_order++;
	w.last[p] = seq + 1;
}

template <class I> void consumer(typename I::ring_type *ring, Probe &pr, unsigned index)
{
	Worker &w = pr.workers[index];
	lfqbench::thread_enter<I>();
	w.handle = pthread_self();
	w.tid = static_cast<pid_t>(syscall(SYS_gettid));
	w.started.store(true, std::memory_order_release); /* pairs with start_workers() */
	lfqbench::Retry retry;
	while (!pr.stop.load(std::memory_order_relaxed)) {
		void *item = nullptr;
		if (I::pop(ring, &item) != 0) {
			retry.backoff();
			continue;
		}
		retry.reset();
		account(w, item);
		count_op(w);
	}
	lfqbench::thread_exit<I>();
}

uint64_t others_ops(const Probe &pr, unsigned frozen)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < kThreads; i++)
		if (i != frozen)
			n += pr.workers[i].ops.load(std::memory_order_relaxed);
	return n;
}

/* Time on a CPU and waiting for one, of the workers other than @p frozen, from the kernel's
 * schedstat (ns). @return false if it is not available. */
struct SchedTimes {
	uint64_t run_ns = 0;
	uint64_t wait_ns = 0;
};

bool others_sched(const Probe &pr, unsigned frozen, SchedTimes &out)
{
	out = SchedTimes{};
	for (unsigned i = 0; i < kThreads; i++) {
		if (i == frozen)
			continue;
		char path[64];
		std::snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat",
			      static_cast<int>(pr.workers[i].tid));
		std::FILE *f = std::fopen(path, "r");
		if (f == nullptr)
			return false;
		unsigned long long run = 0, wait = 0;
		const int got = std::fscanf(f, "%llu %llu", &run, &wait);
		std::fclose(f);
		if (got != 2)
			return false;
		out.run_ns += run;
		out.wait_ns += wait;
	}
	return true;
}

enum class Window { kProgress, kStalled, kStarved };

/*
 * Watches the others while @p frozen is frozen: one window of @p window_us, and while they
 * did nothing but the machine did not let them run either, more windows (up to
 * kMaxWindows). @p first_ops receives what they did in the first window.
 */
Window watch_others(const Probe &pr, unsigned frozen, int64_t window_us, uint64_t *first_ops)
{
	SchedTimes s0, s1;
	const bool have_sched = others_sched(pr, frozen, s0);
	const uint64_t before = others_ops(pr, frozen);
	for (unsigned k = 1;; k++) {
		sleep_us(window_us);
		const uint64_t ops = others_ops(pr, frozen) - before;
		if (k == 1)
			*first_ops = ops;
		if (ops > 0)
			return Window::kProgress;
		if (!have_sched || !others_sched(pr, frozen, s1))
			return Window::kStalled; /* no schedstat: an empty window is a stall */
		const uint64_t ran = s1.run_ns - s0.run_ns;
		const double waited = static_cast<double>(s1.wait_ns - s0.wait_ns);
		const double watched = static_cast<double>(window_us) * 1000.0 * k;
		if (ran >= kMinRunNs || waited < kMaxWaitFraction * watched)
			return Window::kStalled; /* they ran, or slept, and did nothing */
		if (k == kMaxWindows)
			return Window::kStarved;
	}
}

struct FreezeResult {
	unsigned freezes = 0;
	unsigned stalled = 0;
	unsigned starved = 0;
	unsigned stalled_producer = 0;
	unsigned stalled_consumer = 0;
	double ops_per_window_p50 = 0;
	uint64_t out_of_order = 0;
	std::string error;
};

struct FreezeParams {
	size_t capacity;
	unsigned count;
	int64_t window_us;
	int64_t settle_us;
	int64_t gap_max_us;
	uint64_t seed;
};

template <class I> FreezeResult run_probe(const FreezeParams &fp)
{
	FreezeResult res;
	lfqbench::RingHandle<I> ring(fp.capacity);
	if (!ring.ok()) {
		res.error = "create failed: " + std::to_string(ring.error());
		return res;
	}
	Probe pr;
	std::vector<std::thread> threads;
	for (unsigned i = 0; i < kProducers; i++)
		threads.emplace_back(producer<I>, ring.get(), std::ref(pr), i);
	for (unsigned i = 0; i < kConsumers; i++)
		threads.emplace_back(consumer<I>, ring.get(), std::ref(pr), kProducers + i);
	for (auto &w : pr.workers)
		while (!w.started.load(std::memory_order_acquire))
			sched_yield();
	sleep_us(10000); /* let the ring reach its steady state */

	std::mt19937_64 rng(fp.seed);
	std::uniform_int_distribution<int64_t> gap(1000, std::max<int64_t>(1000, fp.gap_max_us));
	std::vector<double> window_ops;
	for (unsigned n = 0; n < fp.count; n++) {
		const unsigned target = (n % 2) * kProducers + (n / 2) % 2; /* P0, C0, P1, C1 */
		sleep_us(gap(rng));
		/* Relaxed: the handler reads g_thaw only once the signal below is delivered, and
		 * pthread_kill is a system call: the store is visible to the target by then. */
		g_thaw.store(0, std::memory_order_relaxed);
		if (pthread_kill(pr.workers[target].handle, kFreezeSignal) != 0 ||
		    !wait_for_flag(1)) {
			/* A handler that starts late must not stay: release pairs with on_freeze.
			 */
			g_thaw.store(1, std::memory_order_release);
			res.error = "a worker did not enter the freeze handler";
			break;
		}
		sleep_us(fp.settle_us);
		uint64_t during = 0;
		const Window w = watch_others(pr, target, fp.window_us, &during);
		window_ops.push_back(static_cast<double>(during));
		/* Release pairs with the acquire load in on_freeze. */
		g_thaw.store(1, std::memory_order_release);
		if (pthread_kill(pr.workers[target].handle, kThawSignal) != 0 ||
		    !wait_for_flag(0)) {
			/* Cannot join a thread that stays frozen: there is no way on. */
			std::fprintf(stderr, "bench_ring_freeze: a worker did not thaw\n");
			std::abort();
		}
		res.freezes++;
		if (w == Window::kStarved) {
			res.starved++;
		} else if (w == Window::kStalled) {
			res.stalled++;
			if (target < kProducers)
				res.stalled_producer++;
			else
				res.stalled_consumer++;
		}
	}
	pr.stop.store(true, std::memory_order_relaxed);
	for (auto &t : threads)
		t.join();

	/* Verify: what was pushed is what was popped plus what is left. */
	Worker drained;
	void *item = nullptr;
	while (I::pop(ring.get(), &item) == 0)
		account(drained, item);
	uint64_t pushed = 0, push_sum = 0, popped = drained.count, pop_sum = drained.sum;
	uint64_t bad = drained.bad_value;
	for (unsigned i = 0; i < kProducers; i++) {
		pushed += pr.workers[i].count;
		push_sum += pr.workers[i].sum;
	}
	for (unsigned i = kProducers; i < kThreads; i++) {
		popped += pr.workers[i].count;
		pop_sum += pr.workers[i].sum;
		bad += pr.workers[i].bad_value;
		res.out_of_order += pr.workers[i].out_of_order;
	}
	res.ops_per_window_p50 = lfqbench::percentile_of(window_ops, 0.5);
	if (res.error.empty() && (pushed != popped || push_sum != pop_sum || bad != 0 ||
				  (lfqbench::FifoPerProducer<I>::value && res.out_of_order != 0))) {
		char msg[200];
		std::snprintf(msg, sizeof(msg),
			      "verification failed: pushed %llu, popped and drained %llu, sums %s, "
			      "%llu bad values, %llu out of order",
			      static_cast<unsigned long long>(pushed),
			      static_cast<unsigned long long>(popped),
			      push_sum == pop_sum ? "equal" : "differ",
			      static_cast<unsigned long long>(bad),
			      static_cast<unsigned long long>(res.out_of_order));
		res.error = msg;
	}
	return res;
}

FreezeParams params_from_env(size_t capacity)
{
	FreezeParams fp;
	fp.capacity = capacity;
	fp.count = static_cast<unsigned>(lfqbench::env_u64("LFQ_FREEZE_COUNT", 100));
	fp.window_us = static_cast<int64_t>(lfqbench::env_u64("LFQ_FREEZE_WINDOW_MS", 20)) * 1000;
	fp.settle_us = static_cast<int64_t>(lfqbench::env_u64("LFQ_FREEZE_SETTLE_MS", 2)) * 1000;
	fp.gap_max_us = static_cast<int64_t>(lfqbench::env_u64("LFQ_FREEZE_GAP_MS", 4)) * 1000;
	fp.seed = lfqbench::env_u64("LFQ_FREEZE_SEED", 1);
	return fp;
}

template <class I> void BM_Freeze(benchmark::State &state, size_t capacity)
{
	const FreezeParams fp = params_from_env(capacity);
	FreezeResult r;
	for (auto _ : state) {
		r = run_probe<I>(fp);
		if (!r.error.empty()) {
			state.SkipWithError(r.error.c_str());
			return;
		}
	}
	state.counters["freezes"] = r.freezes;
	state.counters["stalled"] = r.stalled;
	state.counters["stalled_producer"] = r.stalled_producer;
	state.counters["stalled_consumer"] = r.stalled_consumer;
	state.counters["starved"] = r.starved;
	state.counters["ops_per_window_p50"] = r.ops_per_window_p50;
	state.counters["capacity"] = static_cast<double>(capacity);
	if constexpr (!lfqbench::FifoPerProducer<I>::value)
		state.counters["out_of_order"] = static_cast<double>(r.out_of_order);
}

void register_freeze_benchmarks()
{
	const FreezeParams fp = params_from_env(0);
	benchmark::AddCustomContext("freeze_probe",
				    std::to_string(fp.count) + " freezes per ring, window " +
					    std::to_string(fp.window_us / 1000) + " ms after " +
					    std::to_string(fp.settle_us / 1000) + " ms, gaps 1-" +
					    std::to_string(fp.gap_max_us / 1000) +
					    " ms, 2 producers + 2 consumers");
	lfqbench::for_each_impl(lfqbench::RingImpls{}, [](auto tag) {
		using I = typename decltype(tag)::type;
		if constexpr (lfqbench::is_mpmc<I>() && !lfqbench::BlockingCalls<I>::value) {
			for (size_t cap : kCapacities) {
				const std::string name = std::string("freeze/stall/") + I::kName +
							 "/P2C2/cap" + std::to_string(cap);
				benchmark::RegisterBenchmark(name.c_str(), BM_Freeze<I>, cap)
					->Iterations(1)
					->UseRealTime()
					->Unit(benchmark::kMillisecond);
			}
		}
	});
}

} // namespace

int main(int argc, char **argv)
{
	if (!install_handlers()) {
		std::perror("bench_ring_freeze: sigaction");
		return 1;
	}
	return lfqbench::run_main(argc, argv, [] { register_freeze_benchmarks(); });
}
