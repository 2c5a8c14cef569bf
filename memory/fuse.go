package memory

import (
	"cmp"
	"slices"
)

// RRFK is the k of reciprocal rank fusion: a memory ranked r-th (from 1)
// in a ranking gets 1/(RRFK+r) from it. 60 is the value of the original
// paper and Milvus' default; it makes the fused order depend on ranks, not
// on the scales of the scores, which differ between cosine and BM25.
const RRFK = 60

// FusionWindow is how many candidates each ranking contributes to the
// fusion for a search of topK: more than topK, since a memory ranked low
// by one signal and high by the other belongs near the top of the fused
// list. Both stores use it, so that they fuse the same lists.
func FusionWindow(topK int) int {
	return max(3*topK, 30)
}

// Fuse merges rankings, each best first, by reciprocal rank fusion and
// returns the best topK. A memory's Score is its fused score normalised
// by the number of rankings: 1 for a memory ranked first by every one,
// 1/n for one ranked first by one of n and absent from the others, and
// less the lower it ranks. Ties go to the more recently updated memory,
// then to the smaller id, as in every store.
func Fuse(topK int, rankings ...[]Hit) []Hit {
	return FuseWeighted(topK, RRFK, nil, rankings...)
}

// WeightedRRFK is the k of a search whose dense ranking weighs less than
// BM25's (SearchRequest.DenseWeight below 1): a smaller k lets the top
// ranks of the stronger ranking lead. Tuned with the weight of the
// built-in embedders on the LoCoMo dev set (recall@10 of the static
// embedder fused with BM25, all three conversations: 0.554 at k 60 and
// weight 0.5, 0.572 at k 20 and weight 0.3; BM25 alone 0.567).
const WeightedRRFK = 20

// FuseSearch fuses the dense and lexical rankings of a search as req asks:
// equally by Fuse, or by FuseWeighted with WeightedRRFK when req weighs the
// dense ranking apart. Both stores fuse with it.
func FuseSearch(req SearchRequest, dense, lexical []Hit) []Hit {
	w := req.DenseWeight
	if w <= 0 || w == 1 {
		return Fuse(req.TopK, dense, lexical)
	}
	return FuseWeighted(req.TopK, WeightedRRFK, []float64{w, 1}, dense, lexical)
}

// FuseWeighted is Fuse with a k and a weight for each ranking (nil: all
// 1): a memory gets weight/(k+r) from a ranking. Scores are normalised by
// the sum of the weights, so that first in every ranking is still 1.
func FuseWeighted(topK, k int, weights []float64, rankings ...[]Hit) []Hit {
	if topK <= 0 || len(rankings) == 0 {
		return nil
	}
	weight := func(i int) float64 {
		if i < len(weights) {
			return weights[i]
		}
		return 1
	}
	best := 0.0
	for i := range rankings {
		best += weight(i) / float64(k+1)
	}
	fused := make(map[string]*Hit)
	var order []*Hit
	for ri, r := range rankings {
		w := weight(ri)
		for i, h := range r {
			f, ok := fused[h.ID]
			if !ok {
				c := h
				c.Score = 0
				f = &c
				fused[h.ID] = f
				order = append(order, f)
			}
			f.Score += w / float64(k+i+1) / best
		}
	}
	slices.SortFunc(order, func(a, b *Hit) int { return CompareHits(*a, *b) })
	out := make([]Hit, 0, min(topK, len(order)))
	for _, h := range order[:min(topK, len(order))] {
		out = append(out, *h)
	}
	return out
}

// A FusionWeigher is an Embedder whose similarity ranks memories less
// well than BM25 does, and says how much its ranking should weigh in the
// fusion, BM25's weighing 1.
type FusionWeigher interface {
	FusionWeight() float64
}

// DenseWeight is the weight of e's ranking in the fusion with BM25: its
// FusionWeight if it has one, else 1.
func DenseWeight(e Embedder) float64 {
	if w, ok := e.(FusionWeigher); ok {
		return w.FusionWeight()
	}
	return 1
}

// CompareHits orders hits best first: higher score, then more recently
// updated, then smaller id.
func CompareHits(a, b Hit) int {
	if c := cmp.Compare(b.Score, a.Score); c != 0 {
		return c
	}
	if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
