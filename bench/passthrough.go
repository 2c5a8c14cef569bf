package main

import (
	"fmt"
	"log"
	"math"
	"slices"
	"strings"
	"time"
)

// A target is where requests go: the upstream itself (direct), a
// sidecar in front of it, or another proxy in front of it.
type target struct {
	name string
	base string
	sc   *sidecar // nil for direct and for a proxy that is not a sidecar
	// proxy is a proxy process that is not a sidecar (it has no /metrics):
	// its CPU and memory are measured, its Go runtime is not.
	proxy *process
	gen   gen
}

// proc is the proxy process of t, or nil for the direct path.
func (t target) proc() *process {
	if t.sc != nil {
		return t.sc.process
	}
	return t.proxy
}

// metrics collects the figures of each run by name.
type metrics map[string]series

func (m metrics) add(name string, v float64) { m[name] = append(m[name], v) }

// window is what one target measured in a run: its slices, merged.
type window struct {
	samples []sample
	elapsed time.Duration
	use     usage // [upstream, proxy] when there is a proxy
	// The sidecar's Go runtime during the window: bytes allocated and
	// garbage collections; and its own measure of the time from a
	// request's arrival to its forwarding (memproxy_added_latency_seconds).
	allocs, gcs          float64
	addedSum, addedCount float64
}

// runtimeStats reads what the sidecar's Go runtime has allocated and how
// many collections it ran.
func runtimeStats(sc *sidecar) (allocs, gcs, addedSum, addedCount float64) {
	if sc == nil {
		return 0, 0, 0, 0
	}
	m, err := sc.metrics("go_memstats_alloc_bytes_total", "go_gc_duration_seconds_count", "memproxy_added_latency_seconds_")
	if err != nil {
		return 0, 0, 0, 0
	}
	for k, v := range m {
		switch {
		case strings.HasPrefix(k, "memproxy_added_latency_seconds_sum"):
			addedSum += v
		case strings.HasPrefix(k, "memproxy_added_latency_seconds_count"):
			addedCount += v
		}
	}
	return m["go_memstats_alloc_bytes_total"], m["go_gc_duration_seconds_count"], addedSum, addedCount
}

func (b *bench) pids(t target) []int {
	p := []int{b.up.pid()}
	if pr := t.proc(); pr != nil {
		p = append(p, pr.pid())
	}
	return p
}

// record adds a window's latency, throughput, errors and resources to m.
func (w window) record(m metrics) dist {
	var lat, lag []time.Duration
	errs := 0
	for _, s := range w.samples {
		if !s.ok() {
			errs++
			continue
		}
		lat = append(lat, s.lat)
		lag = append(lag, s.lag)
	}
	d := summarize(lat)
	m.add("p50", ms(d.p50))
	m.add("p99", ms(d.p99))
	m.add("p999", ms(d.p999))
	m.add("tput", float64(len(lat))/w.elapsed.Seconds())
	m.add("errors", float64(errs))
	m.add("lag99", ms(summarize(lag).p99))
	m.add("machine", w.use.machine)
	m.add("upcpu", w.use.cpu[0])
	if len(w.use.cpu) > 1 {
		m.add("cpu", w.use.cpu[1])
		m.add("rss", w.use.rss[1])
	}
	if len(w.samples) > 0 && w.allocs > 0 {
		m.add("allocKB", w.allocs/float64(len(w.samples))/1024)
		m.add("gcps", w.gcs/w.elapsed.Seconds())
	}
	if w.addedCount > 0 {
		m.add("inside", w.addedSum/w.addedCount*1e6)
	}
	return d
}

// rotate returns ts starting at its run-th element, so that no path is
// always measured first.
func rotate[T any](ts []T, run int) []T {
	k := run % len(ts)
	return append(append([]T(nil), ts[k:]...), ts[:k]...)
}

func (b *bench) passthrough() error {
	sc, err := b.newSidecar("passthrough", nil)
	if err != nil {
		return err
	}
	idle, _ := procRSS(sc.pid())
	idleMiB := float64(idle) / (1 << 20)

	body := chatBody("How should I structure my training this week?", false)
	plain := func(int) spec { return spec{path: "/v1/chat/completions", body: body} }
	modeOff := func(i int) spec {
		return spec{path: "/v1/chat/completions", header: identity(userName(i%1000), "off"), body: body}
	}
	direct := target{name: "direct", base: b.up.url, gen: plain}
	side := target{name: "sidecar", base: sc.url, sc: sc, gen: plain}
	off := target{name: "sidecar, identity + X-Memory-Mode: off", base: sc.url, sc: sc, gen: modeOff}
	bp, err := startSelf(b.dir, "bareproxy", "-upstream", b.up.url)
	if err != nil {
		return err
	}
	b.track(bp.process)
	defer bp.stop(5 * time.Second)
	bare := target{name: "bare Go reverse proxy", base: bp.url, proxy: bp.process, gen: plain}
	var base *target
	if b.o.baseline != "" {
		bsc, err := b.newSidecarFrom(b.o.baseline, "baseline", b.o.baselineEnv)
		if err != nil {
			return err
		}
		defer bsc.stop(15 * time.Second)
		base = &target{name: "baseline sidecar (-baseline)", base: bsc.url, sc: bsc, gen: plain}
	}

	sec := &section{title: "1. Passthrough overhead (memory off)"}
	sec.printf("Client → sidecar → fake upstream against client → fake upstream, alternating in slices of %v within each run. "+
		"As a floor, the same load goes through a *bare Go reverse proxy* (`httputil.ReverseProxy` with pooled connections and buffers, nothing else, "+
		"a process of its own like the sidecar): what the sidecar adds beyond it is the sidecar's own cost. "+
		"Requests carry no identity (a pure proxy) unless said; non-streaming Chat Completions of 1.3 KB, answers of ~1 KB. "+
		"Open loop: requests leave at their scheduled times whatever earlier ones are doing, and latency counts from the scheduled time. "+
		"*added* is proxy − direct within each run, then the median over runs. "+
		"CPU is %% of one core; RSS is the peak during the run. *arrival → forwarded* is the sidecar's own measure of the time from a request's "+
		"arrival to its forwarding (`memproxy_added_latency_seconds`, mean). The sidecar's RSS right after start, idle: **%.1f MiB**.\n\n", b.o.slice, idleMiB)

	tb := newTable("rate (req/s)", "path", "p50 ms", "p99 ms", "p99.9 ms", "throughput req/s", "errors", "proxy CPU %", "proxy RSS MiB", "sidecar KB allocated/req", "sidecar GCs/s", "arrival → forwarded, mean µs", "machine busy %")
	near1000 := nearest(b.o.rates, 1000)
	maxLag := 0.0
	for _, rate := range b.o.rates {
		targets := []target{direct, side, bare}
		if rate == near1000 {
			targets = append(targets, off)
		}
		if base != nil {
			targets = append(targets, *base)
		}
		res := map[string]metrics{}
		for _, t := range targets {
			res[t.name] = metrics{}
		}
		for run := range b.o.runs {
			wait := func() {}
			if run == 0 {
				wait = b.profiled(sc, fmt.Sprintf("passthrough-%.0f", rate), time.Duration(len(targets))*(b.o.warm+b.o.dur))
			}
			ws := b.runOpen(targets, rate, run)
			wait()
			for _, t := range targets {
				d := ws[t.name].record(res[t.name])
				log.Printf("passthrough %4.0f/s run %d %-40s p50 %.3f ms p99 %.3f ms", rate, run+1, t.name, ms(d.p50), ms(d.p99))
			}
		}
		dm, sm := res["direct"], res["sidecar"]
		for _, m := range res {
			maxLag = max(maxLag, slices.Max(m["lag99"]))
		}
		for _, t := range targets {
			m := res[t.name]
			cpu, rss, alloc, gcs := "–", "–", "–", "–"
			if t.proc() != nil {
				cpu, rss, alloc, gcs = m["cpu"].f(0), m["rss"].f(1), m["allocKB"].f(1), m["gcps"].f(1)
			}
			tb.add(fmt.Sprintf("%.0f", rate), t.name, m["p50"].f(3), m["p99"].f(3), m["p999"].f(3), m["tput"].f(0), m["errors"].f(0), cpu, rss, alloc, gcs, m["inside"].f(0), m["machine"].f(0))
		}
		tb.add(fmt.Sprintf("%.0f", rate), "**added by the sidecar**", "**"+diff(sm["p50"], dm["p50"]).f(3)+"**", "**"+diff(sm["p99"], dm["p99"]).f(3)+"**",
			diff(sm["p999"], dm["p999"]).f(3), "×"+ratio(sm["tput"], dm["tput"]).f(3), "", "", "", "", "", "", "")
		bpm := res[bare.name]
		tb.add(fmt.Sprintf("%.0f", rate), "added by the bare proxy", diff(bpm["p50"], dm["p50"]).f(3), diff(bpm["p99"], dm["p99"]).f(3),
			diff(bpm["p999"], dm["p999"]).f(3), "×"+ratio(bpm["tput"], dm["tput"]).f(3), "", "", "", "", "", "", "")
		if base != nil {
			bm := res[base.name]
			tb.add(fmt.Sprintf("%.0f", rate), "added by the baseline", diff(bm["p50"], dm["p50"]).f(3), diff(bm["p99"], dm["p99"]).f(3),
				diff(bm["p999"], dm["p999"]).f(3), "×"+ratio(bm["tput"], dm["tput"]).f(3), "", "", "", "", "", "", "")
		}
		b.plot = append(b.plot, plotPoint{rate: rate,
			direct50: dm["p50"].agg().med, direct99: dm["p99"].agg().med,
			side50: sm["p50"].agg().med, side99: sm["p99"].agg().med,
			added50: diff(sm["p50"], dm["p50"]).agg().med, added99: diff(sm["p99"], dm["p99"]).agg().med,
			bare50: diff(bpm["p50"], dm["p50"]).agg().med, bare99: diff(bpm["p99"], dm["p99"]).agg().med})
		if rate == near1000 {
			a50, a99 := diff(sm["p50"], dm["p50"]).agg(), diff(sm["p99"], dm["p99"]).agg()
			b.setGoal("pass50", goal{what: fmt.Sprintf("passthrough added p50 at %.0f req/s", rate), target: "≤ 0.3 ms",
				measured: a50.format(3) + " ms", met: a50.med <= 0.3})
			b.setGoal("pass99", goal{what: fmt.Sprintf("passthrough added p99 at %.0f req/s", rate), target: "≤ 1 ms",
				measured: a99.format(3) + " ms", met: a99.med <= 1})
			r := sm["rss"].agg()
			b.setGoal("rss1000", goal{what: fmt.Sprintf("sidecar RSS at %.0f req/s", rate), target: "≤ 200 MiB",
				measured: r.format(1) + " MiB", met: r.hi <= 200})
		}
		if rate == nearest(b.o.rates, 2000) {
			tr := ratio(sm["tput"], dm["tput"]).agg()
			b.setGoal("tput2000", goal{what: fmt.Sprintf("passthrough throughput at %.0f req/s, sidecar ÷ direct", rate), target: "≥ 1 (within 0.5%)",
				measured: "×" + tr.format(3), met: tr.med >= 0.995})
		}
	}
	b.setGoal("rssidle", goal{what: "sidecar RSS idle (after start)", target: "≤ 64 MiB", measured: fmt.Sprintf("%.1f MiB", idleMiB), met: idleMiB <= 64})
	sec.printf("%s\n", tb)
	sec.printf("The load generator's own scheduling lag (scheduled → sent, p99) was at most %.2f ms; it is in both paths' latencies.\n\n", maxLag)

	// Fixed concurrency: closed loop, each client waits for its answer.
	tc := newTable("clients", "path", "throughput req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "proxy CPU %", "machine busy %")
	for _, conc := range b.o.concs {
		res := map[string]metrics{"direct": {}, "sidecar": {}, bare.name: {}}
		for run := range b.o.runs {
			ws := b.runClosed([]target{direct, side, bare}, conc, run)
			for name, w := range ws {
				w.record(res[name])
			}
		}
		dm, sm, bpm := res["direct"], res["sidecar"], res[bare.name]
		tc.add(fmt.Sprint(conc), "direct", dm["tput"].f(0), dm["p50"].f(3), dm["p99"].f(3), dm["p999"].f(3), dm["errors"].f(0), "–", dm["machine"].f(0))
		tc.add(fmt.Sprint(conc), "sidecar", sm["tput"].f(0), sm["p50"].f(3), sm["p99"].f(3), sm["p999"].f(3), sm["errors"].f(0), sm["cpu"].f(0), sm["machine"].f(0))
		tc.add(fmt.Sprint(conc), bare.name, bpm["tput"].f(0), bpm["p50"].f(3), bpm["p99"].f(3), bpm["p999"].f(3), bpm["errors"].f(0), bpm["cpu"].f(0), bpm["machine"].f(0))
		tc.add(fmt.Sprint(conc), "**sidecar ÷ direct, added**", "×"+ratio(sm["tput"], dm["tput"]).f(3), diff(sm["p50"], dm["p50"]).f(3), diff(sm["p99"], dm["p99"]).f(3), diff(sm["p999"], dm["p999"]).f(3), "", "", "")
		log.Printf("concurrency %d: direct %.0f req/s, sidecar %.0f req/s", conc, dm["tput"].agg().med, sm["tput"].agg().med)
	}
	sec.printf("### Fixed concurrency\n\nClosed loop: each client sends its next request when the last one answered; latency counts from the send. "+
		"With %v of upstream latency, throughput is bounded by clients ÷ latency until the two cores run out.\n\n%s", b.o.up.latency, tc)
	b.passSidecar = sc
	b.emit(sec)
	return nil
}

// nearest returns the element of xs nearest to x.
func nearest(xs []float64, x float64) float64 {
	best := xs[0]
	for _, v := range xs {
		if math.Abs(v-x) < math.Abs(best-x) {
			best = v
		}
	}
	return best
}
