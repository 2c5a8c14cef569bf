package milvus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
)

// TestPastTheQueryWindow proves that one user with more memories than one
// Milvus query returns (16,384) can be listed newest first, counted,
// found among the entities and deleted with their history; and that the
// 10 newest of them are listed without reading them all.
func TestPastTheQueryWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 17,000 memories")
	}
	eachServer(t, func(t *testing.T, addr string) {
		const dims = 4
		s := openStore(t, addr, Config{Dims: dims, Space: "test-space-4"})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		start := time.Now()

		const n = maxWindow + 600
		r := rand.New(rand.NewPCG(5, 6))
		base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		ms := make([]memory.Memory, n)
		for i := range ms {
			created := base.Add(time.Duration(r.IntN(1_000_000)) * time.Second)
			text := fmt.Sprintf("fact %d", i)
			ms[i] = memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: "heavy",
				CreatedAt: created, UpdatedAt: created, Vector: []float32{1, float32(i%7) / 7, 0, 0.5}}
		}
		ms[0].RunID, ms[1].AgentID = "run-1", "coach"
		bystander := memory.Memory{ID: memory.NewID(), Text: "Sarah's goal", UserID: "sarah", AgentID: "coach",
			CreatedAt: base, UpdatedAt: base, Vector: []float32{0, 1, 0, 0}}
		for chunk := range slices.Chunk(append(ms, bystander), 2000) {
			if err := s.Add(ctx, chunk...); err != nil {
				t.Fatal(err)
			}
		}
		var history []memory.HistoryRecord
		for _, m := range append(ms[:1000:1000], bystander) {
			history = append(history, memory.HistoryRecord{ID: memory.NewID(), MemoryID: m.ID, Event: memory.EventAdd,
				NewText: m.Text, UserID: m.UserID, CreatedAt: m.CreatedAt})
		}
		for chunk := range slices.Chunk(history, 500) {
			if err := s.AddHistory(ctx, chunk...); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("added %d memories in %v", n+1, time.Since(start).Round(time.Millisecond))

		newest := slices.Clone(ms)
		slices.SortFunc(newest, listingOrder)
		var rows atomic.Int64
		hook(t, s, &hookedClient{queried: func(rs milvusclient.ResultSet) { rows.Add(int64(rs.ResultCount)) }})
		same := func(a, b memory.Memory) bool { return a.ID == b.ID && a.Text == b.Text }
		// The chat path's recency recall reads a Bounded snapshot, which
		// may lag the writes by Milvus' graceful time: it goes last.
		for _, page := range []memory.Page{{Limit: 10, Fresh: true}, {Offset: 5000, Limit: 10, Fresh: true}, {Limit: 10}} {
			want := newest[page.Offset : page.Offset+page.Limit]
			var got []memory.Memory
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(500 * time.Millisecond) {
				rows.Store(0)
				got, err = s.List(ctx, memory.UserFilter("heavy"), page)
				if page.Fresh || (err == nil && slices.EqualFunc(got, want, same)) || time.Now().After(deadline) {
					break
				}
			}
			if err != nil {
				t.Errorf("List(%+v): %v", page, err)
				continue
			}
			if !slices.EqualFunc(got, want, same) {
				t.Errorf("List(%+v) = %v, want %v", page, texts(got), texts(want))
			}
			t.Logf("List(%+v) read %d rows", page, rows.Load())
			if page.Offset == 0 && rows.Load() > n/4 {
				t.Errorf("List(%+v) read %d rows of %d", page, rows.Load(), n)
			}
		}
		if got, err := s.Count(ctx, memory.UserFilter("heavy")); err != nil || got != n {
			t.Errorf("Count = %d, %v; want %d", got, err, n)
		}
		// Counted in Go: a substring filter.
		contains := memory.And(memory.UserFilter("heavy"), memory.Cmp(memory.FieldText, false, memory.OpContains, "fact 1"))
		wantContains := 0
		for i := range ms {
			if contains.Match(&ms[i]) {
				wantContains++
			}
		}
		if got, err := s.Count(ctx, contains); err != nil || got != wantContains {
			t.Errorf("Count(substring) = %d, %v; want %d", got, err, wantContains)
		}

		svc := &memory.Service{Store: s}
		es, err := svc.Entities(ctx)
		if err != nil {
			t.Errorf("Entities: %v", err)
		}
		found := map[string]int{}
		for _, e := range es {
			found[e.Kind+" "+e.Name] = e.Memories
		}
		want := map[string]int{"user heavy": n, "user sarah": 1, "agent coach": 2, "run run-1": 1}
		if fmt.Sprint(found) != fmt.Sprint(want) {
			t.Errorf("Entities = %v, want %v", found, want)
		}

		t.Logf("listed and counted in %v", time.Since(start).Round(time.Millisecond))
		deleted, err := svc.DeleteEntity(ctx, memory.EntityUser, "heavy")
		if err != nil || deleted != n {
			t.Fatalf("DeleteEntity = %d, %v; want %d", deleted, err, n)
		}
		t.Logf("deleted in %v", time.Since(start).Round(time.Millisecond))
		if got, err := s.Count(ctx, memory.UserFilter("heavy")); err != nil || got != 0 {
			t.Errorf("after the delete, Count = %d, %v; want 0", got, err)
		}
		// Each a Strong read: every 20th of the memories with history.
		for i := 0; i < 1000; i += 20 {
			if h, err := s.History(ctx, ms[i].ID); err != nil || len(h) != 0 {
				t.Fatalf("after the delete, the history of %s is %d records, %v", ms[i].ID, len(h), err)
			}
		}
		if got, err := s.Get(ctx, bystander.ID); err != nil || got.Text != bystander.Text {
			t.Errorf("the bystander is %+v, %v", got, err)
		}
		if h, err := s.History(ctx, bystander.ID); err != nil || len(h) != 1 {
			t.Errorf("the bystander's history is %d records, %v", len(h), err)
		}
		t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
	})
}

func texts(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}
