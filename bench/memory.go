package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
)

// The embedders of the memory tests: the built-in hash embedder (µs, the
// cost of a cached embedding) and an OpenAI-compatible one served by the
// fake upstream with a fixed latency.
const (
	embedHash   = "hash"
	embedOpenAI = "openai"
	openAIModel = "text-embedding-3-small"
)

func embedderSpace(emb string) (dims int, space string) {
	if emb == embedOpenAI {
		return fakeupstream.EmbeddingDims, "openai:" + openAIModel
	}
	e := embed.NewHash(0)
	return e.Dimensions(), e.Name()
}

// prepareStore fills a store with n memories (see memories) for the
// sidecar called name, and returns the sidecar's settings for it. The
// hash embedder's memories get their real vectors, so that recall finds
// what a question asks; the other embedder's get random ones, which cost
// a search the same. A Milvus collection is dropped at the end.
func (b *bench) prepareStore(name, store string, n int, emb string) (map[string]string, error) {
	dims, space := embedderSpace(emb)
	r := rand.New(rand.NewPCG(uint64(n), 3))
	hash := embed.NewHash(dims)
	vector := func(text string) []float32 {
		if emb == embedHash {
			v, _ := hash.Embed(context.Background(), []string{text})
			return v[0]
		}
		return storeload.RandomVector(r, dims)
	}
	start := time.Now()
	ms := memories(n, usersFor(n), uint64(n), vector)
	// The hash embedder is named: the sidecar's default is the static one.
	settings := map[string]string{"MEMPROXY_EMBEDDER": "hash"}
	if emb == embedOpenAI {
		settings["MEMPROXY_EMBEDDER"] = "openai"
		settings["MEMPROXY_EMBEDDING_MODEL"] = openAIModel
		settings["MEMPROXY_EMBEDDING_DIMENSIONS"] = fmt.Sprint(dims)
		settings["MEMPROXY_EMBEDDING_API_KEY"] = "bench"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	switch store {
	case "embedded":
		s, err := embedded.Open(filepath.Join(b.dir, name+"-data"), dims, space)
		if err != nil {
			return nil, err
		}
		rate, err := storeload.Fill(ctx, s, ms)
		s.Close()
		if err != nil {
			return nil, err
		}
		log.Printf("%s: %d memories in the embedded store (%.0f/s, %v in all)", name, len(ms), rate, time.Since(start).Round(time.Millisecond))
	case "milvus":
		if b.o.milvus == "" {
			return nil, fmt.Errorf("no Milvus server (-milvus)")
		}
		coll := fmt.Sprintf("memproxy_bench_%s_%d", strings.ReplaceAll(name, "-", "_"), time.Now().UnixNano())
		s, err := storeload.OpenMilvus(ctx, b.o.milvus, coll, dims, space)
		if err != nil {
			return nil, err
		}
		b.atEnd(func() {
			if err := storeload.DropMilvus(b.o.milvus, coll); err != nil {
				log.Print(err)
			}
		})
		rate, err := storeload.Fill(ctx, s, ms)
		if err == nil {
			err = storeload.WaitVisible(ctx, s, dims, userName(0), n/usersFor(n))
		}
		s.Close()
		if err != nil {
			return nil, err
		}
		if err := storeload.SettleMilvus(ctx, b.o.milvus, coll); err != nil {
			return nil, err
		}
		log.Printf("%s: %d memories in Milvus collection %s (%.0f/s, %v in all with indexing)", name, len(ms), coll, rate, time.Since(start).Round(time.Millisecond))
		settings["MEMPROXY_STORE"] = "milvus"
		settings["MEMPROXY_MILVUS_ADDRESS"] = b.o.milvus
		settings["MEMPROXY_MILVUS_COLLECTION"] = coll
	default:
		return nil, fmt.Errorf("unknown store %q", store)
	}
	return settings, nil
}

// stores are the stores measured: the embedded one, and Milvus when there
// is a server.
func (b *bench) stores() []string {
	if b.o.milvus != "" {
		return []string{"embedded", "milvus"}
	}
	return []string{"embedded"}
}

// memoryOn measures recall with injection: added latency, and each
// stage as the sidecar reports it in Server-Timing.
func (b *bench) memoryOn() error {
	sec := &section{title: "2. Memory on: recall and injection"}
	sec.printf("Each request names a user and the agent (`X-Memory-Mode: read`: recall only, so that nothing is learned during the measurement) " +
		"and asks a question about one of the user's topics. The sidecar recalls the agent's persona (10 memories), the user's memories and the user's " +
		"relationship memories with the agent (one in four of the user's), injects them into the system message and forwards. " +
		"Memories are spread over users, ten or more each and at most 1,000 users (1k: 100 users × 10; 100k: 1,000 users × 100). " +
		"Milvus collections are flushed and fully indexed (HNSW) before the test. ")
	sec.printf("Embedders: *hash* is the built-in one (a few µs: the cost of a cached embedding); *openai %v* is an OpenAI-compatible "+
		"`/v1/embeddings` on the fake upstream answering after %v, every question unique so that the sidecar's cache misses. "+
		"Stage times come from the sidecar's `Server-Timing` header. Rate: %.0f requests/s.\n\n", b.o.up.embedLatency, b.o.up.embedLatency, b.o.memRate)
	tb := newTable("store", "memories", "embedder", "added p50 ms", "added p99 ms", "sidecar p50 ms", "sidecar p99 ms",
		"embed p50 / p99 ms", "search p50 / p99 ms", "inject p50 / p99 ms", "injected", "memories per request", "errors", "sidecar CPU %", "sidecar RSS MiB")
	added50 := map[string]float64{} // by store: added p50 at the largest size, hash embedder
	for _, emb := range []string{embedHash, embedOpenAI} {
		for _, store := range b.stores() {
			for _, n := range b.o.sizes {
				name := fmt.Sprintf("mem-%s-%s-%d", store, emb, n)
				sc, err := b.storeSidecar(name, store, n, emb)
				if err != nil {
					return err
				}
				users := usersFor(n)
				unique := emb == embedOpenAI
				g := func(i int) spec {
					r := rand.New(rand.NewPCG(uint64(i), 11))
					return spec{path: "/v1/chat/completions", header: identity(userName(r.IntN(users)), "read"),
						body: chatBody(question(r, i, unique), false)}
				}
				direct := target{name: "direct", base: b.up.url, gen: g}
				side := target{name: "sidecar", base: sc.url, sc: sc, gen: g}
				res := map[string]metrics{"direct": {}, "sidecar": {}}
				stages := metrics{}
				for run := range b.o.runs {
					wait := func() {}
					if run == 0 {
						wait = b.profiled(sc, name, 2*(b.o.warm+b.o.dur))
					}
					ws := b.runOpen([]target{direct, side}, b.o.memRate, run)
					wait()
					ws["direct"].record(res["direct"])
					d := ws["sidecar"].record(res["sidecar"])
					recordStages(ws["sidecar"].samples, stages)
					log.Printf("%s run %d: sidecar p50 %.3f ms p99 %.3f ms", name, run+1, ms(d.p50), ms(d.p99))
				}
				sc.stop(15 * time.Second)
				dm, sm := res["direct"], res["sidecar"]
				a50, a99 := diff(sm["p50"], dm["p50"]), diff(sm["p99"], dm["p99"])
				tb.add(store, fmt.Sprint(n), emb, "**"+a50.f(3)+"**", "**"+a99.f(3)+"**", sm["p50"].f(3), sm["p99"].f(3),
					stages["embed50"].f(3)+" / "+stages["embed99"].f(3), stages["search50"].f(3)+" / "+stages["search99"].f(3),
					stages["inject50"].f(3)+" / "+stages["inject99"].f(3), stages["injected"].f(1)+" %", stages["count"].f(1),
					sm["errors"].f(0), sm["cpu"].f(0), sm["rss"].f(0))
				if emb == embedHash && n == maxInt(b.o.sizes) {
					g50, g99 := a50.agg(), a99.agg()
					switch store {
					case "milvus":
						b.setGoal("mem50", goal{what: fmt.Sprintf("memory on, Milvus, %d memories, hash embedder: added p50", n), target: "≤ 3 ms", measured: g50.format(3) + " ms", met: g50.med <= 3})
						b.setGoal("mem99", goal{what: fmt.Sprintf("memory on, Milvus, %d memories, hash embedder: added p99", n), target: "≤ 10 ms", measured: g99.format(3) + " ms", met: g99.med <= 10})
					case "embedded":
						b.setGoal("memE", goal{what: fmt.Sprintf("memory on, embedded, %d memories, hash embedder: added p50 / p99", n), target: "less than Milvus",
							measured: g50.format(3) + " / " + g99.format(3) + " ms"})
					}
					added50[store] = g50.med
				}
			}
		}
	}
	sec.printf("%s\n*injected* is the share of requests whose answer said `X-Memory-Status: injected`; with 100 users × 10 memories "+
		"every question finds something. Stage p50/p99 are over each run's requests, then the median over runs.\n", tb)
	if g, ok := b.goals["memE"]; ok {
		if m, ok := b.goals["mem50"]; ok {
			g.met = added50["embedded"] < added50["milvus"]
			g.measured += " (Milvus: " + m.measured + " p50)"
		} else {
			g.unjudged = true
			g.measured += " (no Milvus to compare with: -milvus)"
		}
	}
	b.emit(sec)
	return nil
}

// recordStages adds the stage percentiles of a window's answers to m.
func recordStages(ss []sample, m metrics) {
	by := map[string][]time.Duration{}
	injected, count, n := 0, 0, 0
	for _, s := range ss {
		if !s.ok() {
			continue
		}
		n++
		for k, v := range stageTimes(s.timing) {
			by[k] = append(by[k], v)
		}
		if s.memory == "injected" {
			injected++
		}
		var c int
		fmt.Sscan(s.injected, &c)
		count += c
	}
	for _, st := range []string{"embed", "search", "inject"} {
		d := summarize(by[st])
		m.add(st+"50", ms(d.p50))
		m.add(st+"99", ms(d.p99))
	}
	if n > 0 {
		m.add("injected", 100*float64(injected)/float64(n))
		m.add("count", float64(count)/float64(n))
	}
}

func maxInt(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
