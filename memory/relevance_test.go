package memory_test

import (
	"context"
	"testing"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

// TestRelevanceFloor: with a floor (a policy's min_score), a message
// unrelated to every memory recalls none, and a related one recalls what
// it is about, by words or by meaning. Without one (the built-in
// embedders' default), the best memories come whatever the message.
func TestRelevanceFloor(t *testing.T) {
	for e, floor := range map[memory.Embedder]float64{embed.NewStatic(): 0.35, embed.NewHash(0): 0.15} {
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
			recallWith := func(q string, minScore float64) []memory.Hit {
				rec, err := r.Recall(ctx, memory.RecallRequest{Identity: memory.Identity{UserID: "sarah"}, Query: q, User: memory.Limits{TopK: 5, MinScore: minScore}})
				if err != nil {
					t.Fatal(err)
				}
				return rec.User
			}
			recall := func(q string) []memory.Hit { return recallWith(q, floor) }
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
			if memory.RelevanceFloor(e) != 0 {
				t.Errorf("built-in floor %v, want none", memory.RelevanceFloor(e))
			}
			if hs := recallWith("What is the capital of Australia?", 0); len(hs) != 5 {
				t.Errorf("no floor: recalled %d, want the 5 best", len(hs))
			}
		})
	}
}
