package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

func testCRUD(t *testing.T, s memory.Store) {
	m := mem(1, "Goal: half marathon by June", memory.Scope{UserID: "sarah"}, map[string]any{"type": "profile"}, "fitness")
	mustAdd(t, s, m)

	got, err := s.Get(ctx(t), m.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Text != m.Text || got.UserID != "sarah" || got.Hash != m.Hash || got.Metadata["type"] != "profile" ||
		!slices.Equal(got.Categories, []string{"fitness"}) || !got.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("Get = %+v, want %+v", got, m)
	}
	if len(got.Vector) != Dims || math.Abs(memory.Cosine(got.Vector, m.Vector)-1) > 1e-4 {
		t.Errorf("Get returned a different vector")
	}

	other := mem(3, "another", memory.Scope{UserID: "sarah"}, nil)
	if err := s.Add(ctx(t), other, m); !errors.Is(err, memory.ErrExists) {
		t.Errorf("adding an existing id: %v, want ErrExists", err)
	}
	if _, err := s.Get(ctx(t), other.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("a failed Add wrote part of its batch")
	}

	m.Text, m.Hash, m.UpdatedAt = "Goal: full marathon by October", memory.Hash("Goal: full marathon by October"), clock.Add(time.Hour)
	m.Vector = Vec(99)
	if err := s.Update(ctx(t), m); err != nil {
		t.Fatalf("Update: %v", err)
	}
	got, _ = s.Get(ctx(t), m.ID)
	if got.Text != m.Text || !got.UpdatedAt.Equal(m.UpdatedAt) {
		t.Errorf("after Update: %+v", got)
	}
	hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: Vec(99), Filter: memory.UserFilter("sarah"), TopK: 1, Fresh: true})
	if err != nil || len(hits) != 1 || hits[0].Score < 0.999 {
		t.Errorf("search for the updated vector: %+v, %v", hits, err)
	}

	unknown := mem(2, "x", memory.Scope{UserID: "sarah"}, nil)
	if err := s.Update(ctx(t), unknown); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Update of an unknown id: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx(t), m.ID, "no-such-id"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx(t), m.ID); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if n, _ := s.Count(ctx(t), memory.Filter{}); n != 0 {
		t.Errorf("Count after Delete = %d", n)
	}
}

func testMetadata(t *testing.T, s memory.Store) {
	meta := map[string]any{
		"agent_id": "fitcoach_v1", "n": 3.5, "ok": true, "nested": map[string]any{"a": []any{"x", 1.0}},
		"quote": `he said "hi" \ bye`, "unicode": "☃ é 用户",
	}
	m := mem(1, `text with "quotes", \backslashes\ and unicode ☃`, memory.Scope{UserID: "u", AgentID: "a", RunID: "r", AppID: "p"}, meta, "c1", "c 2")
	mustAdd(t, s, m)
	got, err := s.Get(ctx(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Metadata) != fmt.Sprint(meta) || got.Text != m.Text || !slices.Equal(got.Categories, m.Categories) ||
		got.RunID != "r" || got.AppID != "p" || got.AgentID != "a" {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, m)
	}
	// Returned memories are copies: changing one changes nothing stored.
	got.Metadata["agent_id"] = "changed"
	again, _ := s.Get(ctx(t), m.ID)
	if again.Metadata["agent_id"] != "fitcoach_v1" {
		t.Errorf("changing a returned memory changed the store")
	}
	noMeta := mem(2, "no metadata", memory.Scope{UserID: "u"}, nil)
	mustAdd(t, s, noMeta)
	if got, err := s.Get(ctx(t), noMeta.ID); err != nil || len(got.Metadata) != 0 {
		t.Errorf("memory without metadata came back with %v, %v", got.Metadata, err)
	}
}
