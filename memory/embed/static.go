package embed

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	_ "embed" // the built-in table
)

// Static embeds a text as the mean of fixed vectors of its word pieces: a
// token-embedding table distilled from a real sentence model (see
// distill/distill.py). It knows that "jogging" is near "running", which no
// lexical signal does, at a cost of microseconds a text with no model,
// no network and no GPU. It is far weaker than the model it comes from;
// its use is the zero-configuration default, fused with BM25.
type Static struct {
	name   string
	dims   int
	vocab  map[string]int32
	scales []float32 // one per token
	table  []int8    // vocabulary × dims, row-major, each row × its scale
}

// staticMagic starts a table file; the version is in the name.
const staticMagic = "memproxy-static-embeddings-v1\n"

// ParseStatic reads a table: staticMagic; the name of the embedding space,
// a line; uint32 little-endian token count and dimension; the tokens, one
// a line; then per token a float32 scale and dims int8 components.
func ParseStatic(data []byte) (*Static, error) {
	rest, ok := bytes.CutPrefix(data, []byte(staticMagic))
	if !ok {
		return nil, errors.New("static embeddings: not a memproxy table")
	}
	name, rest, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || len(rest) < 8 {
		return nil, errors.New("static embeddings: truncated header")
	}
	n, dims := int(binary.LittleEndian.Uint32(rest)), int(binary.LittleEndian.Uint32(rest[4:]))
	rest = rest[8:]
	if n <= 0 || dims <= 0 || dims > 4096 {
		return nil, fmt.Errorf("static embeddings: %d tokens of %d dimensions", n, dims)
	}
	s := &Static{name: string(name), dims: dims, vocab: make(map[string]int32, n)}
	for i := range n {
		tok, r, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("static embeddings: vocabulary ends at token %d of %d", i, n)
		}
		s.vocab[string(tok)] = int32(i)
		rest = r
	}
	if len(rest) != n*(4+dims) {
		return nil, fmt.Errorf("static embeddings: %d bytes of vectors, want %d", len(rest), n*(4+dims))
	}
	s.scales = make([]float32, n)
	s.table = make([]int8, n*dims)
	for i := range n {
		row := rest[i*(4+dims):]
		s.scales[i] = math.Float32frombits(binary.LittleEndian.Uint32(row))
		for j := range dims {
			s.table[i*dims+j] = int8(row[4+j])
		}
	}
	return s, nil
}

func (s *Static) Dimensions() int { return s.dims }
func (s *Static) Name() string    { return s.name }

func (s *Static) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	acc := make([]float64, s.dims)
	for i, t := range texts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clear(acc)
		for _, id := range wordPiece(s.vocab, t) {
			row, scale := s.table[int(id)*s.dims:][:s.dims], float64(s.scales[id])
			for j, x := range row {
				acc[j] += float64(x) * scale
			}
		}
		out[i] = unit(acc)
	}
	return out, nil
}

// unit returns v scaled to length 1, or zeros if v is zero.
func unit(v []float64) []float32 {
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, len(v))
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// FusionWeight is the weight of this embedder's ranking when fused with
// BM25's (see memory.SearchRequest.DenseWeight and memory.WeightedRRFK):
// 0.3. Its similarity finds what words alone miss, but ranks less well
// than BM25 on what they find; weighted equally it pulled good lexical
// matches down (LoCoMo dev set, recall@10 without photo captions: 0.554
// equal at k 60, 0.572 at 0.3 and k 20, BM25 alone 0.567).
func (s *Static) FusionWeight() float64 { return 0.3 }

// RelevanceFloor is 0, no floor: averaged static vectors cannot tell
// related from unrelated by a threshold (unrelated texts score up to
// about 0.33, a workout question and a half-marathon goal 0.26), and a
// floor that drops the user's goal is worse than one memory too many.
// A policy sets one with min_score (0.35 keeps out most unrelated texts,
// and some related ones).
func (s *Static) RelevanceFloor() float64 { return 0 }

//go:embed tables/minilm-l6-128.bin
var minilmTable []byte

// NewStatic returns the built-in static embedder: 128 dimensions distilled
// from all-MiniLM-L6-v2 (tables/distill.py), in the binary.
func NewStatic() *Static {
	s, err := ParseStatic(minilmTable)
	if err != nil {
		panic("embed: the built-in table is corrupt: " + err.Error()) // a build defect, caught by the tests
	}
	return s
}
