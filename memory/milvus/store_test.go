package milvus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	if cfg.HealthTimeout == 0 {
		// These tests are about what the store does, not how soon it
		// gives up on a server starved of CPU by other work.
		cfg.HealthTimeout = 15 * time.Second
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

// TestConformance runs the suite on every server; one without full-text
// search (see TestFullTextDetection) must answer searches with text as
// searches without.
func TestConformance(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		denseOnly := openStore(t, addr, Config{}).FullText() != nil
		storetest.Run(t, func(t *testing.T) memory.Store {
			return openStore(t, addr, Config{})
		}, storetest.Options{DenseOnly: denseOnly})
	})
}
