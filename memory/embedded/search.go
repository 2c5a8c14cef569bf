package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/lexical"
)

// Search ranks the memories the filter can reach with memory.RankExact:
// the dense ranking is exact, every candidate is scored, no neighbour is
// missed; with req.Text, the BM25 ranking over the scope's term index is
// fused with it.
func (s *Store) Search(ctx context.Context, req memory.SearchRequest) ([]memory.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(req.Vector) != s.dims {
		return nil, fmt.Errorf("embedded store: query vector has %d dimensions, want %d", len(req.Vector), s.dims)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	hits := memory.RankExact(req, time.Now(), func(fn func(*memory.Memory)) { s.scan(req.Filter, fn) },
		s.scope(req.Filter), func(id string) *memory.Memory { return s.byID[id] })
	// The hits share the stored memories' metadata: copied while locked.
	for i := range hits {
		hits[i].Memory = *clone(&hits[i].Memory, false)
	}
	return hits, nil
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
