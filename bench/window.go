package main

import (
	"log"
	"time"
)

// A run measures several targets under the same load, alternating them
// in slices (b.o.slice, the order rotating from slice to slice), so that
// whatever else the machine does at the time weighs on every target
// alike. Each target is warmed up first.

// runOpen runs every target at rate for b.o.dur in all, open loop.
func (b *bench) runOpen(targets []target, rate float64, run int) map[string]window {
	return b.runSlices(targets, run, func(t target, d time.Duration) window {
		s := openLoop(b.client, t.base, rate, d, t.gen, b.indices(int(rate*d.Seconds())+1))
		// Throughput is answers per second of the schedule: at a rate the
		// path sustains, the rate itself; what it cannot sustain shows as
		// errors and as latency, which counts from the scheduled times.
		return window{samples: s, elapsed: d}
	})
}

// runClosed runs every target with conc clients for b.o.dur in all.
func (b *bench) runClosed(targets []target, conc int, run int) map[string]window {
	return b.runSlices(targets, run, func(t target, d time.Duration) window {
		s, el := closedLoop(b.client, t.base, conc, d, t.gen, b.indices(1<<24))
		return window{samples: s, elapsed: el}
	})
}

// runSlices warms each target up, then runs the slices, measuring each
// target's resources and the sidecar's runtime around its slices.
func (b *bench) runSlices(targets []target, run int, load func(t target, d time.Duration) window) map[string]window {
	b.awaitQuiet()
	if b.o.warm > 0 {
		for _, t := range rotate(targets, run) {
			load(t, b.o.warm)
		}
	}
	slice := min(b.o.slice, b.o.dur)
	n := max(1, int((b.o.dur+slice/2)/slice))
	out := map[string]window{}
	for i := range n {
		for _, t := range rotate(targets, run+i) {
			a0, g0, s0, c0 := runtimeStats(t.sc)
			m := startMeter(b.pids(t)...)
			start := time.Now()
			w := load(t, slice)
			if w.elapsed == 0 {
				w.elapsed = time.Since(start)
			}
			w.use = m.end()
			a1, g1, s1, c1 := runtimeStats(t.sc)
			w.allocs, w.gcs, w.addedSum, w.addedCount = a1-a0, g1-g0, s1-s0, c1-c0
			out[t.name] = merge(out[t.name], w)
		}
	}
	return out
}

// merge adds window b to a: samples, time, and resources weighted by time.
func merge(a, b window) window {
	if a.elapsed == 0 {
		return b
	}
	ta, tb := a.elapsed.Seconds(), b.elapsed.Seconds()
	out := window{
		samples: append(a.samples, b.samples...),
		elapsed: a.elapsed + b.elapsed,
		allocs:  a.allocs + b.allocs, gcs: a.gcs + b.gcs,
		addedSum: a.addedSum + b.addedSum, addedCount: a.addedCount + b.addedCount,
	}
	out.use.machine = (a.use.machine*ta + b.use.machine*tb) / (ta + tb)
	for i := range a.use.cpu {
		out.use.cpu = append(out.use.cpu, (a.use.cpu[i]*ta+b.use.cpu[i]*tb)/(ta+tb))
		out.use.rss = append(out.use.rss, max(a.use.rss[i], b.use.rss[i]))
	}
	return out
}

// awaitQuiet waits, up to -quiet-wait, until the machine is nearly idle
// before a run: other work on a shared machine would weigh on the
// figures. It logs how long it waited.
func (b *bench) awaitQuiet() {
	if b.o.quietWait <= 0 {
		return
	}
	start := time.Now()
	for {
		b0, t0 := machineTicks()
		time.Sleep(500 * time.Millisecond)
		b1, t1 := machineTicks()
		busy := 0.0
		if t1 > t0 {
			busy = float64(b1-b0) / float64(t1-t0) * 100
		}
		if busy <= b.o.quietBusy {
			if w := time.Since(start); w > time.Second {
				log.Printf("waited %v for the machine to be quiet", w.Round(time.Second))
				b.waited += w
			}
			return
		}
		if time.Since(start) > b.o.quietWait {
			log.Printf("the machine is still %.0f%% busy after %v: measuring anyway", busy, b.o.quietWait)
			b.busyRuns++
			b.waited += time.Since(start)
			return
		}
	}
}
