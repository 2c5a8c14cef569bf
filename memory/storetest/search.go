package storetest

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

func testSearch(t *testing.T, s memory.Store) {
	var ms []memory.Memory
	for i := range 50 {
		ms = append(ms, mem(i, fmt.Sprintf("fact %d", i), memory.Scope{UserID: "u"}, nil))
	}
	mustAdd(t, s, ms...)
	q := Vec(7) // the vector of "fact 7"
	hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: q, Filter: memory.UserFilter("u"), TopK: 10, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 10 {
		t.Fatalf("TopK 10 gave %d hits", len(hits))
	}
	if hits[0].Text != "fact 7" || hits[0].Score < 0.999 {
		t.Errorf("best hit = %q (%.4f), want the identical vector with score 1", hits[0].Text, hits[0].Score)
	}
	// Exact: the hits are the true top 10 by cosine, in order.
	type sc struct {
		id    string
		score float64
	}
	var all []sc
	for _, m := range ms {
		all = append(all, sc{m.ID, memory.Score(memory.Cosine(q, m.Vector))})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].score > all[j].score })
	for i, h := range hits {
		if h.Score < 0 || h.Score > 1 {
			t.Errorf("score %f outside [0,1]", h.Score)
		}
		if i > 0 && h.Score > hits[i-1].Score {
			t.Errorf("hits out of order at %d", i)
		}
		if math.Abs(h.Score-all[i].score) > 1e-3 {
			t.Errorf("hit %d has score %.4f, the exact %d-th best is %.4f", i, h.Score, i, all[i].score)
		}
	}
	floor := all[5].score - 1e-4
	hits, err = s.Search(ctx(t), memory.SearchRequest{Vector: q, Filter: memory.UserFilter("u"), TopK: 50, MinScore: floor, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 6 {
		t.Errorf("MinScore %.4f kept %d hits, want 6", floor, len(hits))
	}
	if hits, _ := s.Search(ctx(t), memory.SearchRequest{Vector: q, Filter: memory.UserFilter("nobody"), TopK: 5, Fresh: true}); len(hits) != 0 {
		t.Errorf("search in an empty scope found %d", len(hits))
	}
}
