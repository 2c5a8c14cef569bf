package storetest

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// Vec returns a deterministic unit vector for seed.
func Vec(seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 42))
	v := make([]float32, Dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return memory.Normalize(v)
}

var clock = time.Date(2025, 1, 23, 10, 0, 0, 0, time.UTC)

// mem builds a memory; n orders creation times.
func mem(n int, text string, scope memory.Scope, meta map[string]any, cats ...string) memory.Memory {
	t := clock.Add(time.Duration(n) * time.Minute)
	return memory.Memory{
		ID: memory.NewID(), Text: text, Hash: memory.Hash(text),
		UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID, AppID: scope.AppID,
		Metadata: meta, Categories: cats, CreatedAt: t, UpdatedAt: t, Vector: Vec(uint64(n)),
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustAdd(t *testing.T, s memory.Store, ms ...memory.Memory) {
	t.Helper()
	if err := s.Add(ctx(t), ms...); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	sort.Strings(out)
	return out
}

func memID(m memory.Memory) string { return m.ID }
func hitID(h memory.Hit) string    { return h.ID }

func texts(ms []memory.Memory, ids []string) []string {
	var out []string
	for _, id := range ids {
		for _, m := range ms {
			if m.ID == id {
				out = append(out, m.Text)
			}
		}
	}
	return out
}

// idsInOrder returns the ids of ms as they come.
func idsInOrder(ms []memory.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
