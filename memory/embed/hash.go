// Package embed owns the embedders, which turn texts into unit vectors:
// the built-in hash embedder, one for any OpenAI-compatible API, and a
// cache in front of either.
package embed

import (
	"context"

	"github.com/memproxy/memproxy/memory/internal/words"
)

// Hash is the built-in offline embedder: it hashes words, word
// pairs and character trigrams into a fixed number of dimensions (feature
// hashing). It captures lexical overlap, not meaning: "I run 5K" is near
// "running a 5K", but not near "jogging". It needs no model and no network,
// so memproxy runs with zero configuration; use an OpenAI-compatible
// embedder for semantic recall.
type Hash struct {
	dims int
}

// NewHash returns a Hash of dims dimensions (256 if dims <= 0).
func NewHash(dims int) *Hash {
	if dims <= 0 {
		dims = 256
	}
	return &Hash{dims: dims}
}

func (e *Hash) Dimensions() int { return e.dims }
func (e *Hash) Name() string    { return "hash-v1" }

// RelevanceFloor is 0, no floor: the hash embedder sees words, not
// meaning, and BM25 already finds what shares words with the query. A
// policy sets one with min_score (colliding features alone give up to
// about 0.13).
func (e *Hash) RelevanceFloor() float64 { return 0 }

// FusionWeight is the weight of the hash embedder's ranking when fused
// with BM25's: 0.3, as for the static embedder. Both signals count words;
// the hash one without knowing which words are rare.
func (e *Hash) FusionWeight() float64 { return 0.3 }

func (e *Hash) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = e.embed(t)
	}
	return out, nil
}

// Feature weights: whole words carry the meaning, word pairs a little
// order, trigrams tolerance for inflection ("run", "running").
const (
	wordWeight    = 1.0
	pairWeight    = 0.5
	trigramWeight = 0.25
)

func (e *Hash) embed(text string) []float32 {
	v := make([]float64, e.dims)
	add := func(kind byte, feature string, w float64) {
		sum := fnv64a(kind, feature)
		i := int(sum % uint64(e.dims))
		if sum>>63 == 1 {
			w = -w
		}
		v[i] += w
	}
	tokens := words.Tokenize(text)
	for i, w := range tokens {
		add('w', w, wordWeight)
		if i > 0 {
			add('p', tokens[i-1]+" "+w, pairWeight)
		}
		padded := []rune("^" + w + "$")
		for j := 0; j+3 <= len(padded); j++ {
			add('t', string(padded[j:j+3]), trigramWeight)
		}
	}
	return unit(v)
}

// fnv64a is FNV-1a over kind followed by s, inlined to keep the hot path
// free of allocations.
func fnv64a(kind byte, s string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	h = (h ^ uint64(kind)) * prime
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime
	}
	return h
}
