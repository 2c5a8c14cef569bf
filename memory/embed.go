package memory

import (
	"context"
	"math"
	"strings"
	"unicode"
)

// An Embedder turns texts into unit vectors of a fixed dimension.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
	// Name identifies the embedding space, e.g. "hash-v1" or
	// "openai:text-embedding-3-small". Vectors from embedders with
	// different names must not be compared; stores record it.
	Name() string
}

// HashEmbedder is the built-in offline embedder: it hashes words, word
// pairs and character trigrams into a fixed number of dimensions (feature
// hashing). It captures lexical overlap, not meaning: "I run 5K" is near
// "running a 5K", but not near "jogging". It needs no model and no network,
// so memproxy runs with zero configuration; use an OpenAI-compatible
// embedder for semantic recall.
type HashEmbedder struct {
	dims int
}

// NewHashEmbedder returns a HashEmbedder of dims dimensions (256 if dims <= 0).
func NewHashEmbedder(dims int) *HashEmbedder {
	if dims <= 0 {
		dims = 256
	}
	return &HashEmbedder{dims: dims}
}

func (e *HashEmbedder) Dimensions() int { return e.dims }
func (e *HashEmbedder) Name() string    { return "hash-v1" }

func (e *HashEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
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

func (e *HashEmbedder) embed(text string) []float32 {
	v := make([]float64, e.dims)
	add := func(kind byte, feature string, w float64) {
		sum := fnv64a(kind, feature)
		i := int(sum % uint64(e.dims))
		if sum>>63 == 1 {
			w = -w
		}
		v[i] += w
	}
	words := tokenize(text)
	for i, w := range words {
		add('w', w, wordWeight)
		if i > 0 {
			add('p', words[i-1]+" "+w, pairWeight)
		}
		padded := []rune("^" + w + "$")
		for j := 0; j+3 <= len(padded); j++ {
			add('t', string(padded[j:j+3]), trigramWeight)
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, e.dims)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
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

// tokenize lower-cases text, splits it into words, drops stop words and
// strips common English suffixes.
func tokenize(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	words := fields[:0]
	for _, f := range fields {
		if stopWords[f] {
			continue
		}
		words = append(words, stem(f))
	}
	return words
}

func stem(w string) string {
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suf)+2 && strings.HasSuffix(w, suf) && !strings.HasSuffix(w, "ss") {
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by do does did for from has have
		had he her him his i if in into is it its me my of on or our she so than that the their
		them then there these they this to too us was we were what when where which who why will
		with you your yours i'm im am been being can could would should just about`) {
		stopWords[w] = true
	}
}

// Cosine returns the cosine similarity of two unit vectors.
func Cosine(a, b []float32) float64 {
	var dot float32
	for i := range a {
		dot += a[i] * b[i]
	}
	return float64(dot)
}

// Score turns a cosine similarity into a Hit score in [0,1].
func Score(cosine float64) float64 {
	return min(max(cosine, 0), 1)
}

// Normalize scales v to unit length in place and returns it.
func Normalize(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= inv
	}
	return v
}
