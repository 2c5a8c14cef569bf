// Package memtest holds the small helpers the memory packages' tests share:
// a real embedded store in a temporary directory, and counting what it holds.
package memtest

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embedded"
)

// NewStore opens an embedded store for e in a temporary directory, closed
// when the test ends.
func NewStore(t testing.TB, e memory.Embedder) memory.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), e.Dimensions(), e.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Count is how many memories of s match f.
func Count(t testing.TB, s memory.Store, f memory.Filter) int {
	t.Helper()
	n, err := s.Count(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
