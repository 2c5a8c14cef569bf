package main

import (
	"fmt"
	"log"
	"sort"
	"strings"
	"time"
)

// learning compares chat latency with learning on (the default mode)
// and off (X-Memory-Mode: read), same requests, same sidecar, alternating.
func (b *bench) learning() error {
	sec := &section{title: "4a. Learning on vs off: chat latency"}
	sec.printf("Issue 5's check: chat latency with saving on must differ from saving off by less than noise. Each request states a new fact " +
		"(which raw learning keeps) and asks for recall; with learning on (`X-Memory-Mode: on`, the default) the turn goes to the outbox after " +
		"the answer and the writer stores it in the background; with `X-Memory-Mode: read` nothing is queued. Both run against the same sidecar " +
		"(1,000 memories, hash embedder), alternating in each run, with the direct path alongside. *noise* is the spread (max − min) over runs of the read-mode figure.\n\n")
	tb := newTable("store", "mode", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "learn − read p50 ms", "learn − read p99 ms", "noise p50 / p99 ms", "X-Memory-Learning", "outbox pending after")
	for _, store := range b.stores() {
		name := "learn-" + store
		sc, err := b.storeSidecar(name, store, 1000, embedHash)
		if err != nil {
			return err
		}
		users := usersFor(1000)
		mk := func(mode string) gen {
			return func(i int) spec {
				return spec{path: "/v1/chat/completions", header: identity(userName(i%users), mode), body: chatBody(statement(i), false)}
			}
		}
		targets := []target{
			{name: "direct", base: b.up.url, gen: mk("read")},
			{name: "read", base: sc.url, sc: sc, gen: mk("read")},
			{name: "on", base: sc.url, sc: sc, gen: mk("on")},
		}
		res := map[string]metrics{}
		headers := map[string]map[string]int{}
		for _, t := range targets {
			res[t.name] = metrics{}
			headers[t.name] = map[string]int{}
		}
		var pending series
		for run := range b.o.runs {
			ws := b.runOpen(targets, b.o.memRate, run)
			for _, t := range targets {
				w := ws[t.name]
				d := w.record(res[t.name])
				for _, s := range w.samples {
					if s.ok() {
						headers[t.name][s.learning]++
					}
				}
				log.Printf("%s run %d %-6s p50 %.3f ms p99 %.3f ms", name, run+1, t.name, ms(d.p50), ms(d.p99))
			}
			p, _ := sc.metrics("memproxy_outbox_pending")
			pending = append(pending, p["memproxy_outbox_pending"])
		}
		sc.stop(15 * time.Second)
		dm, rm, om := res["direct"], res["read"], res["on"]
		noise := fmt.Sprintf("%.3f / %.3f", rm["p50"].agg().hi-rm["p50"].agg().lo, rm["p99"].agg().hi-rm["p99"].agg().lo)
		tb.add(store, "read", rm["p50"].f(3), rm["p99"].f(3), diff(rm["p50"], dm["p50"]).f(3), diff(rm["p99"], dm["p99"]).f(3), "", "", noise, counts(headers["read"]), "")
		tb.add(store, "on (learning)", om["p50"].f(3), om["p99"].f(3), diff(om["p50"], dm["p50"]).f(3), diff(om["p99"], dm["p99"]).f(3),
			"**"+diff(om["p50"], rm["p50"]).f(3)+"**", "**"+diff(om["p99"], rm["p99"]).f(3)+"**", "", counts(headers["on"]), pending.f(0))
		if store == "embedded" {
			d50, d99 := diff(om["p50"], rm["p50"]).agg(), diff(om["p99"], rm["p99"]).agg()
			n50, n99 := rm["p50"].agg().hi-rm["p50"].agg().lo, rm["p99"].agg().hi-rm["p99"].agg().lo
			b.setGoal("learnOnOff", goal{what: "chat latency, learning on − off (embedded; p50 / p99)", target: "less than noise",
				measured: fmt.Sprintf("%s / %s ms (noise %.3f / %.3f)", d50.format(3), d99.format(3), n50, n99),
				met:      abs(d50.med) <= max(n50, 0.05) && abs(d99.med) <= max(n99, 0.5)})
		}
	}
	sec.printf("%s\nRate %.0f requests/s. *outbox pending after* is the writer's backlog at the end of each run: "+
		"where the writer keeps up it is near zero; on Milvus the writer is slower than the arrivals (see 4b), so it grows, and the chat latency still does not move.\n", tb, b.o.memRate)
	b.emit(sec)
	return nil
}

// counts renders header values and how often each came.
func counts(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		name := k
		if name == "" {
			name = "(none)"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, m[k]))
	}
	return strings.Join(parts, ", ")
}
