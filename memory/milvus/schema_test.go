package milvus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

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
