package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

// BenchmarkSearch700 searches one user's 700 memories among 20 users',
// as the chat path does: by vector alone (Text ""), and hybrid (vector
// and BM25 on the text, fused).
func BenchmarkSearch700(b *testing.B) {
	e := embed.NewStatic()
	st, err := Open(b.TempDir(), e.Dimensions(), e.Name())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(1, 2))
	subjects := []string{"Sarah", "my sister", "the team", "our dog", "my coach", "the kids", "my manager"}
	verbs := []string{"ran a half marathon", "started a pottery class", "moved to Lisbon", "adopted a cat", "twisted an ankle", "painted a sunrise", "booked a trip to Japan", "learned to bake sourdough"}
	when := []string{"last week", "in June", "on Sunday", "this morning", "two years ago", "after work"}
	ctx := context.Background()
	now := time.Now()
	var ms []memory.Memory
	for u := range 20 {
		for i := range 700 {
			text := fmt.Sprintf("%s %s %s (%d)", subjects[r.IntN(len(subjects))], verbs[r.IntN(len(verbs))], when[r.IntN(len(when))], i)
			vs, _ := e.Embed(ctx, []string{text})
			ms = append(ms, memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: fmt.Sprintf("u%d", u), CreatedAt: now, UpdatedAt: now, Vector: vs[0]})
		}
	}
	if err := st.Add(ctx, ms...); err != nil {
		b.Fatal(err)
	}
	query := "When did my sister run the half marathon?"
	qv, _ := e.Embed(ctx, []string{query})
	for _, c := range []struct{ name, text string }{{"dense", ""}, {"hybrid", query}} {
		b.Run(c.name, func(b *testing.B) {
			req := memory.SearchRequest{Vector: qv[0], Text: c.text, Filter: memory.UserFilter("u3"), TopK: 10, DenseWeight: memory.DenseWeight(e)}
			for b.Loop() {
				if hs, err := st.Search(ctx, req); err != nil || len(hs) != 10 {
					b.Fatalf("%d hits, %v", len(hs), err)
				}
			}
		})
	}
}
