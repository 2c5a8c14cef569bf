package memory

import (
	"container/heap"
	"time"

	"github.com/memproxy/memproxy/memory/lexical"
)

// RankExact is the in-process hybrid ranking of a search over memories
// held in memory: the embedded store's, and the persona cache's. each
// calls its argument with every candidate; those that are expired or do
// not match req.Filter are skipped. The dense ranking is exact (every
// candidate's cosine, kept when at least req.MinScore); with req.Text the
// BM25 ranking over indexes (the statistics of the scope searched) is
// fused with it by FuseSearch, each contributing FusionWindow(req.TopK)
// candidates. byID resolves the ids the indexes score.
//
// The hits share the candidates' Metadata and Categories, and carry no
// vector: a caller whose memories are not its own copies them.
func RankExact(req SearchRequest, now time.Time, each func(func(*Memory)), indexes []*lexical.Index, byID func(string) *Memory) []Hit {
	if req.TopK <= 0 {
		return nil
	}
	window := req.TopK
	if req.Text != "" {
		window = FusionWindow(req.TopK)
	}
	dense := topHits{k: window}
	each(func(m *Memory) {
		if m.Expired(now) || !req.Filter.Match(m) {
			return
		}
		if score := Score(Cosine(req.Vector, m.Vector)); score >= req.MinScore {
			dense.offer(m, score)
		}
	})
	if req.Text == "" {
		return dense.hits()
	}
	lex := topHits{k: window}
	lexical.Score(req.Text, indexes, func(id string, score float64) {
		if m := byID(id); m != nil && !m.Expired(now) && req.Filter.Match(m) {
			lex.offer(m, score)
		}
	})
	return FuseSearch(req, dense.hits(), lex.hits())
}

// topHits keeps the best k of the memories offered to it.
type topHits struct {
	k int
	h hitHeap
}

func (t *topHits) offer(m *Memory, score float64) {
	if t.h.Len() < t.k {
		heap.Push(&t.h, scoredMemory{m, score})
	} else if better(scoredMemory{m, score}, t.h[0]) {
		t.h[0] = scoredMemory{m, score}
		heap.Fix(&t.h, 0)
	}
}

// hits returns the memories kept, best first, without their vectors.
func (t *topHits) hits() []Hit {
	hits := make([]Hit, t.h.Len())
	for i := len(hits) - 1; i >= 0; i-- {
		sc := heap.Pop(&t.h).(scoredMemory)
		hits[i] = Hit{Memory: *sc.m, Score: sc.score}
		hits[i].Vector = nil
	}
	return hits
}

type scoredMemory struct {
	m     *Memory
	score float64
}

// better orders hits as CompareHits does: higher score, then more
// recently updated, then id.
func better(a, b scoredMemory) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if c := a.m.UpdatedAt.Compare(b.m.UpdatedAt); c != 0 {
		return c > 0
	}
	return a.m.ID < b.m.ID
}

// hitHeap is a min-heap by better: the root is the worst hit kept.
type hitHeap []scoredMemory

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(scoredMemory)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
