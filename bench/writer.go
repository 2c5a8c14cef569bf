package main

import (
	"fmt"
	"log"
	"strings"
	"time"
)

const (
	appliedMetric = `memproxy_writer_turns_total{result="applied"}`
	pendingMetric = "memproxy_outbox_pending"
)

// writerState reads the writer's counters from the sidecar's /metrics.
func writerState(sc *sidecar) (applied, pending float64, err error) {
	m, err := sc.metrics("memproxy_writer_turns_total", pendingMetric)
	if err != nil {
		return 0, 0, err
	}
	return m[appliedMetric], m[pendingMetric], nil
}

// drain waits until the outbox is empty, or limit passes; it returns how
// long it waited and whether the outbox emptied.
func drain(sc *sidecar, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		_, p, err := writerState(sc)
		if err == nil && p == 0 {
			return time.Since(start), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), false
}

// writerRates are the arrival rates of turns tried on each store.
func (b *bench) writerRates(store string) []float64 {
	switch {
	case store == "milvus" && b.o.quick:
		return []float64{25, 100}
	case store == "milvus":
		return []float64{25, 50, 100}
	case b.o.quick:
		return []float64{250, 1000}
	}
	return []float64{250, 500, 1000}
}

// drainLimit bounds the wait for a backlog to clear after a window.
const drainLimit = 3 * time.Minute

// writer measures how many turns per second the outbox and writer learn
// from in raw mode, and what happens when turns arrive faster.
func (b *bench) writer() error {
	sec := &section{title: "4b. Writing: turns learned per second (raw mode)"}
	sec.printf("Chat requests in the default mode, each stating a new fact, at a fixed arrival rate for %v; then the benchmark waits for the outbox "+
		"to empty. Per turn the writer extracts (raw), checks for a duplicate by hash and by similarity, embeds, stores the memory and its history, "+
		"and removes the turn from the outbox; two workers (the default). Figures from the sidecar's `/metrics`: "+
		"*learned/s in window* is `memproxy_writer_turns_total{result=\"applied\"}` over the window; *throughput* counts every turn of the window "+
		"over the time until the outbox was empty again (arrivals above capacity make it the writer's capacity); *pending at end* is "+
		"`memproxy_outbox_pending` when arrivals stop. The stores start with 1,000 memories (hash embedder).\n\n", b.o.dur)
	tb := newTable("store", "arrivals turns/s", "learned/s in window", "pending at end", "drain s", "throughput turns/s", "chat p50 ms", "chat p99 ms", "errors")
	capacity := map[string]float64{}
	for _, store := range b.stores() {
		name := "writer-" + store
		sc, err := b.storeSidecar(name, store, 1000, embedHash)
		if err != nil {
			return err
		}
		users := usersFor(1000)
		g := func(i int) spec {
			return spec{path: "/v1/chat/completions", header: identity(userName(i%users), ""), body: chatBody(statement(i), false)}
		}
		t := target{name: "sidecar", base: sc.url, sc: sc, gen: g}
		for _, rate := range b.writerRates(store) {
			m := metrics{}
			for run := range b.o.runs {
				b.awaitQuiet()
				a0, _, err := writerState(sc)
				if err != nil {
					return err
				}
				start := time.Now()
				samples := openLoop(b.client, sc.url, rate, b.o.dur, t.gen, b.indices(int(rate*b.o.dur.Seconds())))
				el := time.Since(start)
				a1, p1, err := writerState(sc)
				if err != nil {
					return err
				}
				dt, emptied := drain(sc, drainLimit)
				a2, _, _ := writerState(sc)
				w := window{samples: samples, elapsed: el, use: usage{cpu: []float64{0}}}
				d := w.record(m)
				m.add("window", (a1-a0)/el.Seconds())
				m.add("pending", p1)
				m.add("drain", dt.Seconds())
				m.add("tput", (a2-a0)/(el+dt).Seconds())
				log.Printf("%s %4.0f turns/s run %d: learned %.0f/s in window, %.0f pending at end, drained in %.1fs (%v), chat p50 %.3f ms",
					name, rate, run+1, (a1-a0)/el.Seconds(), p1, dt.Seconds(), emptied, ms(d.p50))
				if !emptied {
					return fmt.Errorf("%s: the outbox did not empty within %v after %.0f turns/s", name, drainLimit, rate)
				}
			}
			tb.add(store, fmt.Sprintf("%.0f", rate), m["window"].f(0), m["pending"].f(0), m["drain"].f(1), "**"+m["tput"].f(0)+"**",
				m["p50"].f(3), m["p99"].f(3), m["errors"].f(0))
			capacity[store] = max(capacity[store], m["tput"].agg().med)
		}
		sc.stop(15 * time.Second)
	}
	sec.printf("%s\n", tb)
	var caps []string
	for _, s := range b.stores() {
		caps = append(caps, fmt.Sprintf("%s %.0f", s, capacity[s]))
	}
	b.setGoal("writer", goal{what: "writer throughput, raw mode (best median throughput: " + strings.Join(caps, ", ") + ")", target: "≥ 500 turns/s",
		measured: fmt.Sprintf("%.0f turns/s (embedded)", capacity["embedded"]), met: capacity["embedded"] >= 500})
	if err := b.backlog(sec); err != nil {
		return err
	}
	b.emit(sec)
	return nil
}

// backlog shows what happens when turns arrive faster than the store
// takes them: the outbox grows to its limit, further turns are not
// queued (the response says so), and chat latency stays where it was.
func (b *bench) backlog(sec *section) error {
	store, emb, rate := "milvus", embedHash, b.o.memRate
	why := "Milvus takes fewer turns per second than arrive"
	user := func(i int) string { return userName(i % usersFor(1000)) }
	message := statement
	workers := 2
	if b.o.milvus == "" {
		// The embedded store takes turns faster than the chat path brings
		// them: the writer batches each user's turns, and the embedder's
		// cache already holds the text it embeds, the chat path's query.
		// A new user for every turn, one worker, and a question after the
		// statement (the chat path embeds both, the writer the statement
		// alone) make it apply one turn at a time, each waiting for the
		// embedder.
		store, emb, rate, workers = "embedded", embedOpenAI, 2*b.o.memRate, 1
		user = func(i int) string { return fmt.Sprintf("backlog-user-%d", i) }
		message = func(i int) string { return statement(i) + " What should I change this week?" }
		why = fmt.Sprintf("every turn comes from a new user, so that the writer cannot batch turns, and its one worker applies them one at a time, "+
			"each waiting %v for the embedding of its fact (the chat path embedded the whole message, question included, so the cache cannot answer): "+
			"at most %.0f turns/s", b.o.up.embedLatency, float64(time.Second)/float64(b.o.up.embedLatency))
	}
	// The outbox fills in about a quarter of a learning window, whatever
	// its length, if the writer took nothing.
	limit := max(100, int(rate*(b.o.warm+b.o.dur).Seconds()/4)/100*100)
	name := "backlog-" + store
	settings, err := b.prepareStore(name, store, 1000, emb)
	if err != nil {
		return err
	}
	settings["MEMPROXY_LEARN_QUEUE_SIZE"] = fmt.Sprint(limit)
	settings["MEMPROXY_LEARN_WORKERS"] = fmt.Sprint(workers)
	sc, err := b.newSidecar(name, settings)
	if err != nil {
		return err
	}
	defer sc.stop(15 * time.Second)
	mk := func(mode string) gen {
		return func(i int) spec {
			return spec{path: "/v1/chat/completions", header: identity(user(i), mode), body: chatBody(message(i), false)}
		}
	}
	targets := []target{
		{name: "read", base: sc.url, sc: sc, gen: mk("read")},
		{name: "on", base: sc.url, sc: sc, gen: mk("on")},
	}
	res := map[string]metrics{"read": {}, "on": {}}
	headers := map[string]int{}
	var trace []string
	for run := range b.o.runs {
		// Each run starts with an empty outbox: a read-mode window with the
		// writer idle, then a learning window that fills the outbox.
		if _, ok := drain(sc, drainLimit); !ok {
			log.Printf("%s: the outbox did not empty within %v; measuring anyway", name, drainLimit)
		}
		b.runOpen(targets[:1], rate, run)["read"].record(res["read"])
		b.awaitQuiet() // before the trace starts: runOpen's own wait is then short
		var stop, done chan struct{}
		if run == 0 { // traced: the outbox every second
			stop, done = make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				start := time.Now()
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						a, p, _ := writerState(sc)
						trace = append(trace, fmt.Sprintf("%.0fs: %.0f pending, %.0f learned", time.Since(start).Seconds(), p, a))
					}
				}
			}()
		}
		w := b.runOpen(targets[1:], rate, run)["on"]
		if stop != nil {
			close(stop)
			<-done
		}
		w.record(res["on"])
		for _, s := range w.samples {
			headers[s.learning]++
		}
	}
	_, pending, _ := writerState(sc)
	rm, om := res["read"], res["on"]
	tb := newTable("mode", "p50 ms", "p99 ms", "p99.9 ms", "errors", "X-Memory-Learning")
	tb.add("read (nothing queued)", rm["p50"].f(3), rm["p99"].f(3), rm["p999"].f(3), rm["errors"].f(0), "")
	tb.add("on (outbox filling, then full)", om["p50"].f(3), om["p99"].f(3), om["p999"].f(3), om["errors"].f(0), counts(headers))
	tb.add("**on − read**", "**"+diff(om["p50"], rm["p50"]).f(3)+"**", "**"+diff(om["p99"], rm["p99"]).f(3)+"**", diff(om["p999"], rm["p999"]).f(3), "", "")
	sec.printf("### Backlog: the writer slower than the arrivals\n\n%s, %s embedder, outbox limit %d turns (`MEMPROXY_LEARN_QUEUE_SIZE`), "+
		"writer workers: %d, %.0f turns/s arriving: %s. Each run waits for an empty outbox, measures a read-mode window (nothing queued, the writer idle), "+
		"then a learning window (warm-up included) in which the outbox fills. The outbox during the first learning window, once a second (a turn counts as pending until learned):\n\n> %s\n\n"+
		"Once the outbox is full, answers say `X-Memory-Learning: failed-open: outbox full` and the turn is not learned; the chat call itself is served as before. "+
		"At the end %.0f turns were still pending.\n\n%s",
		store, emb, limit, workers, rate, why, strings.Join(trace, " · "), pending, tb)
	d99 := diff(om["p99"], rm["p99"]).agg()
	b.setGoal("backlog", goal{what: "chat latency while the writer is behind (" + store + " backlog, p50 / p99 on − read)", target: "no change",
		measured: diff(om["p50"], rm["p50"]).f(3) + " / " + d99.format(3) + " ms", met: d99.med <= max(1, 0.1*rm["p99"].agg().med)})
	return nil
}
