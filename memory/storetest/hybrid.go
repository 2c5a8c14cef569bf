package storetest

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/lexical"
)

// hybridCorpus is one user's memories for the hybrid cases, each with an
// explicit vector: cos is its cosine with the query vector axis(0). The
// texts are lower-case words that every analyzer (lexical.Terms, Milvus'
// and Milvus Lite's) keeps as they are, so that the stores agree on BM25.
var hybridCorpus = []struct {
	name, text string
	cos        float64
}{
	{"near", "warm beach holiday", 0.99},    // nearest vector, no shared word
	{"both", "violin lesson tuesday", 0.95}, // near, and one shared word
	{"filler1", "green tea", 0.90},
	{"filler2", "black cat", 0.80},
	{"filler3", "blue car", 0.70},
	{"filler4", "red kite", 0.60},
	{"filler5", "old piano", 0.50},
	{"far", "new desk", 0.40},                 // below the floor, no shared word
	{"lexical", "quokka violin sonata", 0.10}, // far vector, three rare shared words
}

const hybridQuery = "quokka violin sonata"

// axis returns the unit vector along dimension i.
func axis(i int) []float32 {
	v := make([]float32, Dims)
	v[i] = 1
	return v
}

// toward returns a unit vector whose cosine with axis(0) is cos, its rest
// along axis(i), so that every memory's vector is distinct.
func toward(i int, cos float64) []float32 {
	v := axis(i)
	for j := range v {
		v[j] *= float32(math.Sqrt(1 - cos*cos))
	}
	v[0] = float32(cos)
	return memory.Normalize(v)
}

// addHybridCorpus adds the corpus for user "u" and returns the memories
// by name.
func addHybridCorpus(t *testing.T, s memory.Store) (map[string]memory.Memory, []memory.Memory) {
	t.Helper()
	byName := map[string]memory.Memory{}
	var ms []memory.Memory
	for i, c := range hybridCorpus {
		if got := lexical.Terms(c.text); !slices.Equal(got, strings.Fields(c.text)) {
			t.Fatalf("the corpus assumes %q analyses to its own words, got %q", c.text, got)
		}
		m := mem(i, c.text, memory.Scope{UserID: "u"}, nil)
		m.Vector = toward(i+1, c.cos)
		byName[c.name] = m
		ms = append(ms, m)
	}
	mustAdd(t, s, ms...)
	return byName, ms
}

// referenceHybrid is what Search returns for req over one user's
// memories ms, by the contract of memory.Store.Search: the dense ranking
// (similarity at least MinScore) and the BM25 ranking (with the
// statistics of all of ms) of the memories matching req.Filter, each of
// memory.FusionWindow(TopK), fused by memory.Fuse.
func referenceHybrid(ms []memory.Memory, req memory.SearchRequest) []memory.Hit {
	window := memory.FusionWindow(req.TopK)
	idx := lexical.NewIndex()
	byID := map[string]memory.Memory{}
	var dense, lex []memory.Hit
	for _, m := range ms {
		idx.Add(m.ID, m.Text)
		byID[m.ID] = m
		if score := memory.Score(memory.Cosine(req.Vector, m.Vector)); score >= req.MinScore && req.Filter.Match(&m) {
			dense = append(dense, memory.Hit{Memory: m, Score: score})
		}
	}
	lexical.Score(req.Text, []*lexical.Index{idx}, func(id string, score float64) {
		if m := byID[id]; req.Filter.Match(&m) {
			lex = append(lex, memory.Hit{Memory: m, Score: score})
		}
	})
	top := func(hs []memory.Hit) []memory.Hit {
		slices.SortFunc(hs, memory.CompareHits)
		return hs[:min(len(hs), window)]
	}
	return memory.Fuse(req.TopK, top(dense), top(lex))
}

// checkHits fails unless got has want's memories in want's order, with
// want's scores.
func checkHits(t *testing.T, what string, got, want []memory.Hit, names map[string]string) {
	t.Helper()
	name := func(hs []memory.Hit) []string {
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = names[h.ID]
		}
		return out
	}
	if !slices.Equal(name(got), name(want)) {
		t.Fatalf("%s: got %v, want %v", what, name(got), name(want))
	}
	for i := range got {
		// Milvus fuses in float32.
		if math.Abs(got[i].Score-want[i].Score) > 1e-5 {
			t.Errorf("%s: %s has score %.7f, want %.7f", what, names[got[i].ID], got[i].Score, want[i].Score)
		}
	}
}

// testHybrid checks searches with text: where lexical and dense disagree,
// the store returns the fused top k of the contract, in order, with its
// scores (1 for a memory first in both rankings); a memory below MinScore
// that shares no term is left out. A dense-only store (opts.DenseOnly)
// must answer a search with text as it answers one without.
func testHybrid(t *testing.T, s memory.Store, opts Options) {
	byName, ms := addHybridCorpus(t, s)
	names := map[string]string{}
	for n, m := range byName {
		names[m.ID] = n
	}
	search := func(req memory.SearchRequest) []memory.Hit {
		t.Helper()
		req.Fresh = true
		hits, err := s.Search(ctx(t), req)
		if err != nil {
			t.Fatalf("Search(%q): %v", req.Text, err)
		}
		if opts.DenseOnly {
			dense := req
			dense.Text = ""
			want, err := s.Search(ctx(t), dense)
			if err != nil {
				t.Fatal(err)
			}
			checkHits(t, "dense-only store, search with text", hits, want, names)
		}
		return hits
	}
	u := memory.UserFilter("u")

	t.Run("Disagreement", func(t *testing.T) {
		req := memory.SearchRequest{Vector: axis(0), Text: hybridQuery, Filter: u, TopK: 3}
		hits := search(req)
		if opts.DenseOnly {
			return
		}
		want := referenceHybrid(ms, req)
		// What the reference says, in words: the memory near and sharing a
		// word wins; the one sharing three rare words but far by vector
		// comes next, above every memory nearer by vector but sharing none
		// but the nearest.
		if n := names[want[0].ID] + "," + names[want[1].ID] + "," + names[want[2].ID]; n != "both,lexical,near" {
			t.Fatalf("the reference fusion gives %s; the corpus no longer shows a disagreement", n)
		}
		checkHits(t, "fused top 3", hits, want, names)
	})

	t.Run("FirstInBothScoresOne", func(t *testing.T) {
		b := byName["both"]
		req := memory.SearchRequest{Vector: b.Vector, Text: b.Text, Filter: u, TopK: 5}
		hits := search(req)
		if opts.DenseOnly {
			return
		}
		checkHits(t, "first in both", hits, referenceHybrid(ms, req), names)
		if names[hits[0].ID] != "both" || math.Abs(hits[0].Score-1) > 1e-5 || hits[1].Score >= 1 {
			t.Errorf("the memory first by vector and by text has score %.7f (then %.7f); want 1, then less", hits[0].Score, hits[1].Score)
		}
	})

	t.Run("FloorKeepsOnlyDenseAboveIt", func(t *testing.T) {
		req := memory.SearchRequest{Vector: axis(0), Text: hybridQuery, Filter: u, TopK: 20, MinScore: 0.55}
		hits := search(req)
		if opts.DenseOnly {
			return
		}
		checkHits(t, "fused above the floor", hits, referenceHybrid(ms, req), names)
		for _, h := range hits {
			switch names[h.ID] {
			case "far", "filler5":
				t.Errorf("%s, below MinScore and sharing no term, was returned", names[h.ID])
			case "lexical":
				// Below the floor: ranked by BM25 alone, first there.
				if math.Abs(h.Score-0.5) > 1e-5 {
					t.Errorf("the memory ranked first by text only has score %.7f, want 0.5", h.Score)
				}
			}
		}
	})

	t.Run("InexactFilter", func(t *testing.T) {
		// Case-insensitive substring tests are checked on the stores' candidates: the
		// memories they drop must not hold a rank in either ranking.
		f := memory.And(u, memory.Not(memory.Cmp(memory.FieldText, false, memory.OpIContains, "LESSON")))
		req := memory.SearchRequest{Vector: axis(0), Text: hybridQuery, Filter: f, TopK: 4}
		hits := search(req)
		if opts.DenseOnly {
			return
		}
		want := referenceHybrid(ms, req)
		if slices.ContainsFunc(want, func(h memory.Hit) bool { return names[h.ID] == "both" }) {
			t.Fatal("the filter does not drop the memory it is meant to")
		}
		checkHits(t, "fused, filtered in Go", hits, want, names)
	})
}
