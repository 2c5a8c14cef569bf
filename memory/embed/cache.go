package embed

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/memproxy/memproxy/memory"
)

// Cached remembers the vectors of the most recently embedded texts. The
// chat path embeds the user's latest message, which repeats across
// retries and regenerations; the cache saves that round trip. Concurrent
// misses for the same texts (two requests with one query) ask the
// embedder once, and share its answer.
type Cached struct {
	memory.Embedder
	vectors *lru.Cache[string, []float32]
	flights singleflight.Group
}

// NewCached wraps e with an LRU cache of size entries (at least 1).
func NewCached(e memory.Embedder, size int) *Cached {
	vectors, err := lru.New[string, []float32](max(size, 1))
	if err != nil {
		// lru.New fails only for a size below 1, excluded above.
		panic(fmt.Sprintf("embed: creating the cache: %v", err))
	}
	return &Cached{Embedder: e, vectors: vectors}
}

// FusionWeight is the wrapped embedder's (see memory.DenseWeight).
func (c *Cached) FusionWeight() float64 { return memory.DenseWeight(c.Embedder) }

// RelevanceFloor is the wrapped embedder's (see memory.RelevanceFloor).
func (c *Cached) RelevanceFloor() float64 { return memory.RelevanceFloor(c.Embedder) }

// Embed returns the cached vectors of texts, and embeds the others in one
// call to the wrapped embedder.
func (c *Cached) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var missing []string
	var missingAt []int
	for i, t := range texts {
		if v, ok := c.vectors.Get(t); ok {
			out[i] = v
			continue
		}
		missing = append(missing, t)
		missingAt = append(missingAt, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	vs, err := c.embedOnce(ctx, missing)
	if err != nil {
		return nil, err
	}
	for j, v := range vs {
		out[missingAt[j]] = v
	}
	return out, nil
}

// embedOnce embeds texts, joining a call already under way for the same
// texts. The call runs under the context of the caller that started it;
// if that caller gives up, the others, still waiting, start a call of
// their own rather than fail with its context's error.
func (c *Cached) embedOnce(ctx context.Context, texts []string) ([][]float32, error) {
	key := flightKey(texts)
	for {
		ch := c.flights.DoChan(key, func() (any, error) {
			vs, err := c.Embedder.Embed(ctx, texts)
			if err != nil {
				return nil, err
			}
			for i, v := range vs {
				c.vectors.Add(texts[i], v)
			}
			return vs, nil
		})
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r := <-ch:
			if r.Err != nil {
				if r.Shared && isContextError(r.Err) && ctx.Err() == nil {
					continue // the caller that started the call gave up; we did not
				}
				return nil, r.Err
			}
			return r.Val.([][]float32), nil
		}
	}
}

// flightKey names a list of texts unambiguously: each is prefixed with
// its length, so that no two lists share a key.
func flightKey(texts []string) string {
	var b strings.Builder
	for _, t := range texts {
		b.WriteString(strconv.Itoa(len(t)))
		b.WriteByte(':')
		b.WriteString(t)
	}
	return b.String()
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
