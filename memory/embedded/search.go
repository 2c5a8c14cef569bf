package embedded

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/lexical"
)

// Search ranks the memories the filter can reach. The dense ranking is
// exact: every candidate is scored, no neighbour is missed. With
// req.Text, the BM25 ranking over the scope's term index is fused with it
// (memory.Fuse), each contributing memory.FusionWindow candidates.
func (s *Store) Search(ctx context.Context, req memory.SearchRequest) ([]memory.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(req.Vector) != s.dims {
		return nil, fmt.Errorf("embedded store: query vector has %d dimensions, want %d", len(req.Vector), s.dims)
	}
	if req.TopK <= 0 {
		return nil, nil
	}
	now := time.Now()
	window := req.TopK
	if req.Text != "" {
		window = memory.FusionWindow(req.TopK)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	dense := newTop(window)
	s.scan(req.Filter, func(m *memory.Memory) {
		if m.Expired(now) || !req.Filter.Match(m) {
			return
		}
		if score := memory.Score(memory.Cosine(req.Vector, m.Vector)); score >= req.MinScore {
			dense.offer(m, score)
		}
	})
	if req.Text == "" {
		return dense.hits(), nil
	}
	lex := newTop(window)
	lexical.Score(req.Text, s.scope(req.Filter), func(id string, score float64) {
		m := s.byID[id]
		if m != nil && !m.Expired(now) && req.Filter.Match(m) {
			lex.offer(m, score)
		}
	})
	return memory.FuseSearch(req, dense.hits(), lex.hits()), nil
}

// scope returns the term indexes of the users f can reach: BM25's
// statistics are those of the scope searched. The caller holds mu.
func (s *Store) scope(f memory.Filter) []*lexical.Index {
	var out []*lexical.Index
	if us, ok := users(f); ok {
		for _, u := range us {
			if x := s.lexical[u]; x != nil {
				out = append(out, x)
			}
		}
		return out
	}
	for _, x := range s.lexical {
		out = append(out, x)
	}
	return out
}

// top keeps the best k of the memories offered to it.
type top struct {
	k int
	h hitHeap
}

func newTop(k int) *top { return &top{k: k} }

func (t *top) offer(m *memory.Memory, score float64) {
	if t.h.Len() < t.k {
		heap.Push(&t.h, scored{m, score})
	} else if better(scored{m, score}, t.h[0]) {
		t.h[0] = scored{m, score}
		heap.Fix(&t.h, 0)
	}
}

// hits returns the memories kept, best first, as copies the caller owns.
func (t *top) hits() []memory.Hit {
	hits := make([]memory.Hit, t.h.Len())
	for i := len(hits) - 1; i >= 0; i-- {
		sc := heap.Pop(&t.h).(scored)
		hits[i] = memory.Hit{Memory: *clone(sc.m, false), Score: sc.score}
	}
	return hits
}

type scored struct {
	m     *memory.Memory
	score float64
}

// better orders hits: higher score, then more recently updated, then id.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if c := a.m.UpdatedAt.Compare(b.m.UpdatedAt); c != 0 {
		return c > 0
	}
	return a.m.ID < b.m.ID
}

// hitHeap is a min-heap by better: the root is the worst hit kept.
type hitHeap []scored

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
