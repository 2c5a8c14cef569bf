package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

func testExpiry(t *testing.T, s memory.Store) {
	live := mem(1, "still true", memory.Scope{UserID: "u"}, nil)
	live.ExpiresAt = time.Now().Add(time.Hour)
	dead := mem(2, "no longer true", memory.Scope{UserID: "u"}, nil)
	dead.ExpiresAt = time.Now().Add(-time.Minute)
	mustAdd(t, s, live, dead)
	if _, err := s.Get(ctx(t), dead.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Get of an expired memory: %v, want ErrNotFound", err)
	}
	got, _ := s.List(ctx(t), memory.UserFilter("u"), memory.Page{Fresh: true})
	if len(got) != 1 || got[0].ID != live.ID {
		t.Errorf("List shows %v, want only the live memory", texts([]memory.Memory{live, dead}, idsOf(got, memID)))
	}
	if n, _ := s.Count(ctx(t), memory.UserFilter("u")); n != 1 {
		t.Errorf("Count = %d, want 1", n)
	}
	hits, _ := s.Search(ctx(t), memory.SearchRequest{Vector: dead.Vector, Filter: memory.UserFilter("u"), TopK: 5, Fresh: true})
	if len(hits) != 1 || hits[0].ID != live.ID {
		t.Errorf("Search shows %d hits, want only the live memory", len(hits))
	}
	if g, _ := s.Get(ctx(t), live.ID); !g.ExpiresAt.Equal(live.ExpiresAt.Truncate(time.Millisecond)) && !g.ExpiresAt.Equal(live.ExpiresAt) {
		t.Errorf("ExpiresAt = %v, want %v", g.ExpiresAt, live.ExpiresAt)
	}
	// Deletion must find expired memories: invisible is not gone.
	all, err := s.Scan(ctx(t), memory.UserFilter("u"), "", 10)
	if err != nil || len(all) != 2 {
		t.Fatalf("Scan = %d memories, %v; want both, the expired one too", len(all), err)
	}
	if err := s.Delete(ctx(t), dead.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.Scan(ctx(t), memory.UserFilter("u"), "", 10); len(all) != 1 || all[0].ID != live.ID {
		t.Errorf("after deleting the expired memory, Scan = %d memories, want the live one", len(all))
	}
}
