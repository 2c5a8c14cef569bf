package embedded

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// Search scans the memories the filter can reach and keeps the TopK most
// similar. The scan is exact: no approximation, no missed neighbour.
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
	h := &hitHeap{}
	s.mu.RLock()
	s.scan(req.Filter, func(m *memory.Memory) {
		if m.Expired(now) || !req.Filter.Match(m) {
			return
		}
		score := memory.Score(memory.Cosine(req.Vector, m.Vector))
		if score < req.MinScore {
			return
		}
		if h.Len() < req.TopK {
			heap.Push(h, scored{m, score})
		} else if better(scored{m, score}, (*h)[0]) {
			(*h)[0] = scored{m, score}
			heap.Fix(h, 0)
		}
	})
	hits := make([]memory.Hit, h.Len())
	for i := len(hits) - 1; i >= 0; i-- {
		sc := heap.Pop(h).(scored)
		hits[i] = memory.Hit{Memory: *clone(sc.m, false), Score: sc.score}
	}
	s.mu.RUnlock()
	return hits, nil
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
