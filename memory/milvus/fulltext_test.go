package milvus

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

func TestFullTextVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v2.3.5-lite": false, "v2.4.17": false, "v2.5.0": true, "v2.6.2": true, "milvus_lite-3.2.2": true,
		"v3.0.0": true, "": false, "unknown": false,
	} {
		if got := fullTextVersion(v); got != want {
			t.Errorf("fullTextVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestFullTextDetection: Milvus Lite 3 gets a BM25 field and hybrid
// search; the standalone 2.3.5 runs dense-only, says so once in the log
// and in ReadyDetails, and is never sent a schema it cannot load.
func TestFullTextDetection(t *testing.T) {
	for name, addr := range storetest.MilvusServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &syncWriter{}
			s := openStore(t, addr, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
			details := s.ReadyDetails()["retrieval"]
			switch name {
			case "lite":
				if err := s.FullText(); err != nil || !strings.HasPrefix(details, "hybrid") {
					t.Errorf("Milvus Lite 3.2.2: FullText = %v, details %q; want hybrid", err, details)
				}
				if strings.Contains(logs.String(), "no hybrid search") {
					t.Errorf("a hybrid store warned: %s", logs.String())
				}
			case "standalone":
				err := s.FullText()
				if err == nil || !strings.Contains(err.Error(), "2.3.5") || !strings.HasPrefix(details, "dense only") {
					t.Errorf("Milvus 2.3.5: FullText = %v, details %q; want dense only, naming the version", err, details)
				}
				if n := strings.Count(logs.String(), "no hybrid search"); n != 1 {
					t.Errorf("the dense-only warning was logged %d times, want once:\n%s", n, logs.String())
				}
			}
		})
	}
}

// TestOldCollectionRunsDenseOnly: a collection created before full-text
// search (no BM25 field) on a server that has it is kept as it is — not
// recreated, its memories intact — and searched by vector, with a start-up
// warning naming the collection and the migration.
func TestOldCollectionRunsDenseOnly(t *testing.T) {
	addr := storetest.MilvusServers(t)["lite"]
	if addr == "" {
		t.Skip("needs a server with full-text search (Milvus Lite)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	coll := oldCollection(t, c)
	logs := &syncWriter{}
	s := openStore(t, addr, Config{Collection: coll, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	err = s.FullText()
	if err == nil || !strings.Contains(err.Error(), coll) || !strings.Contains(err.Error(), MigrationDoc) {
		t.Errorf("FullText = %v; want dense only, naming the collection and the migration", err)
	}
	if !strings.Contains(logs.String(), coll) || !strings.Contains(logs.String(), "no hybrid search") {
		t.Errorf("no start-up warning naming %s:\n%s", coll, logs.String())
	}
	have, err := c.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(coll))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range have.Schema.Fields {
		if f.Name == fieldSparse {
			t.Errorf("the old collection was given a BM25 field")
		}
	}
	m := memory.Memory{ID: memory.NewID(), Text: "quokka", UserID: "u", Vector: storetest.Vec(1)}
	if err := s.Add(ctx, m); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Search(ctx, memory.SearchRequest{Vector: storetest.Vec(1), Text: "quokka", Filter: memory.UserFilter("u"), TopK: 1, Fresh: true})
	if err != nil || len(hits) != 1 || hits[0].Score < 0.999 {
		t.Errorf("search with text on the old collection = %+v, %v; want the memory by vector, score 1", hits, err)
	}
}

// oldCollection creates a memory collection with the schema of memproxy
// before full-text search, and returns its name.
func oldCollection(t *testing.T, c *milvusclient.Client) string {
	t.Helper()
	coll := uniqueName("memproxy_old_")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := ensureCollection(ctx, c, memorySchema(coll, storetest.Dims), vectorIndex{fieldVector, index.NewHNSWIndex(entity.COSINE, 16, 200), entity.COSINE}); err != nil {
		t.Fatal(err)
	}
	return coll
}

// TestCopyToMigrates: copying an old collection into a new one moves every
// memory (an expired one too) with its vector and history, and the copy
// is searched by text; a second copy adds nothing.
func TestCopyToMigrates(t *testing.T) {
	addr := storetest.MilvusServers(t)["lite"]
	if addr == "" {
		t.Skip("needs a server with full-text search (Milvus Lite)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	old := openStore(t, addr, Config{Collection: oldCollection(t, c)})
	old.pages.full = 3 // several pages
	var ms []memory.Memory
	for i, text := range []string{"quokka sonata", "green tea", "blue car", "red kite", "old piano", "expired note"} {
		m := memory.Memory{ID: memory.NewID(), Text: text, UserID: "u", Vector: storetest.Vec(uint64(i))}
		if text == "expired note" {
			m.ExpiresAt = time.Now().Add(-time.Hour)
		}
		ms = append(ms, m)
	}
	if err := old.Add(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	rec := memory.HistoryRecord{ID: "h1", MemoryID: ms[0].ID, Event: memory.EventAdd, NewText: ms[0].Text, CreatedAt: time.Unix(1700000000, 0).UTC()}
	if err := old.AddHistory(ctx, rec); err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, addr, Config{})
	if dst.FullText() != nil {
		t.Fatalf("the new collection is not hybrid: %v", dst.FullText())
	}
	n, err := old.CopyTo(ctx, dst)
	if err != nil || n != len(ms) {
		t.Fatalf("CopyTo = %d, %v; want %d", n, err, len(ms))
	}
	stored, err := dst.Scan(ctx, memory.Filter{}, "", 100)
	if err != nil || len(stored) != len(ms) {
		t.Fatalf("the copy holds %d memories (%v), want %d", len(stored), err, len(ms))
	}
	got, err := dst.Get(ctx, ms[0].ID)
	if err != nil || got.Text != ms[0].Text || !slices.Equal(got.Vector, ms[0].Vector) {
		t.Errorf("copied memory = %+v, %v; want %+v", got, err, ms[0])
	}
	if hs, err := dst.History(ctx, ms[0].ID); err != nil || len(hs) != 1 || hs[0].ID != "h1" {
		t.Errorf("copied history = %+v, %v", hs, err)
	}
	// Far by vector, found by its words.
	hits, err := dst.Search(ctx, memory.SearchRequest{Vector: storetest.Vec(99), Text: "quokka", Filter: memory.UserFilter("u"), TopK: 1, MinScore: 0.99, Fresh: true})
	if err != nil || len(hits) != 1 || hits[0].ID != ms[0].ID {
		t.Errorf("search by text in the copy = %+v, %v", hits, err)
	}
	if n, err := old.CopyTo(ctx, dst); err != nil || n != 0 {
		t.Errorf("a second CopyTo = %d, %v; want 0", n, err)
	}
}

// TestInexactFilterFusesHere: the hybrid conformance case with a
// case-insensitive substring filter takes the path that fuses in Go.
func TestInexactFilterFusesHere(t *testing.T) {
	f := memory.And(memory.UserFilter("u"), memory.Not(memory.Cmp(memory.FieldText, false, memory.OpIContains, "LESSON")))
	if compile(f).exact {
		t.Fatal("the filter of storetest's InexactFilter case is exact in Milvus: its fusion in Go is untested")
	}
}

// syncWriter is a log destination safe to read while the store writes.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
