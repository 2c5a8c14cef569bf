package main

import (
	"fmt"
	"log"
	"time"
)

// streaming measures streamed answers: time to the first event, gaps
// between events, and whether events arrive one by one.
func (b *bench) streaming() error {
	sc := b.passSidecar
	if sc == nil {
		var err error
		if sc, err = b.newSidecar("passthrough", nil); err != nil {
			return err
		}
		b.passSidecar = sc
	}
	mem, err := b.storeSidecar("stream-memory", "embedded", 1000, embedHash)
	if err != nil {
		return err
	}
	defer mem.stop(15 * time.Second)

	body := chatBody("How should I structure my training this week?", true)
	plain := func(int) spec { return spec{path: "/v1/chat/completions", body: body, stream: true} }
	users := usersFor(1000)
	learning := func(i int) spec {
		return spec{path: "/v1/chat/completions", header: identity(userName(i%users), ""), body: chatBody(statement(i), true), stream: true}
	}
	targets := []target{
		{name: "direct", base: b.up.url, gen: plain},
		{name: "sidecar, passthrough", base: sc.url, sc: sc, gen: plain},
		{name: "sidecar, memory on (recall + learning)", base: mem.url, sc: mem, gen: learning},
	}
	want := b.o.up.replyWords + 4 // role, words, finish, usage, [DONE]
	res := map[string]metrics{}
	for _, t := range targets {
		res[t.name] = metrics{}
	}
	for run := range b.o.runs {
		ws := b.runOpen(targets, b.o.streamRate, run)
		for _, t := range targets {
			w := ws[t.name]
			m := res[t.name]
			var ttfb, gaps []time.Duration
			events, coalesced, errs, short := 0, 0, 0, 0
			for _, s := range w.samples {
				if !s.ok() {
					errs++
					continue
				}
				ttfb = append(ttfb, s.ttfb)
				gaps = append(gaps, s.gaps...)
				events += s.events
				coalesced += s.coalesced
				if s.events != want {
					short++
				}
			}
			td, gd := summarize(ttfb), summarize(gaps)
			m.add("ttfb50", ms(td.p50))
			m.add("ttfb99", ms(td.p99))
			m.add("gap50", ms(gd.p50))
			m.add("gap99", ms(gd.p99))
			m.add("events", float64(events))
			m.add("coalesced", float64(coalesced))
			m.add("errors", float64(errs))
			m.add("short", float64(short))
			m.add("streams", float64(len(ttfb)))
			if len(w.use.cpu) > 1 {
				m.add("cpu", w.use.cpu[1])
			}
			log.Printf("stream run %d %-40s ttfb p50 %.3f ms, gap p50 %.3f ms, %d events, %d coalesced", run+1, t.name, ms(td.p50), ms(gd.p50), events, coalesced)
		}
	}
	sec := &section{title: "3. Streaming"}
	sec.printf("Streamed Chat Completions at %.0f streams/s: each answer is %d events (role, %d words, finish, usage, `[DONE]`) "+
		"sent %v apart after %v, about 250 bytes each. TTFB is the time from the scheduled send to the first complete event; "+
		"a gap is the time between reads that completed events. An event *coalesced* arrived in the same read as the one before it: "+
		"a proxy that buffered would show them. The memory row recalls from 1,000 memories (embedded store, hash embedder) "+
		"and tees the answer to learn from it.\n\n", b.o.streamRate, want, b.o.up.replyWords, b.o.up.chunkDelay, b.o.up.latency)
	tb := newTable("path", "TTFB p50 ms", "TTFB p99 ms", "gap p50 ms", "gap p99 ms", "added TTFB p50", "added TTFB p99", "added gap p99", "events", "coalesced", "incomplete streams", "errors", "sidecar CPU %")
	dm := res["direct"]
	for _, t := range targets {
		m := res[t.name]
		added := []string{"–", "–", "–"}
		cpu := "–"
		if t.sc != nil {
			added = []string{diff(m["ttfb50"], dm["ttfb50"]).f(3), diff(m["ttfb99"], dm["ttfb99"]).f(3), diff(m["gap99"], dm["gap99"]).f(3)}
			cpu = m["cpu"].f(0)
		}
		tb.add(t.name, m["ttfb50"].f(3), m["ttfb99"].f(3), m["gap50"].f(3), m["gap99"].f(3), added[0], added[1], added[2],
			m["events"].f(0), m["coalesced"].f(0), m["short"].f(0), m["errors"].f(0), cpu)
	}
	sec.printf("%s", tb)
	pm := res[targets[1].name]
	a := diff(pm["ttfb50"], dm["ttfb50"]).agg()
	b.setGoal("ttfb", goal{what: "streaming added TTFB p50 (passthrough)", target: "≤ 1 ms", measured: a.format(3) + " ms", met: a.med <= 1})
	c, dc := res[targets[1].name]["coalesced"].agg(), dm["coalesced"].agg()
	cm := res[targets[2].name]["coalesced"].agg()
	// On a busy machine the load generator itself reads events together
	// now and then (the direct path shows how often): judged on the medians.
	b.setGoal("coalesce", goal{what: "coalesced events through the sidecar (passthrough; memory on)", target: "0 (no more than direct)",
		measured: fmt.Sprintf("%s; %s (direct: %s)", c.format(0), cm.format(0), dc.format(0)), met: c.med <= dc.med && cm.med <= dc.med})
	b.emit(sec)
	return nil
}
