// Command bench measures what memproxy adds to an LLM call, on this
// machine, against a fake upstream of fixed latency, with the direct path
// (client straight to the upstream) measured side by side in the same run:
//
//  1. passthrough overhead at fixed rates and fixed concurrency;
//  2. recall with injection (persona, user, relationship) on the embedded
//     store and Milvus, 1k and 100k memories, with a µs embedder (a cached
//     embedding) and with an embedder of fixed latency, by stage;
//  3. streaming: time to first byte, gaps between events, coalescing;
//  4. learning: chat latency with learning on and off, writer throughput
//     in raw mode, and the backlog when the store is slower than arrivals;
//  5. retrieval quality on a generated labelled set, against exact search;
//  6. retrieval quality on the LoCoMo dev set (-locomo), memproxy with its
//     default embedder and with all-MiniLM-L6-v2 (the testdata/minilm
//     fixture, -minilm-python), on the embedded store and Milvus Lite
//     (-milvus-lite), beside BM25, exact dense and RRF baselines.
//  7. peers: the LiteLLM proxy and the Portkey gateway, when installed,
//     beside the sidecar and a bare reverse proxy (-litellm, -portkey).
//  8. scale: memory on Milvus with 10,000 memories over 1,000 users at
//     fixed rates (-scale-rates), with and without the recall breaker and
//     beside the -baseline binary, against one direct Milvus search.
//
// It builds and runs the real sidecar binary and the fake upstream as
// processes of their own, prints each table as it goes, and writes the
// report and a plot:
//
//	go run ./bench -out BENCHMARKS.md -plot bench/latency.png [-milvus 127.0.0.1:19530] [-quick]
//
// scripts/bench.sh starts a standalone Milvus and runs it with -milvus.
// The benchmark only ever talks to loopback addresses and refuses
// anything else.
//
// The same program, run as "bench upstream", "bench bareproxy" or
// "bench load", is the fake upstream, a bare Go reverse proxy (the floor
// of the passthrough test) and a single load generator for looking at
// one process by hand.
//
// CI does not run it: it has no tests but those of its pure helpers.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
)

type options struct {
	out, plot, command string
	quick              bool
	runs               int
	dur, warm, slice   time.Duration
	quietWait          time.Duration
	quietBusy          float64
	rates              []float64
	concs              []int
	milvus             string
	sizes              []int
	memRate            float64
	streamRate         float64
	up                 upstreamOptions
	sidecarBin         string
	baseline           string
	baselineEnv        map[string]string
	sections           map[string]bool
	keep               bool
	profile            string
	locomoDir          string
	locomoCache        string
	locomoCaptions     bool
	milvusLite         string
	minilmPython       string
	litellm, portkey   string
	peerRates          []float64
	scaleRates         []float64
}

func main() {
	if len(os.Args) > 1 {
		sub := map[string]func([]string) error{"upstream": runUpstream, "bareproxy": runBareProxy, "load": runLoad}[os.Args[1]]
		if sub != nil {
			if err := sub(os.Args[2:]); err != nil {
				log.Fatal(err)
			}
			return
		}
	}
	log.SetFlags(log.Ltime)
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	b, err := newBench(o)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		if b.finished.Load() {
			return
		}
		log.Print("interrupted: stopping what the benchmark started")
		b.cleanup()
		os.Exit(1)
	}()
	err = b.run()
	b.finished.Store(true)
	b.cleanup()
	if err != nil {
		log.Fatal(err)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var rates, concs, sizes, sections, baselineEnv, peerRates, scaleRates string
	fs.StringVar(&o.out, "out", "", "write the report here (e.g. BENCHMARKS.md); empty: stdout only")
	fs.StringVar(&o.plot, "plot", "", "write the latency-vs-rate plot here (PNG)")
	fs.StringVar(&o.command, "command", "", "the command to record in the report (default: this one)")
	fs.BoolVar(&o.quick, "quick", false, "short windows, fewer rates and sizes: a check that everything runs, not figures to quote")
	fs.IntVar(&o.runs, "runs", 3, "runs of each measurement; figures are their median and range")
	fs.DurationVar(&o.dur, "duration", 10*time.Second, "measured window of each run")
	fs.DurationVar(&o.warm, "warmup", time.Second, "unmeasured load of each path before each run")
	fs.DurationVar(&o.slice, "slice", time.Second, "paths alternate in slices this long within a run")
	fs.DurationVar(&o.quietWait, "quiet-wait", 5*time.Minute, "before each run, wait up to this long for the machine to be quiet (0: never wait)")
	fs.Float64Var(&o.quietBusy, "quiet-busy", 15, "busy % of all cores under which the machine counts as quiet")
	fs.StringVar(&rates, "rates", "200,500,1000,1500,2000,2500", "fixed rates (requests/s) of the passthrough test")
	fs.StringVar(&concs, "concurrency", "1,16,64", "fixed concurrencies of the passthrough test")
	fs.StringVar(&o.milvus, "milvus", "", "a Milvus server on loopback (host:port); empty: Milvus rows are skipped")
	fs.StringVar(&sizes, "sizes", "1000,100000", "stored memories in the memory-on test")
	fs.Float64Var(&o.memRate, "mem-rate", 200, "rate (requests/s) of the memory-on and learning tests")
	fs.Float64Var(&o.streamRate, "stream-rate", 50, "rate (streams/s) of the streaming test")
	fs.DurationVar(&o.up.latency, "upstream-latency", 10*time.Millisecond, "the fake upstream's latency before each chat answer")
	fs.DurationVar(&o.up.embedLatency, "embed-latency", 10*time.Millisecond, "the fake embedder's latency")
	fs.DurationVar(&o.up.chunkDelay, "chunk-delay", 5*time.Millisecond, "the fake upstream's delay between stream events")
	fs.IntVar(&o.up.replyWords, "reply-words", 80, "words in each answer (one stream event each)")
	fs.StringVar(&o.sidecarBin, "sidecar", "", "a memproxy binary to run (default: build the module's)")
	fs.StringVar(&o.baseline, "baseline", "", "another memproxy binary measured alongside in the passthrough test (before/after a change)")
	fs.StringVar(&baselineEnv, "baseline-env", "", "comma-separated NAME=value settings of the baseline sidecar (e.g. GOMAXPROCS=1)")
	fs.StringVar(&sections, "sections", strings.Join(sectionNames, ","), "which tests to run")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, data)")
	fs.StringVar(&o.profile, "profile", "", "write CPU profiles of the sidecar under load to this directory (builds it with the pprof tag)")
	fs.StringVar(&o.locomoDir, "locomo", filepath.Join("..", "shared", "data", "locomo-dev"), "the LoCoMo dev set of the locomo test")
	fs.StringVar(&o.locomoCache, "locomo-cache", "", "where the locomo test keeps MiniLM's vectors of the dev set (default: .bench-cache beside -out, or in the current directory)")
	fs.BoolVar(&o.locomoCaptions, "locomo-captions", false, "store a photo's caption with the turn that shares it")
	fs.StringVar(&o.milvusLite, "milvus-lite", os.Getenv("MEMPROXY_TEST_MILVUS_LITE"), "a Milvus Lite server on loopback (host:port) for the locomo test; empty: its Milvus rows are skipped")
	fs.StringVar(&o.minilmPython, "minilm-python", os.Getenv("MEMPROXY_TEST_MINILM_PYTHON"), "the Python of the MiniLM fixture's venv (scripts/test.sh makes .venv-minilm)")
	fs.StringVar(&o.litellm, "litellm", "", "the LiteLLM proxy's litellm command, measured in the peers test (empty: not measured)")
	fs.StringVar(&o.portkey, "portkey", "", "the Portkey gateway's build/start-server.js, run with node in the peers test (empty: not measured)")
	fs.StringVar(&peerRates, "peer-rates", "25,100,500", "fixed rates (requests/s) of the peers test")
	fs.StringVar(&scaleRates, "scale-rates", "30,100,300", "fixed rates (chats/s) of the production-scale test on Milvus")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			o.dur = 2 * time.Second
		}
		if !set["warmup"] {
			o.warm = 500 * time.Millisecond
		}
		if !set["slice"] {
			o.slice = 500 * time.Millisecond
		}
		if !set["rates"] {
			rates = "200,1000,2000"
		}
		if !set["sizes"] {
			sizes = "1000,10000"
		}
		if !set["concurrency"] {
			concs = "16"
		}
		if !set["quiet-wait"] {
			o.quietWait = 20 * time.Second
		}
	}
	var err error
	if o.rates, err = floats(rates); err != nil {
		return o, fmt.Errorf("-rates: %w", err)
	}
	if o.concs, err = ints(concs); err != nil {
		return o, fmt.Errorf("-concurrency: %w", err)
	}
	if o.peerRates, err = floats(peerRates); err != nil {
		return o, fmt.Errorf("-peer-rates: %w", err)
	}
	if o.scaleRates, err = floats(scaleRates); err != nil {
		return o, fmt.Errorf("-scale-rates: %w", err)
	}
	if o.sizes, err = ints(sizes); err != nil {
		return o, fmt.Errorf("-sizes: %w", err)
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs must be at least 1")
	}
	o.baselineEnv = map[string]string{}
	for kv := range strings.SplitSeq(baselineEnv, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			o.baselineEnv[k] = v
		}
	}
	o.sections = map[string]bool{}
	for s := range strings.SplitSeq(sections, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(sectionNames, s) {
			return o, fmt.Errorf("-sections: unknown section %q (known: %s)", s, strings.Join(sectionNames, ","))
		}
		o.sections[s] = true
	}
	if o.sidecarBin != "" && o.profile != "" {
		return o, fmt.Errorf("-profile builds the sidecar with the pprof tag: it cannot run the -sidecar binary")
	}
	if o.milvus != "" {
		if err := storeload.CheckLoopback(o.milvus); err != nil {
			return o, fmt.Errorf("-milvus: %w", err)
		}
	}
	if o.milvusLite != "" {
		if err := storeload.CheckLoopback(o.milvusLite); err != nil {
			return o, fmt.Errorf("-milvus-lite: %w", err)
		}
	}
	if o.locomoCache == "" {
		o.locomoCache = filepath.Join(filepath.Dir(o.out), ".bench-cache")
	}
	if o.command == "" {
		o.command = "go run ./bench " + strings.Join(args, " ")
	}
	return o, nil
}

// sectionNames are the tests, in the order they run.
var sectionNames = []string{"passthrough", "stream", "peers", "memory", "learning", "writer", "quality", "locomo", "scale"}

func floats(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// bench is one run of the benchmark.
type bench struct {
	o      options
	dir    string
	bin    string
	up     *upstream
	client *http.Client

	// passSidecar is the memory-off sidecar of the passthrough test, which
	// the streaming test uses too.
	passSidecar *sidecar

	mu       sync.Mutex
	procs    []*process
	cleanups []func()
	finished atomic.Bool
	seq      atomic.Int64

	// waited is how long runs waited for a quiet machine; busyRuns
	// how many ran on a busy one after all.
	waited   time.Duration
	busyRuns int

	sections []*section
	goals    map[string]*goal
	plot     []plotPoint
	charts   []chart
}

func newBench(o options) (*bench, error) {
	dir, err := os.MkdirTemp("", "memproxy-bench-")
	if err != nil {
		return nil, err
	}
	return &bench{o: o, dir: dir, goals: map[string]*goal{}, client: newClient()}, nil
}

// track registers a process to stop at the end.
func (b *bench) track(p *process) {
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
}

// atEnd registers a clean-up to run at the end (last in, first out).
func (b *bench) atEnd(f func()) {
	b.mu.Lock()
	b.cleanups = append(b.cleanups, f)
	b.mu.Unlock()
}

// cleanup stops every process the benchmark started, sidecars first,
// runs the clean-ups and removes the temporary directory.
func (b *bench) cleanup() {
	b.mu.Lock()
	procs, cleanups := b.procs, b.cleanups
	b.procs, b.cleanups = nil, nil
	b.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(15 * time.Second)
	}
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	if b.o.keep {
		log.Printf("kept %s", b.dir)
	} else {
		os.RemoveAll(b.dir)
	}
}

// indices reserves n request indices, so that every request of the run
// has its own (unique texts, users).
func (b *bench) indices(n int) int { return int(b.seq.Add(int64(n))) - n }

func (b *bench) run() error {
	log.Printf("machine: %s", machine())
	log.Printf("working in %s", b.dir)
	if err := b.build(); err != nil {
		return err
	}
	up, err := startUpstream(b.dir, b.o.up)
	if err != nil {
		return err
	}
	b.track(up.process)
	b.up = up
	log.Printf("fake upstream on %s (latency %v, embeddings %v, %v between events, %d-word answers)",
		up.url, b.o.up.latency, b.o.up.embedLatency, b.o.up.chunkDelay, b.o.up.replyWords)

	steps := map[string]func() error{
		"passthrough": b.passthrough,
		"stream":      b.streaming,
		"peers":       b.peers,
		"memory":      b.memoryOn,
		"learning":    b.learning,
		"writer":      b.writer,
		"quality":     b.quality,
		"locomo":      b.locomo,
		"scale":       b.scale,
	}
	for _, name := range sectionNames {
		if !b.o.sections[name] {
			continue
		}
		start := time.Now()
		if err := steps[name](); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		log.Printf("%s took %v", name, time.Since(start).Round(time.Second))
	}
	return b.write()
}

// build compiles the sidecar, unless -sidecar names one.
func (b *bench) build() error {
	if b.o.sidecarBin != "" {
		b.bin = b.o.sidecarBin
		return nil
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("finding the module: %w", err)
	}
	mod := strings.TrimSpace(string(root))
	if mod == "" || mod == os.DevNull {
		return fmt.Errorf("run the benchmark inside the memproxy module (or pass -sidecar)")
	}
	b.bin = filepath.Join(b.dir, "memproxy")
	args := []string{"build", "-o", b.bin}
	if b.o.profile != "" {
		args = append(args, "-tags", "pprof")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = filepath.Dir(mod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	log.Printf("building the sidecar (%s)", strings.Join(cmd.Args, " "))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the sidecar: %w", err)
	}
	return nil
}

// storeSidecar fills a store for a test (see prepareStore) and starts a
// sidecar on it.
func (b *bench) storeSidecar(name, store string, n int, emb string) (*sidecar, error) {
	settings, err := b.prepareStore(name, store, n, emb)
	if err != nil {
		return nil, err
	}
	return b.newSidecar(name, settings)
}

// newSidecar starts a sidecar that stops at the end of the benchmark (or
// earlier, by its stop method).
func (b *bench) newSidecar(name string, settings map[string]string) (*sidecar, error) {
	return b.newSidecarFrom(b.bin, name, settings)
}

func (b *bench) newSidecarFrom(bin, name string, settings map[string]string) (*sidecar, error) {
	log.Printf("starting sidecar %s", name)
	s, err := startSidecar(bin, b.dir, name, b.up, settings, b.o.profile != "")
	if err != nil {
		return nil, err
	}
	b.track(s.process)
	return s, nil
}

// emit records a finished section and prints it.
func (b *bench) emit(s *section) {
	b.sections = append(b.sections, s)
	fmt.Println()
	fmt.Println(s.String())
}

func (b *bench) setGoal(key string, g goal) {
	g.known = true
	b.goals[key] = &g
}

// profiled profiles sc during the next d, when -profile is set, into a
// file named after what is measured; the returned function waits for it.
func (b *bench) profiled(sc *sidecar, what string, d time.Duration) func() {
	if b.o.profile == "" || sc == nil {
		return func() {}
	}
	os.MkdirAll(b.o.profile, 0o755)
	name := strings.NewReplacer(" ", "-", "/", "-", ",", "", ":", "").Replace(what)
	return sc.profile(filepath.Join(b.o.profile, name+".pprof"), d)
}
