package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
)

// A labelled question: who asks, and which memory answers it.
type labelled struct {
	user     string
	text     string
	answer   string // memory id
	semantic bool
	vec      []float32
}

// qualitySet generates users × (one fact per topic + fillers) memories
// and perUser questions per user, each labelled with the fact it needs.
func qualitySet(users, fillersPer, perUser int) ([]memory.Memory, []labelled) {
	r := rand.New(rand.NewPCG(42, 42))
	e := embed.NewHash(0)
	embed := func(t string) []float32 {
		v, _ := e.Embed(context.Background(), []string{t})
		return v[0]
	}
	now := time.Now().UTC()
	var ms []memory.Memory
	var qs []labelled
	for u := range users {
		user := fmt.Sprintf("quality-user-%d", u)
		ids := make([]string, len(topics))
		for i, t := range topics {
			text := fmt.Sprintf(t.fact, t.values[r.IntN(len(t.values))])
			m := memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: user, CreatedAt: now, UpdatedAt: now, Vector: embed(text)}
			ids[i] = m.ID
			ms = append(ms, m)
		}
		for j := range fillersPer {
			text := fmt.Sprintf(fillers[r.IntN(len(fillers))], fillerValues[r.IntN(len(fillerValues))])
			text = fmt.Sprintf("%s (day %d)", text[:len(text)-1], j)
			ms = append(ms, memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: user, CreatedAt: now, UpdatedAt: now, Vector: embed(text)})
		}
		for _, i := range r.Perm(len(topics))[:perUser] {
			qs = append(qs, labelled{user: user, text: topics[i].question, answer: ids[i], semantic: topics[i].semantic, vec: embed(topics[i].question)})
		}
	}
	return ms, qs
}

// quality measures recall@k of each store on the labelled set, and how
// often each store's top k is exact search's.
func (b *bench) quality() error {
	users, perUser := 500, 5
	if b.o.quick {
		users = 100
	}
	const fillersPer, k = 30, 10
	mems, qs := qualitySet(users, fillersPer, perUser)
	byUser := map[string][]memory.Memory{}
	for _, m := range mems {
		byUser[m.UserID] = append(byUser[m.UserID], m)
	}
	// Exact search: every memory of the user, scored, best first.
	type scored struct {
		id    string
		score float64
	}
	exact := make([][]scored, len(qs))
	for i, q := range qs {
		var all []scored
		for _, m := range byUser[q.user] {
			all = append(all, scored{m.ID, memory.Score(memory.Cosine(q.vec, m.Vector))})
		}
		slices.SortStableFunc(all, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
		exact[i] = all
	}
	score := func(i int, id string) float64 {
		for _, s := range exact[i] {
			if s.id == id {
				return s.score
			}
		}
		return -1
	}
	type result struct {
		name      string
		hits      [][]string // ids, best first, per question
		searchP50 time.Duration
	}
	var results []result
	ex := result{name: "exact search (brute force in the benchmark)", hits: make([][]string, len(qs))}
	for i := range qs {
		for _, s := range exact[i][:min(k, len(exact[i]))] {
			ex.hits[i] = append(ex.hits[i], s.id)
		}
	}
	results = append(results, ex)

	ctx := context.Background()
	dims, space := embedderSpace(embedHash)
	for _, store := range b.stores() {
		var s memory.Store
		switch store {
		case "embedded":
			dir := filepath.Join(b.dir, "quality-data")
			es, err := embedded.Open(dir, dims, space)
			if err != nil {
				return err
			}
			defer func() { es.Close(); os.RemoveAll(dir) }()
			s = es
		case "milvus":
			coll := fmt.Sprintf("memproxy_bench_quality_%d", time.Now().UnixNano())
			b.atEnd(func() {
				if err := storeload.DropMilvus(b.o.milvus, coll); err != nil {
					log.Print(err)
				}
			})
			msv, err := storeload.OpenMilvus(ctx, b.o.milvus, coll, dims, space)
			if err != nil {
				return err
			}
			defer msv.Close()
			s = msv
			if _, err := storeload.Fill(ctx, s, mems); err != nil {
				return err
			}
			if err := storeload.WaitVisible(ctx, s, dims, qs[0].user, len(topics)+fillersPer); err != nil {
				return err
			}
			if err := storeload.SettleMilvus(ctx, b.o.milvus, coll); err != nil {
				return err
			}
		}
		if store == "embedded" {
			if _, err := storeload.Fill(ctx, s, mems); err != nil {
				return err
			}
		}
		res := result{name: store, hits: make([][]string, len(qs))}
		lat := make([]time.Duration, len(qs))
		for i, q := range qs {
			t := time.Now()
			hits, err := s.Search(ctx, memory.SearchRequest{Vector: q.vec, Filter: memory.UserFilter(q.user), TopK: k})
			lat[i] = time.Since(t)
			if err != nil {
				return fmt.Errorf("%s: searching: %w", store, err)
			}
			for _, h := range hits {
				res.hits[i] = append(res.hits[i], h.ID)
			}
		}
		res.searchP50 = summarize(lat).p50
		results = append(results, res)
		log.Printf("quality: %s searched %d questions", store, len(qs))
	}

	sec := &section{title: "5. Retrieval quality"}
	sec.printf("A generated labelled set: %d users, each with one fact on each of %d topics (\"My dog is called Biscuit.\", \"I work as a nurse.\") "+
		"and %d everyday statements that answer nothing, %d memories in all; %d questions per user (\"What is my dog called?\"), %d in all, "+
		"each labelled with the fact it needs. %d of the %d topics ask without sharing a word with the fact (\"Do I eat meat?\" for "+
		"\"I have been vegetarian since 2015.\"): the built-in hash embedder is lexical and cannot answer those; a semantic embedder would. "+
		"Search is the chat path's user layer: the user's memories, top %d, hash embedder. "+
		"*same top-%d as exact* counts a question when every memory the store returned is in exact search's top %d, or scores the same as its last "+
		"(ties may order either way). Deterministic: the same in every run.\n\n",
		users, len(topics), fillersPer, len(mems), perUser, len(qs), countSemantic(), len(topics), k, k, k)
	tb := newTable("search", "recall@1", "recall@5", "recall@10", "recall@10, shared-word questions", "recall@10, no shared word", fmt.Sprintf("same top-%d as exact", k), "search p50 ms")
	recall := func(res result, n int, filter func(labelled) bool) float64 {
		hit, all := 0, 0
		for i, q := range qs {
			if !filter(q) {
				continue
			}
			all++
			if slices.Contains(res.hits[i][:min(n, len(res.hits[i]))], q.answer) {
				hit++
			}
		}
		return float64(hit) / float64(all)
	}
	anyQ := func(labelled) bool { return true }
	for _, res := range results {
		at := func(n int, filter func(labelled) bool) string { return fmt.Sprintf("%.3f", recall(res, n, filter)) }
		same := 0
		for i := range qs {
			kth := exact[i][min(k, len(exact[i]))-1].score
			ok := len(res.hits[i]) == min(k, len(exact[i]))
			for _, id := range res.hits[i] {
				if !slices.Contains(ex.hits[i], id) && score(i, id) < kth-1e-6 {
					ok = false
				}
			}
			if ok {
				same++
			}
		}
		lat := "–"
		if res.searchP50 > 0 {
			lat = fmt.Sprintf("%.3f", ms(res.searchP50))
		}
		tb.add(res.name, at(1, anyQ), at(5, anyQ), at(10, anyQ), at(10, func(q labelled) bool { return !q.semantic }),
			at(10, func(q labelled) bool { return q.semantic }), fmt.Sprintf("%d / %d", same, len(qs)), lat)
		if res.name != ex.name {
			match := true
			for _, n := range []int{1, 5, 10} {
				match = match && math.Abs(recall(res, n, anyQ)-recall(ex, n, anyQ)) < 1e-9
			}
			b.setGoal("quality-"+res.name, goal{what: "retrieval quality of the " + res.name + " store matches exact search", target: "same recall@1/5/10",
				measured: fmt.Sprintf("recall@1/5/10 %s/%s/%s (exact %.3f/%.3f/%.3f); same top-%d on %d / %d questions", at(1, anyQ), at(5, anyQ), at(10, anyQ),
					recall(ex, 1, anyQ), recall(ex, 5, anyQ), recall(ex, 10, anyQ), k, same, len(qs)),
				met: match})
		}
	}
	sec.printf("%s", tb)
	b.emit(sec)
	return nil
}

func countSemantic() int {
	n := 0
	for _, t := range topics {
		if t.semantic {
			n++
		}
	}
	return n
}
