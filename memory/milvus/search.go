package milvus

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
)

// level is the consistency of a read: Strong when the caller must see its
// own writes (the memory API), Bounded on the chat path.
func level(fresh bool) entity.ConsistencyLevel {
	if fresh {
		return entity.ClStrong
	}
	return entity.ClBounded
}

// Get returns the memory with id.
func (s *Store) Get(ctx context.Context, id string) (memory.Memory, error) {
	c, err := s.client()
	if err != nil {
		return memory.Memory{}, err
	}
	if !quotable(id) {
		return memory.Memory{}, memory.ErrNotFound
	}
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.cfg.Collection).
		WithFilter(fieldID+" == "+quote(id)+" and "+notExpired(time.Now())).
		WithOutputFields(append(outputFields(), fieldVector)...).WithLimit(1).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return memory.Memory{}, s.failed(ctx, "getting memory "+id, err)
	}
	ms, err := s.memories(rs)
	if err != nil {
		return memory.Memory{}, err
	}
	if len(ms) == 0 {
		return memory.Memory{}, memory.ErrNotFound
	}
	return ms[0], nil
}

func notExpired(now time.Time) string {
	return fieldExpiresAt + " > " + strconv.FormatInt(now.UnixNano(), 10)
}

// query returns the plan of f restricted to unexpired memories, and false
// if it can match nothing.
func query(f memory.Filter, now time.Time) (string, plan, bool) {
	p := compile(f)
	b := and(p.upper, native(notExpired(now)))
	return b.expr, p, !b.isFalse()
}

// exprBound is the bound of an expression query or queryStored returned:
// "" selects every row.
func exprBound(expr string) bound {
	if expr == "" {
		return alwaysTrue
	}
	return native(expr)
}

// queryStored is query for every stored memory, expired ones included;
// its expression is "" when it selects every row.
func queryStored(f memory.Filter) (string, plan, bool) {
	p := compile(f)
	return p.upper.expr, p, !p.upper.isFalse()
}

// Search returns the TopK memories most relevant to req among those
// matching req.Filter: by cosine alone, or, with req.Text on a collection
// with full-text search, by the fusion of cosine and BM25 (hybrid.go).
// When the filter is not exact, candidates are checked with Filter.Match,
// asking Milvus for more until enough pass or none are left.
func (s *Store) Search(ctx context.Context, req memory.SearchRequest) ([]memory.Hit, error) {
	if len(req.Vector) != s.cfg.Dims {
		return nil, fmt.Errorf("milvus store: query vector has %d dimensions, want %d", len(req.Vector), s.cfg.Dims)
	}
	if err := req.Filter.Validate(); err != nil {
		return nil, fmt.Errorf("milvus store: filter: %w", err)
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if req.TopK <= 0 {
		return nil, nil
	}
	expr, p, possible := query(req.Filter, time.Now())
	if !possible {
		return nil, nil
	}
	if req.Text != "" && s.FullText() == nil {
		return s.hybridSearch(ctx, c, req, expr, p)
	}
	return s.denseRanking(ctx, c, req, expr, p, req.TopK)
}

// denseRanking returns the n memories most similar to req.Vector that
// match req.Filter (expr and p, its plan), with Score at least
// req.MinScore, best first.
func (s *Store) denseRanking(ctx context.Context, c client, req memory.SearchRequest, expr string, p plan, n int) ([]memory.Hit, error) {
	return s.rank(ctx, c, req, p, n, ranking{
		what: "searching",
		option: func(k int) milvusclient.SearchOption {
			return milvusclient.NewSearchOption(s.cfg.Collection, k, []entity.Vector{entity.FloatVector(req.Vector)}).
				WithANNSField(fieldVector).WithFilter(expr).WithOutputFields(outputFields()...).
				WithAnnParam(index.NewHNSWAnnParam(max(k, 64))).WithConsistencyLevel(level(req.Fresh))
		},
		// Milvus' COSINE score is the cosine similarity, in [-1,1];
		// clamped, it is the embedded store's score.
		score: func(raw float32) (float64, bool) {
			score := memory.Score(float64(raw))
			return score, score >= req.MinScore
		},
		order: sortHits,
	})
}

// A ranking is one search Milvus ranks: the search for k candidates,
// what a candidate's score is (false: below the floor, and so is every
// candidate after it), and how ties are broken.
type ranking struct {
	what   string
	option func(k int) milvusclient.SearchOption
	score  func(raw float32) (float64, bool)
	order  func([]memory.Hit)
}

// rank runs r for the n best memories that match req.Filter (expr and p,
// its plan), asking Milvus for more until n pass Filter.Match or none
// are left.
func (s *Store) rank(ctx context.Context, c client, req memory.SearchRequest, p plan, n int, r ranking) ([]memory.Hit, error) {
	k := min(n, maxWindow)
	if !p.exact {
		k = min(max(4*n, 64), maxWindow)
	}
	for {
		rss, err := c.Search(ctx, r.option(k))
		if err != nil {
			return nil, s.failed(ctx, r.what, err)
		}
		if len(rss) != 1 {
			return nil, fmt.Errorf("milvus store: search returned %d result sets for one query", len(rss))
		}
		ms, err := s.memories(rss[0])
		if err != nil {
			return nil, err
		}
		hits := make([]memory.Hit, 0, min(len(ms), n))
		below := false
		for i := range ms {
			score, ok := r.score(rss[0].Scores[i])
			below = !ok
			if !ok || (!p.exact && !req.Filter.Match(&ms[i])) {
				continue
			}
			hits = append(hits, memory.Hit{Memory: ms[i], Score: score})
		}
		if p.exact || len(hits) >= n || len(ms) < k || below {
			r.order(hits)
			return hits[:min(len(hits), n)], nil
		}
		if k == maxWindow {
			return nil, errTooMany
		}
		k = min(4*k, maxWindow)
	}
}

var errTooMany = fmt.Errorf("milvus store: searching: more than %d memories pass the native part of the filter; narrow it (substring and case-insensitive tests are evaluated after Milvus)", maxWindow)

// sortHits orders hits as the embedded store does: higher score, then
// more recently updated, then id.
func sortHits(hits []memory.Hit) {
	slices.SortStableFunc(hits, memory.CompareHits)
}
