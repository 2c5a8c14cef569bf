// Command recallbench measures what a chat's recall costs the store: the
// store round trips and the search time of memory.Retriever.Recall with
// every layer (persona, relationship, run, user) searched apart, as
// before, and with the persona cache and one search for the user's
// layers, against one direct search of a user's memories, on Milvus (or
// Milvus Lite) with 10,000 memories over 1,000 users.
//
//	go run ./bench/recallbench -milvus 127.0.0.1:19530
//
// Queries are embedded with the built-in hash embedder. Its ranking weighs
// less than BM25's, which Milvus' RRF ranker cannot do: each search is
// then two Milvus calls (dense, BM25) fused in the sidecar. The rows
// "unweighted" hide that weight, so that a search is one HybridSearch.
// It only talks to loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

var words = []string{"running", "coffee", "marathon", "knee", "protein", "sleep", "trail", "swim", "yoga", "bike",
	"pasta", "stretch", "tempo", "hills", "rest", "shoes", "race", "coach", "goal", "injury"}

func main() {
	addr := flag.String("milvus", "", "Milvus address (host:port on loopback)")
	n := flag.Int("memories", 10000, "memories in all, over the users")
	users := flag.Int("users", 1000, "users")
	agents := flag.Int("agents", 10, "agents, each with a persona")
	personaSize := flag.Int("persona", 20, "memories of each persona")
	recalls := flag.Int("recalls", 500, "recalls (and direct searches) per row")
	parallel := flag.Int("parallel", 1, "concurrent recalls in the concurrent rows (1: none); Milvus Lite on a busy machine times out at 8")
	flag.Parse()
	if err := storeload.CheckLoopback(*addr); err != nil {
		log.Fatalf("-milvus: %v", err)
	}
	ctx := context.Background()
	e := embed.NewHash(0)
	coll := fmt.Sprintf("memproxy_recallbench_%d", time.Now().UnixNano())
	ms, err := storeload.OpenMilvus(ctx, *addr, coll, e.Dimensions(), e.Name())
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		ms.Close()
		if err := storeload.DropMilvus(*addr, coll); err != nil {
			log.Print(err)
		}
	}()

	// Each user: plain memories, relationship memories with an agent, a
	// run's memories; each agent a persona.
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	text := func() string {
		return fmt.Sprintf("%s %s and %s", words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	var all []memory.Memory
	newMemory := func(t string, scope memory.Scope, meta map[string]any) memory.Memory {
		vs, err := e.Embed(ctx, []string{t})
		if err != nil {
			log.Fatal(err)
		}
		return memory.Memory{ID: memory.NewID(), Text: t, Hash: memory.Hash(t), UserID: scope.UserID, AgentID: scope.AgentID,
			RunID: scope.RunID, Metadata: meta, CreatedAt: now, UpdatedAt: now, Vector: vs[0]}
	}
	for j := range *n {
		u := j % *users
		scope, meta := memory.Scope{UserID: fmt.Sprintf("user-%d", u)}, map[string]any(nil)
		switch j / *users % 5 {
		case 1:
			meta = map[string]any{"agent_id": fmt.Sprintf("agent-%d", u%*agents)}
		case 2:
			scope.RunID = "run-1"
		}
		all = append(all, newMemory(text(), scope, meta))
	}
	for a := range *agents {
		for range *personaSize {
			all = append(all, newMemory("I am "+text(), memory.Scope{AgentID: fmt.Sprintf("agent-%d", a)}, nil))
		}
	}
	rate, err := storeload.Fill(ctx, ms, all)
	if err != nil {
		log.Fatal(err)
	}
	if err := storeload.SettleMilvus(ctx, *addr, coll); err != nil {
		log.Printf("settling (searches may be brute force over fresh rows): %v", err)
	}
	if err := storeload.WaitVisible(ctx, ms, e.Dimensions(), "user-0", *n / *users); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("Milvus at %s: %d memories over %d users, %d personas of %d; inserted at %.0f/s; %d recalls per row\n\n",
		*addr, *n, *users, *agents, *personaSize, rate, *recalls)

	st := &counting{Store: ms}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "embedder\tpath\tconcurrency\tstore calls/chat\tsearch p50\tsearch p99\tvs direct p50\t\n")
	for _, emb := range []struct {
		name string
		e    memory.Embedder
	}{{"hash (weighted)", e}, {"hash unweighted", unweighted{e}}} {
		concs := []int{1}
		if *parallel > 1 {
			concs = append(concs, *parallel)
		}
		for _, conc := range concs {
			cache := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: 5 * time.Second})
			paths := []struct {
				name string
				run  func(id memory.Identity, q string, vec []float32) (time.Duration, error)
			}{
				{"direct: one search of the user", func(id memory.Identity, q string, vec []float32) (time.Duration, error) {
					start := time.Now()
					_, err := st.Search(ctx, memory.SearchRequest{Vector: vec, Text: q, DenseWeight: memory.DenseWeight(emb.e),
						Filter: memory.UserFilter(id.UserID), TopK: 5, MinScore: memory.RelevanceFloor(emb.e)})
					return time.Since(start), err
				}},
				{"recall, layers apart (before)", recall(&memory.Retriever{Store: st, Embedder: emb.e, SearchLayersApart: true})},
				{"recall, cache + one search (after)", recall(&memory.Retriever{Store: st, Embedder: emb.e, Personas: cache})},
			}
			var direct time.Duration
			for _, p := range paths {
				st.calls.Store(0)
				lat, err := measure(*recalls, conc, *users, *agents, emb.e, p.run)
				if err != nil {
					log.Fatalf("%s: %v", p.name, err)
				}
				p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
				if direct == 0 {
					direct = p50
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%v\t%v\t%.2fx\t\n", emb.name, p.name, conc,
					float64(st.calls.Load())/float64(*recalls), p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond),
					float64(p50)/float64(direct))
				tw.Flush()
			}
		}
	}
	tw.Flush()
	fmt.Println("\nstore calls count memory.Store Search and List calls; a Milvus search with the weighted embedder is two Milvus calls.")
}

// recall times the store part of a recall of every layer (Recalled.SearchTime).
func recall(rt *memory.Retriever) func(memory.Identity, string, []float32) (time.Duration, error) {
	return func(id memory.Identity, q string, _ []float32) (time.Duration, error) {
		rec, err := rt.Recall(context.Background(), memory.RecallRequest{
			Identity: id, Query: q,
			Persona: memory.Limits{TopK: 5}, User: memory.Limits{TopK: 5}, Relationship: memory.Limits{TopK: 3}, Run: memory.Limits{TopK: 3},
		})
		return rec.SearchTime, err
	}
}

// measure runs n recalls from conc goroutines, for random users and agents,
// and returns their times sorted.
func measure(n, conc, users, agents int, e memory.Embedder, run func(memory.Identity, string, []float32) (time.Duration, error)) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conc)
	for w := range conc {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				u := r.IntN(users)
				id := memory.Identity{UserID: fmt.Sprintf("user-%d", u), AgentID: fmt.Sprintf("agent-%d", u%agents), RunID: "run-1"}
				q := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
				vs, err := e.Embed(context.Background(), []string{q})
				if err != nil {
					errs[w] = err
					return
				}
				if lat[i], err = run(id, q, vs[0]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(lat)
	return lat, nil
}

// counting counts a store's searches and listings.
type counting struct {
	memory.Store
	calls atomic.Int64
}

func (c *counting) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	c.calls.Add(1)
	return c.Store.Search(ctx, r)
}

func (c *counting) List(ctx context.Context, f memory.Filter, p memory.Page) ([]memory.Memory, error) {
	c.calls.Add(1)
	return c.Store.List(ctx, f, p)
}

// unweighted hides an embedder's FusionWeight: its ranking weighs as
// BM25's, and a Milvus search is one HybridSearch.
type unweighted struct{ memory.Embedder }

// RelevanceFloor is the hash embedder's (none): a floor would make Milvus
// Lite, whose HybridSearch ignores it, fetch the rankings apart.
func (unweighted) RelevanceFloor() float64 { return 0 }
