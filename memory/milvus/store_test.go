package milvus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

// eachServer runs fn against every server, in parallel.
func eachServer(t *testing.T, fn func(t *testing.T, addr string)) {
	for name, addr := range storetest.MilvusServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, addr)
		})
	}
}

func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// openStore opens a store on a new collection of addr and drops the
// collection when the test ends.
func openStore(t *testing.T, addr string, cfg Config) *Store {
	t.Helper()
	cfg.Address = addr
	if cfg.Collection == "" {
		cfg.Collection = uniqueName("memproxy_test_")
	}
	if cfg.Dims == 0 {
		cfg.Dims, cfg.Space = storetest.Dims, "test-space"
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("store on %s not ready after Open: %v", addr, err)
	}
	t.Cleanup(func() {
		s.Close()
		dropCollections(t, addr, cfg.Collection)
	})
	return s
}

func dropCollections(t *testing.T, addr, coll string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		t.Errorf("dropping %s: %v", coll, err)
		return
	}
	defer c.Close(ctx)
	for _, name := range []string{coll, coll + "_history"} {
		if err := c.DropCollection(ctx, milvusclient.NewDropCollectionOption(name)); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	}
}

func TestConformance(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		storetest.Run(t, func(t *testing.T) memory.Store {
			return openStore(t, addr, Config{})
		}, storetest.Options{})
	})
}

// TestRefusesAnotherSchema proves that a collection written with another
// dimension or embedder is an error at start, and is left as it was.
func TestRefusesAnotherSchema(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		s := openStore(t, addr, Config{})
		ctx := context.Background()
		m := memory.Memory{ID: memory.NewID(), Text: "kept", UserID: "u", Vector: storetest.Vec(1)}
		if err := s.Add(ctx, m); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			dims  int
			space string
			want  string
		}{
			{storetest.Dims + 1, "test-space", "dimension"},
			{storetest.Dims, "other-space", "test-space"},
		} {
			s2, err := Open(ctx, Config{Address: addr, Collection: s.cfg.Collection, Dims: tc.dims, Space: tc.space, ConnectTimeout: 10 * time.Second})
			if err == nil {
				s2.Close()
				t.Fatalf("Open(%d, %q) on a collection of (%d, test-space) succeeded", tc.dims, tc.space, storetest.Dims)
			}
			if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "MEMPROXY_MILVUS_COLLECTION") {
				t.Errorf("Open(%d, %q): %v; want a schema mismatch naming %q and the setting", tc.dims, tc.space, err, tc.want)
			}
		}
		if got, err := s.Get(ctx, m.ID); err != nil || got.Text != "kept" {
			t.Errorf("after the refused opens, the memory is %+v, %v", got, err)
		}
	})
}

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
	start = time.Now()
	_, err = s.Search(context.Background(), memory.SearchRequest{Vector: make([]float32, 4), Filter: memory.UserFilter("u"), TopK: 1})
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("Search while unavailable: %v after %v; want ErrUnavailable at once", err, time.Since(start))
	}
}
