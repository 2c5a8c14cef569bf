package main

import (
	"context"
	"fmt"
	"log"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

// scaleMemories is the size of the production-scale test: 10,000
// memories over 1,000 users (ten each), and the agent's persona.
const scaleMemories = 10000

// scale measures memory on at production scale on Milvus (issue 16): the
// sidecar at fixed rates (-scale-rates) with its recall breaker, the same
// sidecar without it, and the -baseline binary when given (the build
// before a change), each against the direct path; and, at every rate, one
// direct Milvus search of a user's memories at that many searches per
// second, so that the sidecar's search time has its floor beside it.
func (b *bench) scale() error {
	sec := &section{title: "8. Memory on Milvus at production scale: rates, one search, the breaker (issue 16)"}
	if b.o.milvus == "" {
		sec.printf("Not measured: no Milvus server (`-milvus`; `scripts/bench.sh` starts a standalone one).\n")
		b.emit(sec)
		return nil
	}
	settings, err := b.prepareStore("scale", "milvus", scaleMemories, embedHash)
	if err != nil {
		return err
	}
	dims, space := embedderSpace(embedHash)
	ctx := context.Background()
	direct, err := storeload.OpenMilvus(ctx, b.o.milvus, settings["MEMPROXY_MILVUS_COLLECTION"], dims, space)
	if err != nil {
		return err
	}
	defer direct.Close()

	type variant struct {
		name, label string
		sc          *sidecar
	}
	var variants []variant
	add := func(name, label, bin string, extra map[string]string) error {
		s := maps.Clone(settings)
		maps.Copy(s, extra)
		sc, err := b.newSidecarFrom(bin, name, s)
		if err != nil {
			return err
		}
		variants = append(variants, variant{name, label, sc})
		return nil
	}
	if err := add("scale-after", "memproxy (breaker on, the default)", b.bin, nil); err != nil {
		return err
	}
	if err := add("scale-no-breaker", "memproxy, breaker off", b.bin, map[string]string{"MEMPROXY_RECALL_BREAKER": "false"}); err != nil {
		return err
	}
	if b.o.baseline != "" {
		label := "before: -baseline binary"
		if len(b.o.baselineEnv) > 0 {
			var env []string
			for k, v := range b.o.baselineEnv {
				env = append(env, k+"="+v)
			}
			slices.Sort(env)
			label += " (" + strings.Join(env, ", ") + ")"
		}
		if err := add("scale-before", label, b.o.baseline, b.o.baselineEnv); err != nil {
			return err
		}
	}

	users := usersFor(scaleMemories)
	g := func(i int) spec {
		r := rand.New(rand.NewPCG(uint64(i), 11))
		return spec{path: "/v1/chat/completions", header: identity(userName(r.IntN(users)), "read"),
			body: chatBody(question(r, i, false), false)}
	}
	targets := []target{{name: "direct", base: b.up.url, gen: g}}
	for _, v := range variants {
		targets = append(targets, target{name: v.name, base: v.sc.url, sc: v.sc, gen: g})
	}

	sec.printf("%d memories over %d users in one Milvus collection (flushed, HNSW fully built), the `hash` embedder, "+
		"`X-Memory-Mode: read` (recall only); each chat names one of the users and asks about one of their topics. "+
		"The sidecars alternate with the direct path in %v slices at each rate (open loop, latency from the intended send time). "+
		"*Direct Milvus search* is one search of a user's memories (top 5, the user's filter, the question's vector) sent "+
		"by the benchmark itself at the same rate, with nothing else running: the floor of one round trip. "+
		"Recall budget %v (the default).\n\n", scaleMemories, users, b.o.slice, 150*time.Millisecond)

	lat := newTable("rate", "path", "added p50 ms", "added p99 ms", "search p50 ms", "search p99 ms",
		"injected", "failed open: timeout", "failed open: breaker", "failed open: other", "errors", "sidecar CPU %")
	floor := newTable("rate", "direct Milvus search p50 ms", "p99 ms", "failed", "memproxy search p50 ms", "p99 ms", "memproxy / direct p50")
	byStatus := newTable("rate", "path", "status", "share", "p50 − direct p50 ms", "p99 − direct p99 ms")
	lines := make([]plotLine, len(variants)+2)
	for i, v := range variants {
		lines[i] = plotLine{label: v.label + ": added p50", col: lineColors[i%len(lineColors)]}
	}
	lines[len(variants)] = plotLine{label: "memproxy's search p50", col: lineColors[0], dashed: true}
	lines[len(variants)+1] = plotLine{label: "one direct Milvus search p50", col: lineColors[len(variants)%len(lineColors)], dashed: true}
	point := func(i int, x, y float64) { lines[i].xs, lines[i].ys = append(lines[i].xs, x), append(lines[i].ys, y) }
	for _, rate := range b.o.scaleRates {
		res := map[string]metrics{}
		stages := map[string]metrics{}
		statuses := map[string]map[string][]time.Duration{}
		counts := map[string]map[string]int{}
		probe := metrics{}
		for run := range b.o.runs {
			ws := b.runOpen(targets, rate, run)
			for name, w := range ws {
				if res[name] == nil {
					res[name], stages[name] = metrics{}, metrics{}
					statuses[name], counts[name] = map[string][]time.Duration{}, map[string]int{}
				}
				w.record(res[name])
				if name == "direct" {
					continue
				}
				recordStages(w.samples, stages[name])
				for _, s := range w.samples {
					st := s.memory
					if !s.ok() {
						st = "error"
					}
					counts[name][st]++
					statuses[name][st] = append(statuses[name][st], s.lat)
				}
			}
			p, failed := b.searchLoop(direct, rate, b.o.dur, users)
			probe.add("p50", ms(p.p50))
			probe.add("p99", ms(p.p99))
			probe.add("errors", float64(failed))
			log.Printf("scale %.0f/s run %d: direct search p50 %.3f ms, %d failed; %s", rate, run+1, ms(p.p50), failed, describeRun(ws))
		}
		dm := res["direct"]
		for i, v := range variants {
			sm, st, c := res[v.name], stages[v.name], counts[v.name]
			point(i, rate, diff(sm["p50"], dm["p50"]).agg().med)
			total := 0
			for _, k := range c {
				total += k
			}
			share := func(keys ...string) string {
				n := 0
				for _, k := range keys {
					n += c[k]
				}
				return fmt.Sprintf("%.1f %%", 100*float64(n)/float64(max(total, 1)))
			}
			other := 0
			for k, n := range c {
				if strings.HasPrefix(k, "failed-open") && k != "failed-open: timeout" && k != "failed-open: breaker" {
					other += n
				}
			}
			lat.add(fmt.Sprint(rate), v.label, "**"+diff(sm["p50"], dm["p50"]).f(3)+"**", diff(sm["p99"], dm["p99"]).f(3),
				st["search50"].f(3), st["search99"].f(3), share("injected"), share("failed-open: timeout"), share("failed-open: breaker"),
				fmt.Sprintf("%.1f %%", 100*float64(other)/float64(max(total, 1))), sm["errors"].f(0), sm["cpu"].f(0))
			keys := slices.Sorted(maps.Keys(statuses[v.name]))
			for _, k := range keys {
				// Pooled over the runs, against the direct path's median.
				d := summarize(statuses[v.name][k])
				byStatus.add(fmt.Sprint(rate), v.label, "`"+k+"`", share(k),
					fmt.Sprintf("%.3f", ms(d.p50)-dm["p50"].agg().med), fmt.Sprintf("%.3f", ms(d.p99)-dm["p99"].agg().med))
			}
		}
		after := stages["scale-after"]
		point(len(variants), rate, after["search50"].agg().med)
		point(len(variants)+1, rate, probe["p50"].agg().med)
		floor.add(fmt.Sprint(rate), probe["p50"].f(3), probe["p99"].f(3), probe["errors"].f(0), after["search50"].f(3), after["search99"].f(3),
			ratio(after["search50"], probe["p50"]).f(2)+"×")
		if rate == 100 {
			r := ratio(after["search50"], probe["p50"]).agg()
			b.setGoal("scaleSearch", goal{what: "Milvus, 10,000 memories, 100 chats/s: memproxy's search p50 / one direct search p50",
				target: "≤ 1.5×", measured: r.format(2) + "×", met: r.med <= 1.5})
			a := diff(res["scale-after"]["p50"], dm["p50"]).agg()
			g := goal{what: "Milvus, 10,000 memories, 100 chats/s: added p50",
				target: "≤ a third of the -baseline binary's (same run)", measured: a.format(3) + " ms"}
			if before, ok := res["scale-before"]; ok {
				was := diff(before["p50"], dm["p50"]).agg()
				g.measured += fmt.Sprintf(" (before: %s ms)", was.format(3))
				g.met = a.med <= was.med/3
			} else {
				g.unjudged = true
				g.measured += " (no -baseline to compare with)"
			}
			b.setGoal("scaleAdded", g)
		}
	}
	sec.printf("%s\n*search* is the sidecar's own `Server-Timing` stage (the whole store part of a recall: persona, user, "+
		"relationship and run layers), over the recalls that answered in the budget only: a recall that timed out or that "+
		"the breaker skipped has no search stage. The shares are of all of a path's requests at that rate.\n\n", lat)
	sec.printf("One direct search against the sidecar's search, same run:\n\n%s\n", floor)
	sec.printf("Latency by memory status (added over the direct path's p50 of the same rate): what a request pays when "+
		"recall timed out, when the breaker skipped it, and when it injected.\n\n%s\n", byStatus)
	b.chart("scale", "Memory on Milvus, 10,000 memories: added latency and search (log scale)", "ms", lines)
	if b.o.plot != "" {
		sec.printf("![added latency and search time against the rate](%s)\n", b.chartPath("scale"))
	}
	b.emit(sec)
	return nil
}

// searchLoop sends one direct search of a random user's memories at rate
// per second for d, open loop, and returns the distribution of the
// searches that answered and how many failed (or took over 5 s).
func (b *bench) searchLoop(s memory.Store, rate float64, d time.Duration, users int) (dist, int) {
	b.awaitQuiet()
	hash := embed.NewHash(0)
	n := int(rate * d.Seconds())
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	var wg sync.WaitGroup
	start := time.Now().Add(time.Millisecond)
	interval := float64(time.Second) / rate
	first := b.indices(n)
	for i := range n {
		t := start.Add(time.Duration(float64(i) * interval))
		if w := time.Until(t); w > 0 {
			time.Sleep(w)
		}
		r := rand.New(rand.NewPCG(uint64(first+i), 11))
		user := userName(r.IntN(users))
		v, _ := hash.Embed(context.Background(), []string{question(r, first+i, false)})
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := s.Search(ctx, memory.SearchRequest{Vector: v[0], Filter: memory.UserFilter(user), TopK: 5})
			lat[i], failed[i] = time.Since(t), err != nil
		})
	}
	wg.Wait()
	var ok []time.Duration
	bad := 0
	for i := range lat {
		if failed[i] {
			bad++
		} else {
			ok = append(ok, lat[i])
		}
	}
	return summarize(ok), bad
}

// describeRun is a one-line log of each path's p50 in a run.
func describeRun(ws map[string]window) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(ws)) {
		m := metrics{}
		ws[name].record(m)
		parts = append(parts, fmt.Sprintf("%s p50 %s ms", name, m["p50"].f(3)))
	}
	return strings.Join(parts, ", ")
}
