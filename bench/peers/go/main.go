// SPDX-License-Identifier: MIT

// Command chanbench is the Go peer of bench/bench_ring_wait.cc: the same blocking-call
// benchmarks, run on Go's buffered channels instead of lfq_ring and the mutex ring.
//
// The adapter: a ring of capacity n is `make(chan uint64, n)`; push_wait(-1) is `ch <- v`,
// pop_wait(-1) until -EPIPE is `for v := range ch`, close is `close(ch)`. Each producer and
// each consumer is one goroutine, and GOMAXPROCS is left at its default (the number of CPUs
// the process may use), so the Go scheduler decides which goroutines share an OS thread.
//
//	ring_wait/throughput/go/P1C1, /P4C4  capacity 1024, -items items split across producers
//	ring_wait/pingpong/go                capacity 1, -items/5 items, per-item latency
//
// As in the C++ program: time is wall-clock from releasing the goroutines to the last
// consumer leaving its range loop; the main goroutine closes the channel once every
// producer has returned; every run checks count and sum (and each producer's order as seen
// by each consumer) and the program exits nonzero on a mismatch. Ping-pong stamps each item
// with the monotonic clock just before the send, in a slice indexed by sequence number (the
// item is the index + 1), and the consumer takes the difference just after the receive;
// p50_ns, p99_ns and p999_ns are nearest-rank percentiles.
//
// Each benchmark runs -reps times in a row; with -json (or -out FILE) the medians over the
// repetitions are written as Google Benchmark JSON ("run_type": "aggregate",
// "aggregate_name": "median", with "min" and "max" beside it), so one script reads this and
// bench_ring_wait's output.
//
// Flags: -items N (default $LFQ_BENCH_ITEMS or 1000000), -reps N (5), -bench REGEXP,
// -json (JSON on stdout instead of the table), -out FILE (JSON to FILE as well).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	throughputCapacity = 1024
	pingPongCapacity   = 1
	pingPongDivisor    = 5 // ping-pong moves items/5: 200,000 by default
	seqBits            = 40
	seqMask            = uint64(1)<<seqBits - 1
)

// result is one repetition of one benchmark.
type result struct {
	seconds    float64 // wall time, gate to last consumer done
	cpuSeconds float64 // user + system time of the whole process during the run
	items      uint64
	volCsw     int64 // voluntary context switches of the process during the run
	involCsw   int64
	latencies  []int64 // ping-pong only: receive - send, ns
}

// usage is a snapshot of the process's CPU time and context switches.
type usage struct {
	cpu      time.Duration
	volCsw   int64
	involCsw int64
}

func getUsage() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	return usage{
		cpu:      time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		volCsw:   ru.Nvcsw,
		involCsw: ru.Nivcsw,
	}
}

// run starts producers and consumers goroutines behind a gate, closes ch when every
// producer has returned, and measures from opening the gate to the last consumer returning.
func run(producers, consumers int, ch chan uint64, produce func(p int), consume func(c int)) result {
	var ready, producing, consuming sync.WaitGroup
	gate := make(chan struct{})
	ends := make([]time.Time, consumers)

	ready.Add(producers + consumers)
	producing.Add(producers)
	consuming.Add(consumers)
	for c := 0; c < consumers; c++ {
		go func(c int) {
			defer consuming.Done()
			ready.Done()
			<-gate
			consume(c)
			ends[c] = time.Now()
		}(c)
	}
	for p := 0; p < producers; p++ {
		go func(p int) {
			defer producing.Done()
			ready.Done()
			<-gate
			produce(p)
		}(p)
	}

	ready.Wait()
	u0 := getUsage()
	start := time.Now()
	close(gate)
	producing.Wait()
	close(ch)
	consuming.Wait()
	u1 := getUsage()

	end := start
	for _, e := range ends {
		if e.After(end) {
			end = e
		}
	}
	return result{
		seconds:    end.Sub(start).Seconds(),
		cpuSeconds: (u1.cpu - u0.cpu).Seconds(),
		volCsw:     u1.volCsw - u0.volCsw,
		involCsw:   u1.involCsw - u0.involCsw,
	}
}

// Per-goroutine tallies, padded so that goroutines do not share cache lines.
type producerTally struct {
	pushed, sum uint64
	_           [48]byte
}

type consumerTally struct {
	popped, sum, outOfOrder, badValue uint64
	last                              []uint64 // per producer: last seq seen + 1, 0 = none
	_                                 [64]byte
}

func throughput(producers, consumers int, total uint64) (result, error) {
	if total/uint64(producers)+1 > seqMask {
		return result{}, fmt.Errorf("-items too large for the item encoding")
	}
	ch := make(chan uint64, throughputCapacity)
	pt := make([]producerTally, producers)
	ct := make([]consumerTally, consumers)
	for c := range ct {
		ct[c].last = make([]uint64, producers)
	}

	produce := func(p int) {
		t := &pt[p]
		count := total / uint64(producers)
		if uint64(p) < total%uint64(producers) {
			count++
		}
		for seq := uint64(0); seq < count; seq++ {
			v := uint64(p)<<seqBits + seq + 1
			ch <- v
			t.pushed++
			t.sum += v
		}
	}
	consume := func(c int) {
		t := &ct[c]
		for v := range ch {
			t.popped++
			t.sum += v
			producer := (v - 1) >> seqBits
			seq := (v - 1) & seqMask
			if v == 0 || producer >= uint64(producers) {
				t.badValue++
				continue
			}
			if seq+1 <= t.last[producer] {
				t.outOfOrder++
			}
			t.last[producer] = seq + 1
		}
	}
	runtime.GC()
	res := run(producers, consumers, ch, produce, consume)
	res.items = total

	var pushed, pushSum, popped, popSum, disorder, bad uint64
	for _, t := range pt {
		pushed += t.pushed
		pushSum += t.sum
	}
	for _, t := range ct {
		popped += t.popped
		popSum += t.sum
		disorder += t.outOfOrder
		bad += t.badValue
	}
	return res, verify(pushed, popped, total, pushSum, popSum, bad, disorder)
}

func pingPong(n uint64) (result, error) {
	ch := make(chan uint64, pingPongCapacity)
	// Monotonic ns since base: time.Since reads the monotonic clock (CLOCK_MONOTONIC).
	base := time.Now()
	// Written by the producer before the send; the send happens before the receive.
	sent := make([]int64, n)
	latency := make([]int64, 0, n)
	var pushed, pushSum, popped, popSum, disorder, bad uint64

	produce := func(int) {
		for i := uint64(0); i < n; i++ {
			sent[i] = int64(time.Since(base))
			ch <- i + 1
			pushed++
			pushSum += i + 1
		}
	}
	consume := func(int) {
		for v := range ch {
			received := int64(time.Since(base))
			popped++
			popSum += v
			if v == 0 || v > n {
				bad++
				continue
			}
			if v != popped {
				disorder++
			}
			latency = append(latency, received-sent[v-1])
		}
	}
	runtime.GC()
	res := run(1, 1, ch, produce, consume)
	res.items = n
	res.latencies = latency
	return res, verify(pushed, popped, n, pushSum, popSum, bad, disorder)
}

func verify(pushed, popped, total, pushSum, popSum, bad, disorder uint64) error {
	if pushed == total && popped == total && pushSum == popSum && bad == 0 && disorder == 0 {
		return nil
	}
	sums := "equal"
	if pushSum != popSum {
		sums = "differ"
	}
	return fmt.Errorf("verification failed: pushed %d, popped %d of %d, sums %s, "+
		"%d bad values, %d out of order", pushed, popped, total, sums, bad, disorder)
}

// percentile is the nearest-rank percentile of sorted: the smallest value >= q of them.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := q * float64(len(sorted))
	i := int(rank)
	if float64(i) < rank {
		i++
	}
	if i < 1 {
		i = 1
	}
	if i > len(sorted) {
		i = len(sorted)
	}
	return float64(sorted[i-1])
}

func lowest(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[0]
}

func highest(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// benchJSON is one entry of Google Benchmark's "benchmarks" array, as an aggregate.
type benchJSON struct {
	Name                   string   `json:"name"`
	FamilyIndex            int      `json:"family_index"`
	PerFamilyInstanceIndex int      `json:"per_family_instance_index"`
	RunName                string   `json:"run_name"`
	RunType                string   `json:"run_type"`
	Repetitions            int      `json:"repetitions"`
	Threads                int      `json:"threads"`
	AggregateName          string   `json:"aggregate_name"`
	AggregateUnit          string   `json:"aggregate_unit"`
	Iterations             int      `json:"iterations"`
	RealTime               float64  `json:"real_time"`
	CPUTime                float64  `json:"cpu_time"`
	TimeUnit               string   `json:"time_unit"`
	ItemsPerSecond         float64  `json:"items_per_second"`
	Producers              *float64 `json:"producers,omitempty"`
	Consumers              *float64 `json:"consumers,omitempty"`
	P50Ns                  *float64 `json:"p50_ns,omitempty"`
	P99Ns                  *float64 `json:"p99_ns,omitempty"`
	P999Ns                 *float64 `json:"p999_ns,omitempty"`
	VolCswPerItem          float64  `json:"vol_csw_per_item"`
	InvolCswPerItem        float64  `json:"invol_csw_per_item"`
}

type report struct {
	Context    map[string]interface{} `json:"context"`
	Benchmarks []benchJSON            `json:"benchmarks"`
}

type benchmark struct {
	name      string
	producers int // 0 for ping-pong
	consumers int
	pingPong  bool
}

// summarize turns the repetitions of one benchmark into one aggregate: stat (median, lowest,
// highest) of each measure, as Google Benchmark's statistics do, one measure at a time.
func summarize(b benchmark, family, reps int, rs []result, name string,
	stat func([]float64) float64) benchJSON {
	var wall, cpu, ips, vol, invol, p50, p99, p999 []float64
	for _, r := range rs {
		items := float64(r.items)
		wall = append(wall, r.seconds*1e3)
		cpu = append(cpu, r.cpuSeconds*1e3)
		ips = append(ips, items/r.seconds)
		vol = append(vol, float64(r.volCsw)/items)
		invol = append(invol, float64(r.involCsw)/items)
		if b.pingPong {
			sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
			p50 = append(p50, percentile(r.latencies, 0.50))
			p99 = append(p99, percentile(r.latencies, 0.99))
			p999 = append(p999, percentile(r.latencies, 0.999))
		}
	}
	out := benchJSON{
		Name:            b.name,
		FamilyIndex:     family,
		RunName:         b.name,
		RunType:         "aggregate",
		Repetitions:     reps,
		Threads:         1,
		AggregateName:   name,
		AggregateUnit:   "time",
		Iterations:      1,
		RealTime:        stat(wall),
		CPUTime:         stat(cpu),
		TimeUnit:        "ms",
		ItemsPerSecond:  stat(ips),
		VolCswPerItem:   stat(vol),
		InvolCswPerItem: stat(invol),
	}
	if b.pingPong {
		m50, m99, m999 := stat(p50), stat(p99), stat(p999)
		out.P50Ns, out.P99Ns, out.P999Ns = &m50, &m99, &m999
	} else {
		p, c := float64(b.producers), float64(b.consumers)
		out.Producers, out.Consumers = &p, &c
	}
	return out
}

func benchContext(items uint64, reps int) map[string]interface{} {
	ctx := map[string]interface{}{
		"date":        time.Now().Format(time.RFC3339),
		"executable":  os.Args[0],
		"num_cpus":    runtime.NumCPU(),
		"go_version":  runtime.Version(),
		"gomaxprocs":  runtime.GOMAXPROCS(0),
		"goos":        runtime.GOOS,
		"goarch":      runtime.GOARCH,
		"bench_items": strconv.FormatUint(items, 10),
		"pingpong_items": strconv.FormatUint(maxU64(1, items/pingPongDivisor),
			10),
		"repetitions": reps,
		"peer":        "go buffered channels",
	}
	if h, err := os.Hostname(); err == nil {
		ctx["host_name"] = h
	}
	if m := cpuModel(); m != "" {
		ctx["cpu_model"] = m
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		var load []float64
		fields := strings.Fields(string(b))
		if len(fields) > 3 {
			fields = fields[:3]
		}
		for _, f := range fields {
			if v, err := strconv.ParseFloat(f, 64); err == nil {
				load = append(load, v)
			}
		}
		ctx["load_avg"] = load
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		ctx["kernel"] = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " +
			utsString(u.Version[:])
		ctx["arch"] = utsString(u.Machine[:])
	}
	return ctx
}

// utsString reads a NUL-terminated utsname field (int8 or uint8, depending on the arch).
func utsString[T int8 | uint8](cs []T) string {
	var sb strings.Builder
	for _, c := range cs {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "model name") || strings.HasPrefix(line, "Model") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return ""
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func defaultItems() uint64 {
	if s := os.Getenv("LFQ_BENCH_ITEMS"); s != "" {
		if v, err := strconv.ParseUint(s, 0, 64); err == nil && v > 0 {
			return v
		}
	}
	return 1000000
}

func main() {
	items := flag.Uint64("items", defaultItems(),
		"items per throughput run; ping-pong moves items/5 (default $LFQ_BENCH_ITEMS or 1000000)")
	reps := flag.Int("reps", 5, "repetitions of each benchmark; the JSON reports their median")
	filter := flag.String("bench", ".", "run only benchmarks whose name matches this regexp")
	asJSON := flag.Bool("json", false, "write Google Benchmark JSON to stdout instead of a table")
	outFile := flag.String("out", "", "also write the Google Benchmark JSON to this file")
	flag.Parse()
	if *items == 0 || *reps < 1 {
		fmt.Fprintln(os.Stderr, "chanbench: -items and -reps must be positive")
		os.Exit(2)
	}
	re, err := regexp.Compile(*filter)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chanbench: -bench: %v\n", err)
		os.Exit(2)
	}

	all := []benchmark{
		{name: "ring_wait/throughput/go/P1C1", producers: 1, consumers: 1},
		{name: "ring_wait/throughput/go/P4C4", producers: 4, consumers: 4},
		{name: "ring_wait/pingpong/go", pingPong: true},
	}
	rep := report{Context: benchContext(*items, *reps), Benchmarks: []benchJSON{}}
	table := !*asJSON
	if table {
		fmt.Printf("GOMAXPROCS=%d, %s, %d reps, medians\n", runtime.GOMAXPROCS(0),
			runtime.Version(), *reps)
		fmt.Printf("%-32s %12s %14s %10s %10s %10s %8s\n", "benchmark", "time_ms",
			"items/s", "p50_ns", "p99_ns", "p999_ns", "vcsw/it")
	}
	failed := false
	for family, b := range all {
		if !re.MatchString(b.name) {
			continue
		}
		var rs []result
		for r := 0; r < *reps; r++ {
			var res result
			var err error
			if b.pingPong {
				res, err = pingPong(maxU64(1, *items/pingPongDivisor))
			} else {
				res, err = throughput(b.producers, b.consumers, *items)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "chanbench: %s: %v\n", b.name, err)
				failed = true
				break
			}
			rs = append(rs, res)
		}
		if len(rs) != *reps {
			continue
		}
		s := summarize(b, family, *reps, rs, "median", median)
		// The spread of the repetitions, which the report shows beside every median.
		rep.Benchmarks = append(rep.Benchmarks, s,
			summarize(b, family, *reps, rs, "min", lowest),
			summarize(b, family, *reps, rs, "max", highest))
		if table {
			lat := func(p *float64) string {
				if p == nil {
					return "-"
				}
				return strconv.FormatFloat(*p, 'f', 0, 64)
			}
			fmt.Printf("%-32s %12.2f %14.4g %10s %10s %10s %8.3f\n", s.Name, s.RealTime,
				s.ItemsPerSecond, lat(s.P50Ns), lat(s.P99Ns), lat(s.P999Ns),
				s.VolCswPerItem)
		}
	}

	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chanbench: %v\n", err)
		os.Exit(1)
	}
	js = append(js, '\n')
	if *asJSON {
		os.Stdout.Write(js)
	}
	if *outFile != "" {
		if err := os.WriteFile(*outFile, js, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "chanbench: %v\n", err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}
