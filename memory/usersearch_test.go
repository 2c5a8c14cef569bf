package memory_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

// slowStore answers every search and listing after delay: in a synctest
// bubble, a recall's elapsed fake time counts its sequential round trips.
type slowStore struct {
	memory.Store
	delay time.Duration
}

func (s slowStore) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	time.Sleep(s.delay) // the bubble's clock: a round trip's time, no real wait
	return s.Store.Search(ctx, r)
}

func (s slowStore) List(ctx context.Context, f memory.Filter, p memory.Page) ([]memory.Memory, error) {
	time.Sleep(s.delay) // as above
	return s.Store.List(ctx, f, p)
}

// TestShortLayersSearchedAlongside: a user with more memories than the
// one search's margin and a single relationship memory with the agent.
// The one search comes back full without filling the relationship layer,
// which must then be searched alone: after it the first time (two round
// trips), alongside it from then on (one), with the relationship layer
// searching each layer apart gives; and without ShortLayers, two every
// time.
func TestShortLayersSearchedAlongside(t *testing.T) {
	e := embed.NewHash(0)
	inner := newStore(t, e) // opened outside the bubble
	for i := range 60 {
		addRaw(t, inner, e, fmt.Sprintf("training note %d about running", i), memory.Scope{UserID: "sarah"}, nil)
	}
	addRaw(t, inner, e, "inside joke about protein shakes", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "coach"})
	req := memory.RecallRequest{
		Identity: memory.Identity{UserID: "sarah", AgentID: "coach"}, Query: "running",
		User: memory.Limits{TopK: 10, MinScore: -1}, Relationship: memory.Limits{TopK: 5, MinScore: -1},
	}
	synctest.Test(t, func(t *testing.T) {
		const rtt = 10 * time.Millisecond
		st := slowStore{inner, rtt}
		elapsed := func(r *memory.Retriever) (time.Duration, memory.Recalled) {
			start := time.Now()
			rec, err := r.Recall(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			return time.Since(start), rec
		}
		_, want := elapsed(&memory.Retriever{Store: st, Embedder: e, SearchLayersApart: true})
		if len(want.Relationship) != 1 || len(want.User) != 10 {
			t.Fatalf("apart: %d relationship, %d user memories; want 1, 10", len(want.Relationship), len(want.User))
		}
		hinted := &memory.Retriever{Store: st, Embedder: e, ShortLayers: memory.NewShortLayers(0)}
		plain := &memory.Retriever{Store: st, Embedder: e}
		for i, tc := range []struct {
			r    *memory.Retriever
			what string
			rtts int
		}{
			{hinted, "first recall", 2}, {hinted, "second recall", 1}, {hinted, "third recall", 1},
			{plain, "without ShortLayers", 2},
		} {
			d, got := elapsed(tc.r)
			if d != time.Duration(tc.rtts)*rtt {
				t.Errorf("%d, %s: %v, want %d round trips (%v)", i, tc.what, d, tc.rtts, time.Duration(tc.rtts)*rtt)
			}
			// The relationship layer, one candidate, is the same as apart;
			// the user layer, whose 60 candidates all share the query's
			// word, is as full (its order may differ: see searchUser).
			if !slices.Equal(hitTexts(got.Relationship), hitTexts(want.Relationship)) || len(got.User) != len(want.User) {
				t.Errorf("%s: relationship %q and %d user memories; apart %q and %d", tc.what, hitTexts(got.Relationship), len(got.User),
					hitTexts(want.Relationship), len(want.User))
			}
		}
	})
}
