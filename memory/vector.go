package memory

import (
	"context"
	"math"
)

// An Embedder turns texts into unit vectors of a fixed dimension. The
// embedders are in package memory/embed; Retriever and Service use them
// through this interface.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
	// Name identifies the embedding space, e.g. "hash-v1" or
	// "openai:text-embedding-3-small". Vectors from embedders with
	// different names must not be compared; stores record it.
	Name() string
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
