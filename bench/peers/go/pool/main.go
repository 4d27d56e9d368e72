// SPDX-License-Identifier: MIT

// Command goPool is the Go peer of bench/bench_pool.cc: the tutorial's worker pool (a
// buffered channel of jobs, one goroutine per worker ranging over it), run with the same
// jobs and checks as the lfq and mutex pools.
//
//	pool/throughput/go/<job>/W<w>/S<s>/C<c>  w workers and s submitter goroutines, channel
//	                                    capacity c; <job> is "empty" or "1us" (spins 1 us on
//	                                    the monotonic clock); each submitter submits -jobs
//	                                    jobs (1us: a fifth); the grid is bench_pool.cc's
//	pool/latency/go                     2 workers, capacity 1024, one job at a time after a
//	                                    200 us pause: submit -> job starts, p50/p99/p999
//
// Time runs from releasing the submitters to the last job finishing (a sync.WaitGroup with
// one Add per job, as the tutorial does). Each job adds its value to its worker's padded
// tally; count and sum must match exactly or the program reports the failure and exits 1.
// GOMAXPROCS is left at its default. Each benchmark runs -reps times; the JSON (Google
// Benchmark format, -json or -out FILE) reports the medians.
//
// Flags: -jobs N (per submitter; default $LFQ_BENCH_POOL_JOBS or 100000), -reps N (5),
// -samples N (2000),
// -bench REGEXP, -json, -out FILE.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

type job struct {
	fn  func(worker int, v uint64)
	val uint64
}

type tally struct {
	count, sum uint64
	_          [48]byte
}

var base = time.Now()

func nowNs() int64 { return int64(time.Since(base)) }

func spin(ns int64) {
	end := nowNs() + ns
	for nowNs() < end {
	}
}

type pool struct {
	ch      chan job
	workers sync.WaitGroup
	pending sync.WaitGroup
}

func newPool(workers, capacity int) *pool {
	p := &pool{ch: make(chan job, capacity)}
	p.workers.Add(workers)
	for w := 0; w < workers; w++ {
		go func(w int) {
			defer p.workers.Done()
			for j := range p.ch {
				j.fn(w, j.val)
				p.pending.Done()
			}
		}(w)
	}
	return p
}

func (p *pool) submit(j job) { p.pending.Add(1); p.ch <- j }
func (p *pool) waitIdle()    { p.pending.Wait() }
func (p *pool) close()       { close(p.ch); p.workers.Wait() }

func throughput(workers, submitters, capacity int, work bool, items uint64) (float64, error) {
	tallies := make([]tally, workers)
	fn := func(w int, v uint64) {
		tallies[w].count++
		tallies[w].sum += v
		if work {
			spin(1000)
		}
	}
	p := newPool(workers, capacity)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(submitters)
	done.Add(submitters)
	for s := 0; s < submitters; s++ {
		go func(s int) {
			defer done.Done()
			begin := items*uint64(s)/uint64(submitters) + 1
			end := items*uint64(s+1)/uint64(submitters) + 1
			ready.Done()
			<-gate
			for v := begin; v < end; v++ {
				p.submit(job{fn: fn, val: v})
			}
		}(s)
	}
	ready.Wait()
	cost0 := processCost()
	start := time.Now()
	close(gate)
	done.Wait()
	p.waitIdle()
	secs := time.Since(start).Seconds()
	lastCost = processCost().minus(cost0)
	p.close()
	var count, sum uint64
	for _, t := range tallies {
		count += t.count
		sum += t.sum
	}
	if count != items || sum != items*(items+1)/2 {
		return 0, fmt.Errorf("job check failed: ran %d of %d", count, items)
	}
	return secs, nil
}

// cost is what a stretch of a run cost the process: on-CPU nanoseconds summed over its
// threads and context switches (getrusage), as the C benchmarks count it.
type cost struct{ cpuNs, switches float64 }

// lastCost is the cost of the last throughput run.
var lastCost cost

func processCost() cost {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return cost{}
	}
	return cost{cpuNs: float64(ru.Utime.Nano() + ru.Stime.Nano()),
		switches: float64(ru.Nvcsw + ru.Nivcsw)}
}

func (c cost) minus(o cost) cost { return cost{c.cpuNs - o.cpuNs, c.switches - o.switches} }

func latency(samples int) ([]int64, float64) {
	p := newPool(2, 1024)
	started := make(chan int64, 1)
	fn := func(int, uint64) { started <- nowNs() }
	lat := make([]int64, 0, samples)
	t0 := time.Now()
	for i := 0; i < samples; i++ {
		time.Sleep(200 * time.Microsecond)
		s := nowNs()
		p.submit(job{fn: fn})
		lat = append(lat, <-started-s)
	}
	p.waitIdle()
	p.close()
	return lat, time.Since(t0).Seconds()
}

func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.999999)
	if i < 1 {
		i = 1
	}
	if i > len(sorted) {
		i = len(sorted)
	}
	return float64(sorted[i-1])
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type benchJSON struct {
	Name          string             `json:"name"`
	RunName       string             `json:"run_name"`
	RunType       string             `json:"run_type"`
	Repetitions   int                `json:"repetitions"`
	Threads       int                `json:"threads"`
	AggregateName string             `json:"aggregate_name"`
	Iterations    int                `json:"iterations"`
	RealTime      float64            `json:"real_time"`
	CPUTime       float64            `json:"cpu_time"`
	TimeUnit      string             `json:"time_unit"`
	Counters      map[string]float64 `json:"-"`
}

// MarshalJSON flattens the counters next to the fixed fields, as Google Benchmark does.
func (b benchJSON) MarshalJSON() ([]byte, error) {
	type plain benchJSON
	raw, err := json.Marshal(plain(b))
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for k, v := range b.Counters {
		m[k] = v
	}
	return json.Marshal(m)
}

func defaultJobs() uint64 {
	if v, err := strconv.ParseUint(os.Getenv("LFQ_BENCH_POOL_JOBS"), 0, 64); err == nil && v > 0 {
		return v
	}
	return 100000
}

func main() {
	jobs := flag.Uint64("jobs", defaultJobs(), "jobs per submitter (1us jobs: a fifth)")
	reps := flag.Int("reps", 5, "repetitions; the JSON reports medians")
	samples := flag.Int("samples", 2000, "latency samples")
	filter := flag.String("bench", ".", "run benchmarks whose name matches this regexp")
	asJSON := flag.Bool("json", false, "write Google Benchmark JSON to stdout")
	outFile := flag.String("out", "", "also write the JSON to this file")
	flag.Parse()
	re, err := regexp.Compile(*filter)
	if err != nil || *reps < 1 || *jobs == 0 {
		fmt.Fprintln(os.Stderr, "goPool: bad flags")
		os.Exit(2)
	}
	var out []benchJSON
	failed := false
	// spread: the slowest and fastest repetitions of a rate, as min and max aggregates
	// (the C programs' with_spread statistics).
	spread := func(name, key string, xs []float64) {
		lo, hi := xs[0], xs[0]
		for _, x := range xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		for agg, v := range map[string]float64{"min": lo, "max": hi} {
			out = append(out, benchJSON{Name: name + "_" + agg, RunName: name,
				RunType: "aggregate", Repetitions: *reps, Threads: 1, AggregateName: agg,
				Iterations: 1, TimeUnit: "ms", Counters: map[string]float64{key: v}})
		}
	}
	emit := func(name string, wall []float64, counters map[string]float64) {
		b := benchJSON{Name: name, RunName: name, RunType: "aggregate", Repetitions: *reps,
			Threads: 1, AggregateName: "median", Iterations: 1, RealTime: median(wall) * 1e3,
			TimeUnit: "ms", Counters: counters}
		out = append(out, b)
		if !*asJSON {
			fmt.Printf("%-40s %10.2f ms", name, b.RealTime)
			keys := make([]string, 0, len(counters))
			for k := range counters {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Printf(" %s=%.4g", k, counters[k])
			}
			fmt.Println()
		}
	}
	for _, work := range []bool{false, true} {
		for _, w := range []int{1, 2, 4, 8} {
			for _, sub := range []int{1, 4} {
				for _, c := range []int{64, 1024, 65536} {
					if c != 1024 && w != 2 {
						continue
					}
					kind := "empty"
					per := *jobs
					if work {
						kind, per = "1us", *jobs/5
					}
					if per < 1 {
						per = 1
					}
					n := per * uint64(sub)
					name := fmt.Sprintf("pool/throughput/go/%s/W%d/S%d/C%d", kind, w, sub, c)
					if !re.MatchString(name) {
						continue
					}
					var wall, rate, cpu, csw []float64
					for r := 0; r < *reps; r++ {
						runtime.GC()
						secs, err := throughput(w, sub, c, work, n)
						if err != nil {
							fmt.Fprintf(os.Stderr, "goPool: %s: %v\n", name, err)
							failed = true
							break
						}
						wall = append(wall, secs)
						rate = append(rate, float64(n)/secs)
						cpu = append(cpu, lastCost.cpuNs/float64(n))
						csw = append(csw, lastCost.switches/float64(n))
					}
					if len(wall) == *reps {
						emit(name, wall, map[string]float64{"jobs_per_s": median(rate),
							"cpu_ns_per_job": median(cpu), "csw_per_job": median(csw),
							"workers": float64(w), "submitters": float64(sub),
							"capacity": float64(c)})
						spread(name, "jobs_per_s", rate)
					}
				}
			}
		}
	}
	if re.MatchString("pool/latency/go") {
		var wall, p50, p99, p999 []float64
		for r := 0; r < *reps; r++ {
			lat, secs := latency(*samples)
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			wall = append(wall, secs)
			p50 = append(p50, percentile(lat, 0.50))
			p99 = append(p99, percentile(lat, 0.99))
			p999 = append(p999, percentile(lat, 0.999))
		}
		emit("pool/latency/go", wall, map[string]float64{"p50_ns": median(p50),
			"p99_ns": median(p99), "p999_ns": median(p999), "samples": float64(*samples)})
	}
	js, _ := json.MarshalIndent(map[string]interface{}{
		"context": map[string]interface{}{
			"date": time.Now().Format(time.RFC3339), "num_cpus": runtime.NumCPU(),
			"gomaxprocs": runtime.GOMAXPROCS(0), "go_version": runtime.Version(),
			"pool_jobs_per_submitter": *jobs, "repetitions": *reps, "peer": "go buffered-channel pool",
			"placement": os.Getenv("LFQ_BENCH_PLACEMENT"),
		},
		"benchmarks": out,
	}, "", "  ")
	js = append(js, '\n')
	if *asJSON {
		os.Stdout.Write(js)
	}
	if *outFile != "" {
		if err := os.WriteFile(*outFile, js, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "goPool:", err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}
