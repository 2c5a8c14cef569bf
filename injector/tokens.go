package injector

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer/codec"
)

// The encodings a block's tokens are counted in. Their vocabularies are
// compiled into the binary (github.com/tiktoken-go/tokenizer ships them as
// Go source), so nothing is fetched at run time.
const (
	O200kBase  = "o200k_base"
	Cl100kBase = "cl100k_base"
)

// EncodingFor names the encoding a model counts tokens in: cl100k_base for
// gpt-4 (but not gpt-4o or gpt-4.1) and gpt-3.5; o200k_base for gpt-4o,
// gpt-4.1, the o-series and gpt-5, and for every model it does not know.
// o200k_base is the encoding of current models, and for other vendors'
// models no encoding is exact: o200k_base is the most likely to be close.
// A vendor prefix ("openai/gpt-4") and a fine-tune's "ft:" are ignored.
func EncodingFor(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	m = strings.TrimPrefix(m, "ft:")
	switch {
	case strings.HasPrefix(m, "gpt-4o"), strings.HasPrefix(m, "gpt-4.1"), strings.HasPrefix(m, "gpt-4.5"):
		return O200kBase
	case strings.HasPrefix(m, "gpt-4"), strings.HasPrefix(m, "gpt-3.5"), strings.HasPrefix(m, "gpt-35"):
		return Cl100kBase
	default:
		return O200kBase
	}
}

// The codecs, built on first use: building o200k_base's vocabulary takes
// a few hundred milliseconds, which a process that never counts in it
// should not pay. After that they are read only and safe for concurrent use.
var (
	o200k  = sync.OnceValue(codec.NewO200kBase)
	cl100k = sync.OnceValue(codec.NewCl100kBase)
)

// LoadEncoding builds encoding's vocabulary now (O200kBase or Cl100kBase;
// any other name loads O200kBase), so that the first request counted in
// it does not wait for it. It is safe to call more than once and from
// several goroutines.
func LoadEncoding(encoding string) {
	if encoding == Cl100kBase {
		cl100k()
		return
	}
	o200k()
}

// CountTokens returns the tokens text costs model, counted with the
// model's encoding (see EncodingFor).
func CountTokens(model, text string) int {
	return Count(EncodingFor(model), text)
}

// Count returns the tokens text costs in encoding (O200kBase or
// Cl100kBase; any other name counts in O200kBase).
func Count(encoding, text string) int {
	if text == "" {
		return 0
	}
	c := o200k()
	if encoding == Cl100kBase {
		c = cl100k()
	}
	n, err := c.Count(text)
	if err != nil {
		// The codec fails only if its pattern does (a match timeout,
		// which it does not set); never count low.
		return len(text)
	}
	return n
}
