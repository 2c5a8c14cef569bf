package storetest

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// queryEmbedder embeds a query as the suite's vectors are made, from a
// hash of its text.
type queryEmbedder struct{}

func (queryEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		h := fnv.New64a()
		h.Write([]byte(t))
		out[i] = Vec(h.Sum64() % 1000)
	}
	return out, nil
}
func (queryEmbedder) Dimensions() int { return Dims }
func (queryEmbedder) Name() string    { return "storetest" }

// weightedEmbedder is queryEmbedder with a FusionWeight, as the built-in
// embedders have: a Milvus search is then two calls fused in the sidecar.
type weightedEmbedder struct{ queryEmbedder }

func (weightedEmbedder) FusionWeight() float64 { return 0.3 }

var recallWords = []string{"violin", "tea", "beach", "kite", "piano", "desk", "garden", "river", "coffee", "train", "bread", "chess"}

// testRecallOneSearch is the differential test of memory.Retriever's one
// search for the user's layers against searching each layer apart (what
// every chat did before), on one user's memories in every layer, other
// agents' relationships, another user and a persona. What must hold is
// what searchUser promises:
//   - listings (no query): the same memories in the same order, whatever
//     the sizes (a layer pushed out of the one answer is listed alone);
//   - searches fused with BM25, when every layer's candidates fit in its
//     TopK: the same memories in every layer;
//   - always: every memory in a layer matches that layer's filter (the
//     user layer never holds another agent's relationship), and a layer
//     is as full as it is apart.
func testRecallOneSearch(t *testing.T, s memory.Store) {
	var ms []memory.Memory
	n := 0
	add := func(count int, scope memory.Scope, meta map[string]any) {
		for range count {
			n++
			// Unique texts (the first two words name n): the recall drops a
			// repeated text, whichever copy comes first.
			w := len(recallWords)
			text := fmt.Sprintf("%s %s %s", recallWords[n%w], recallWords[(n/w)%w], recallWords[(n*5+1)%w])
			ms = append(ms, mem(n, text, scope, meta))
		}
	}
	u := memory.Scope{UserID: "u"}
	add(5, memory.Scope{UserID: "u", RunID: "r1"}, nil) // the oldest: a listing of the user's newest leaves them out
	add(6, u, map[string]any{"agent_id": "a"})
	add(3, memory.Scope{UserID: "u", AgentID: "a"}, nil)
	add(4, u, map[string]any{"agent_id": "b"})
	add(30, u, nil)
	add(10, memory.Scope{UserID: "v"}, nil)
	add(3, memory.Scope{UserID: "v"}, map[string]any{"agent_id": "a"})
	add(4, memory.Scope{AgentID: "a"}, nil)
	mustAdd(t, s, ms...)
	// The recall reads as the chat path does, without waiting for recent
	// writes (Milvus' bounded staleness); one fresh read of the user's
	// memories first, so that both paths see every one of them and the
	// comparison is of the paths, not of when each one ran.
	if got, err := s.List(ctx(t), memory.UserFilter("u"), memory.Page{Fresh: true}); err != nil || len(got) != 48 {
		t.Fatalf("fresh listing of u: %d memories, %v; want 48", len(got), err)
	}

	id := memory.Identity{UserID: "u", AgentID: "a", RunID: "r1"}
	queries := []string{"", "violin tea", "garden river chess", "piano", "nothing shared"}
	type sizes struct {
		name                    string
		user, relationship, run memory.Limits
		same                    bool // every layer's candidates fit in its TopK
	}
	for _, sz := range []sizes{
		{"large TopK", memory.Limits{TopK: 40, MinScore: -1}, memory.Limits{TopK: 10, MinScore: -1}, memory.Limits{TopK: 6, MinScore: -1}, true},
		{"large TopK, floor", memory.Limits{TopK: 40, MinScore: 0.55}, memory.Limits{TopK: 10, MinScore: 0.55}, memory.Limits{TopK: 6, MinScore: 0.55}, true},
		{"small TopK", memory.Limits{TopK: 4, MinScore: -1}, memory.Limits{TopK: 3, MinScore: -1}, memory.Limits{TopK: 2, MinScore: -1}, false},
		{"small TopK, floor", memory.Limits{TopK: 4, MinScore: 0.55}, memory.Limits{TopK: 3, MinScore: 0.55}, memory.Limits{TopK: 2, MinScore: 0.55}, false},
	} {
		for _, e := range []memory.Embedder{queryEmbedder{}, weightedEmbedder{}} {
			apart := &memory.Retriever{Store: s, Embedder: e, SearchLayersApart: true}
			one := &memory.Retriever{Store: s, Embedder: e}
			same, total := 0, 0
			for _, q := range queries {
				req := memory.RecallRequest{Identity: id, Query: q, User: sz.user, Relationship: sz.relationship, Run: sz.run}
				want, err := apart.Recall(ctx(t), req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := one.Recall(ctx(t), req)
				if err != nil {
					t.Fatal(err)
				}
				where := fmt.Sprintf("%s, %T, query %q", sz.name, e, q)
				for _, l := range []struct {
					name      string
					filter    memory.Filter
					got, want []memory.Hit
				}{
					{"user", memory.UserLayerFilter("u", "a"), got.User, want.User},
					{"relationship", memory.RelationshipFilter("u", "a"), got.Relationship, want.Relationship},
					{"run", memory.RunFilter("u", "r1"), got.Run, want.Run},
				} {
					for _, h := range l.got {
						if !l.filter.Match(&h.Memory) {
							t.Errorf("%s: %s layer holds %q (user %q, agent %q, metadata %v), which its filter leaves out", where, l.name, h.Text, h.UserID, h.AgentID, h.Metadata)
						}
					}
					if len(l.got) != len(l.want) {
						t.Errorf("%s: %s layer has %d memories, %d apart", where, l.name, len(l.got), len(l.want))
					}
					gotIDs, wantIDs := idsOf(l.got, hitID), idsOf(l.want, hitID)
					total++
					if slices.Equal(gotIDs, wantIDs) {
						same++
					}
					switch {
					case q == "":
						if g, w := hitTexts(l.got), hitTexts(l.want); !slices.Equal(g, w) {
							t.Errorf("%s: listed %s layer %q, apart %q", where, l.name, g, w)
						}
					case sz.same && !slices.Equal(gotIDs, wantIDs):
						t.Errorf("%s: %s layer %q, apart %q", where, l.name, hitTexts(l.got), hitTexts(l.want))
					}
				}
			}
			t.Logf("%s, %T: %d of %d layers recalled the same memories as apart", sz.name, e, same, total)
		}
	}
}

func hitTexts(hs []memory.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Text
	}
	return out
}
