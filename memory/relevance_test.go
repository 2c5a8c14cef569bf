package memory_test

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

// TestRelevanceFloor: with the default limits (MinScore 0, the
// embedder's floor), a message unrelated to every memory recalls none,
// and a related one recalls what it is about, by words or by meaning.
func TestRelevanceFloor(t *testing.T) {
	for _, e := range []memory.Embedder{embed.NewStatic(), embed.NewHash(0)} {
		t.Run(e.Name(), func(t *testing.T) {
			st := newStore(t, e)
			svc := &learn.Service{Store: st, Embedder: e}
			ctx := context.Background()
			for _, text := range []string{
				"Sarah is training for a marathon in April",
				"Sarah is vegetarian",
				"Sarah's daughter Mia plays the violin",
				"Sarah works as a nurse on night shifts",
				"Sarah twisted her ankle last week",
			} {
				if _, err := svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: "sarah"}, Messages: []memory.Message{{Role: "user", Content: text}}}); err != nil {
					t.Fatal(err)
				}
			}
			r := &memory.Retriever{Store: st, Embedder: e}
			recall := func(q string) []memory.Hit {
				rec, err := r.Recall(ctx, memory.RecallRequest{Identity: memory.Identity{UserID: "sarah"}, Query: q, User: memory.Limits{TopK: 5}})
				if err != nil {
					t.Fatal(err)
				}
				return rec.User
			}
			for _, q := range []string{
				"What is the capital of Australia?",
				"Explain quantum computing in simple terms",
				"Write a haiku about autumn leaves",
				"How do I reverse a linked list in Python?",
			} {
				if hs := recall(q); len(hs) != 0 {
					t.Errorf("%q recalled %d memories (first %q, score %.3f), want none", q, len(hs), hs[0].Text, hs[0].Score)
				}
			}
			if hs := recall("How should I rest my ankle?"); len(hs) == 0 || hs[0].Text != "Sarah twisted her ankle last week" {
				t.Errorf("a question about her ankle recalled %v", hs)
			}
		})
	}
}
