package milvus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// TestUnreachableAtStart proves that Open neither blocks past its connect
// timeout nor fails when nothing listens, and that calls then fail at once.
func TestUnreachableAtStart(t *testing.T) {
	start := time.Now()
	s, err := Open(context.Background(), Config{Address: "127.0.0.1:1", Collection: "c", Dims: 4, ConnectTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open with Milvus down: %v", err)
	}
	defer s.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v with a 300ms connect timeout", d)
	}
	if err := s.Ready(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ready = %v, want ErrUnavailable", err)
	}
	if d := s.ReadyDetails()["retrieval"]; !strings.HasPrefix(d, "not known") {
		t.Errorf("ReadyDetails before Milvus was reached = %q, want not known", d)
	}
	start = time.Now()
	_, err = s.Search(context.Background(), memory.SearchRequest{Vector: make([]float32, 4), Filter: memory.UserFilter("u"), TopK: 1})
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("Search while unavailable: %v after %v; want ErrUnavailable at once", err, time.Since(start))
	}
}
