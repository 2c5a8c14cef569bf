package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// UserSearchMargin is how many times the sum of the user's layers' TopK
// one search of the user's memories asks for, so that after the split
// each layer still has its TopK in most cases (see searchUser).
const UserSearchMargin = 2

// A layer is one layer of a recall: where its hits go, which memories it
// may recall, and how many.
type layer struct {
	dst    *[]Hit
	filter Filter
	limits Limits
	key    string // which layer of the user it is (see ShortLayers)
}

// minScore is l's floor: its MinScore, or the embedder's relevance floor
// when that is 0 (none for the persona: its best memories come on every
// turn, unless a policy sets a floor for it). A listed layer has none.
func (r *Retriever) minScore(l layer, vec []float32, persona bool) float64 {
	if vec == nil || l.limits.Recent {
		return 0
	}
	if l.limits.MinScore == 0 && !persona {
		return RelevanceFloor(r.Embedder)
	}
	return l.limits.MinScore
}

// request is the store search of layer l.
func (r *Retriever) request(l layer, vec []float32, query string) SearchRequest {
	return SearchRequest{
		Vector: vec, Text: query, DenseWeight: DenseWeight(r.Embedder),
		Filter: l.filter, TopK: l.limits.TopK, MinScore: l.limits.MinScore,
	}
}

// searchLayer is one store call for layer l: a search by the query, or
// the newest memories when there is no query vector or l asks for them.
func (r *Retriever) searchLayer(ctx context.Context, l layer, vec []float32, query string) ([]Hit, error) {
	if vec == nil || l.limits.Recent {
		ms, err := r.Store.List(ctx, l.filter, Page{Limit: l.limits.TopK})
		hits := make([]Hit, len(ms))
		for i, m := range ms {
			hits[i] = Hit{Memory: m}
		}
		return hits, err
	}
	return r.Store.Search(ctx, r.request(l, vec, query))
}

// searchUser fills layers g, all of userID's memories and searched alike
// (same floor, same mode), from one store call over every memory of the
// user: TopK is UserSearchMargin times the sum of theirs, and each layer
// takes, in the order of that one answer, the hits its filter matches.
// A layer left short by an answer that was full (more may lie beyond the
// margin) is searched alone, so that no layer comes back short for lack
// of margin: after the one search the first time (a second round trip),
// alongside it from then on while it stays short (see ShortLayers).
//
// What this gives, against searching each layer alone:
//   - listed layers (newest first) and searches by vector only: the same
//     memories in the same order, always; the order is one total order
//     of the memories, whatever the candidates;
//   - searches fused with BM25: a layer whose candidates (memories at or
//     above the floor, or sharing a term with the query) number at most
//     its TopK gets the same memories, when the user's candidates fit in
//     the one answer; a layer with more gets its best by the fusion over
//     all the user's candidates rather than over its own. Reciprocal rank
//     fusion depends on the candidate set, so the two may then differ on
//     the layer's borderline memories and in order.
func (r *Retriever) searchUser(ctx context.Context, userID string, g []layer, vec []float32, query string) error {
	if len(g) == 1 {
		hits, err := r.searchLayer(ctx, g[0], vec, query)
		*g[0].dst = hits
		return err
	}
	n := 0
	for _, l := range g {
		n += l.limits.TopK
	}
	// The layers this user's last recall found short are searched alone
	// now, alongside the one search.
	ahead := make([]bool, len(g))
	errs := make([]error, len(g))
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, l := range g {
		if r.ShortLayers.has(userID, l.key) {
			ahead[i] = true
			wg.Go(func() {
				hits, err := r.searchLayer(ctx, l, vec, query)
				*l.dst, errs[i] = hits, err
			})
		}
	}
	all := layer{filter: UserFilter(userID), limits: g[0].limits}
	all.limits.TopK = UserSearchMargin * n
	hits, err := r.searchLayer(ctx, all, vec, query)
	if err != nil {
		return fmt.Errorf("searching the memories of the user: %w", err)
	}
	full := len(hits) >= all.limits.TopK
	for i, l := range g {
		var mine []Hit
		for j := range hits {
			if len(mine) == l.limits.TopK {
				break
			}
			if l.filter.Match(&hits[j].Memory) {
				mine = append(mine, hits[j])
			}
		}
		short := full && len(mine) < l.limits.TopK
		r.ShortLayers.set(userID, l.key, short)
		switch {
		case ahead[i]: // its own answer is on its way
		case short:
			// Searched alone after all: a second round trip this time.
			wg.Go(func() {
				hits, err := r.searchLayer(ctx, l, vec, query)
				*l.dst, errs[i] = hits, err
			})
		default:
			*l.dst = mine
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
