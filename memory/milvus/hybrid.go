package milvus

import (
	"context"
	"fmt"
	"slices"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
)

// rrfBest is the RRF score, from Milvus' ranker, of a memory ranked first
// by both rankings. Milvus' RRF gives the memory at 0-based position i of
// a ranking 1/(k+i+1) (Milvus 2.5+ rrf_function.go, Milvus Lite 3.2.2
// merge_op.py; checked against both in TestHybridScoresAreFuseScores), the
// same as memory.Fuse; dividing by rrfBest normalises as memory.Fuse does.
const rrfBest = 2.0 / (memory.RRFK + 1)

// radiusSlack lowers the dense request's radius below req.MinScore:
// Milvus keeps similarities strictly above the radius, the contract keeps
// those at least MinScore, and the server's float32 cosine may differ
// from the embedded store's by rounding.
const radiusSlack = 1e-6

// metricKey is the search parameter naming a request's metric: Milvus Lite
// does not infer it for a BM25 field.
const metricKey = "metric_type"

// hybridSearch fuses the dense ranking (memories with similarity at least
// req.MinScore) and the BM25 ranking (memories sharing a term with
// req.Text), each of memory.FusionWindow(req.TopK) candidates, by RRF.
//
// With an exact filter it is one HybridSearch call: Milvus runs both
// rankings with the filter and fuses them. Two cases fetch the rankings
// apart instead (two calls), each filtered until it has its window or
// Milvus has no more, and fuse them here with memory.Fuse:
//   - a filter that is not exact is evaluated in Go on Milvus' candidates
//     (Filter.Match), and a candidate it drops would still hold a rank in
//     Milvus' fusion, pushing the others down;
//   - a floor (MinScore) on a server that ignores the radius in a hybrid
//     search (Milvus Lite), where a memory below it would hold a rank;
//   - a dense ranking weighted apart from BM25's (req.DenseWeight, set for
//     the built-in embedders), which Milvus' RRF ranker cannot do.
func (s *Store) hybridSearch(ctx context.Context, c client, req memory.SearchRequest, expr string, p plan) ([]memory.Hit, error) {
	window := min(memory.FusionWindow(req.TopK), maxWindow)
	s.mu.RLock()
	rangeOK := s.rangeInHybrid
	s.mu.RUnlock()
	weighted := req.DenseWeight > 0 && req.DenseWeight != 1
	if !p.exact || (req.MinScore > 0 && !rangeOK) || weighted {
		dense, err := s.denseRanking(ctx, c, req, expr, p, window)
		if err != nil {
			return nil, err
		}
		lex, err := s.lexicalRanking(ctx, c, req, expr, p, window)
		if err != nil {
			return nil, err
		}
		return memory.FuseSearch(req, dense, lex), nil
	}
	// Every candidate of both rankings comes back (up to 2 windows), so
	// that ties at the TopK-th place are broken here as memory.Fuse does.
	rss, err := c.HybridSearch(ctx, milvusclient.NewHybridSearchOption(s.cfg.Collection, min(2*window, maxWindow),
		denseRequest(req, expr, window), lexicalRequest(req, expr, window)).
		WithReranker(milvusclient.NewRRFReranker().WithK(memory.RRFK)).
		WithOutputFields(outputFields()...).WithConsistencyLevel(level(req.Fresh)))
	if err != nil {
		return nil, s.failed(ctx, "hybrid searching", err)
	}
	if len(rss) != 1 {
		return nil, fmt.Errorf("milvus store: hybrid search returned %d result sets for one query", len(rss))
	}
	ms, err := s.memories(rss[0])
	if err != nil {
		return nil, err
	}
	hits := make([]memory.Hit, len(ms))
	for i := range ms {
		hits[i] = memory.Hit{Memory: ms[i], Score: float64(rss[0].Scores[i]) / rrfBest}
	}
	sortHits(hits)
	return hits[:min(len(hits), req.TopK)], nil
}

// denseRequest is the dense ranking of a hybrid search: the k most
// similar memories matching expr, with similarity at least req.MinScore.
func denseRequest(req memory.SearchRequest, expr string, k int) *milvusclient.AnnRequest {
	ap := index.NewHNSWAnnParam(max(k, 64))
	if req.MinScore > 0 {
		ap.WithRadius(req.MinScore - radiusSlack)
	}
	return milvusclient.NewAnnRequest(fieldVector, k, entity.FloatVector(req.Vector)).
		WithFilter(expr).WithAnnParam(ap).WithSearchParam(metricKey, string(entity.COSINE))
}

// lexicalRequest is the BM25 ranking of a hybrid search: the k memories
// matching expr that best match req.Text.
func lexicalRequest(req memory.SearchRequest, expr string, k int) *milvusclient.AnnRequest {
	return milvusclient.NewAnnRequest(fieldSparse, k, entity.Text(req.Text)).
		WithFilter(expr).WithSearchParam(metricKey, string(entity.BM25))
}

// lexicalRanking returns the n memories matching req.Filter (expr and p,
// its plan) that best match req.Text by BM25, best first, asking Milvus
// for more until n pass Filter.Match or none are left. Scores are
// Milvus' own (Milvus Lite reports BM25 negated); only the order counts.
func (s *Store) lexicalRanking(ctx context.Context, c client, req memory.SearchRequest, expr string, p plan, n int) ([]memory.Hit, error) {
	return s.rank(ctx, c, req, p, n, ranking{
		what: "searching by text",
		option: func(k int) milvusclient.SearchOption {
			return milvusclient.NewSearchOption(s.cfg.Collection, k, []entity.Vector{entity.Text(req.Text)}).
				WithANNSField(fieldSparse).WithSearchParam(metricKey, string(entity.BM25)).
				WithFilter(expr).WithOutputFields(outputFields()...).WithConsistencyLevel(level(req.Fresh))
		},
		score: func(raw float32) (float64, bool) { return float64(raw), true },
		order: breakTies,
	})
}

// breakTies orders each run of equal scores in hits, which is in Milvus'
// order, as every store breaks ties: more recently updated first, then
// by id.
func breakTies(hits []memory.Hit) {
	for i := 0; i < len(hits); {
		j := i + 1
		for j < len(hits) && hits[j].Score == hits[i].Score {
			j++
		}
		slices.SortStableFunc(hits[i:j], memory.CompareHits)
		i = j
	}
}
