package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

// freshStore records whether every read asked for read-your-writes.
type freshStore struct {
	memory.Store
	mu    sync.Mutex
	stale []string
}

func (f *freshStore) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	if !r.Fresh {
		f.mu.Lock()
		f.stale = append(f.stale, "Search")
		f.mu.Unlock()
	}
	return f.Store.Search(ctx, r)
}

func (f *freshStore) List(ctx context.Context, fl memory.Filter, p memory.Page) ([]memory.Memory, error) {
	if !p.Fresh {
		f.mu.Lock()
		f.stale = append(f.stale, "List")
		f.mu.Unlock()
	}
	return f.Store.List(ctx, fl, p)
}

func newManaged(t *testing.T) (*memory.Service, *freshStore) {
	t.Helper()
	e := embed.NewHash(0)
	st := &freshStore{Store: newStore(t, e)}
	t.Cleanup(func() {
		if len(st.stale) > 0 {
			t.Errorf("reads without read-your-writes: %v", st.stale)
		}
	})
	return &memory.Service{Store: st, Embedder: e}, st
}

func addText(t *testing.T, svc *memory.Service, scope memory.Scope, meta map[string]any, texts ...string) []string {
	t.Helper()
	var msgs []memory.Message
	for _, s := range texts {
		msgs = append(msgs, memory.Message{Role: "user", Content: s})
	}
	adder := &learn.Service{Store: svc.Store, Embedder: svc.Embedder, MinChars: 8}
	ev, err := adder.Add(context.Background(), memory.AddRequest{Scope: scope, Messages: msgs, Metadata: meta})
	if err != nil || len(ev) != len(texts) {
		t.Fatalf("adding %q: %+v, %v", texts, ev, err)
	}
	ids := make([]string, len(ev))
	for i, e := range ev {
		ids[i] = e.ID
	}
	return ids
}

func TestServiceSearchAndList(t *testing.T) {
	svc, _ := newManaged(t)
	ctx := context.Background()
	sarah := memory.Scope{UserID: "sarah"}
	addText(t, svc, memory.Scope{AgentID: "fitcoach_v1"}, nil, "I'm FitCoach - supportive and motivational")
	addText(t, svc, sarah, nil, "Completed 5K run in 28 minutes", "Goal: half marathon by June")
	addText(t, svc, memory.Scope{UserID: "mike"}, nil, "Bench press: 185 lbs x 10 reps")

	hits, err := svc.Search(ctx, memory.Query{Text: "5K run", Filter: memory.UserFilter("sarah"), TopK: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].Text != "Completed 5K run in 28 minutes" || hits[0].Score <= hits[1].Score {
		t.Fatalf("search in Sarah's scope: %+v", hits)
	}
	if hits[0].Vector != nil {
		t.Errorf("search returned vectors")
	}
	// A threshold drops what is not similar enough.
	hits, _ = svc.Search(ctx, memory.Query{Text: "5K run", Filter: memory.UserFilter("sarah"), TopK: 10, MinScore: 0.3})
	if len(hits) != 1 {
		t.Errorf("threshold 0.3 kept %d, want 1", len(hits))
	}
	either := memory.Or(memory.Eq(memory.FieldAgentID, "fitcoach_v1"), memory.UserFilter("sarah"))
	ms, total, err := svc.List(ctx, either, memory.Page{Limit: 2})
	if err != nil || len(ms) != 2 || total != 3 {
		t.Fatalf("list page: %d memories of %d, %v", len(ms), total, err)
	}
	for _, m := range ms {
		if m.UserID == "mike" {
			t.Errorf("Mike's memory in Sarah's and FitCoach's list")
		}
	}
	for _, q := range []memory.Query{
		{Text: " ", TopK: 1},
		{Text: "x", TopK: 0},
		{Text: "x", TopK: 1, MinScore: 2},
		{Text: "x", TopK: 1, Filter: memory.Eq("color", "red")},
	} {
		if _, err := svc.Search(ctx, q); !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("Search(%+v) = %v, want ErrInvalid", q, err)
		}
	}
}

func TestServiceUpdate(t *testing.T) {
	svc, st := newManaged(t)
	ctx := context.Background()
	ids := addText(t, svc, memory.Scope{UserID: "sarah"}, map[string]any{"type": "goal"}, "Goal: half marathon by June", "Runs 5K comfortably")

	text := "Goal: full marathon by October"
	expires := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	got, err := svc.Update(ctx, "req-1", memory.Change{ID: ids[0], Text: &text, Metadata: map[string]any{"type": "goal", "v": 2.0}, ExpiresAt: &expires})
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	m, _ := svc.Get(ctx, ids[0])
	if m.Text != text || m.Hash != memory.Hash(text) || m.Metadata["v"] != 2.0 || !m.ExpiresAt.Equal(expires) || !m.UpdatedAt.After(m.CreatedAt) && !m.UpdatedAt.Equal(m.CreatedAt) {
		t.Errorf("after update: %+v", m)
	}
	// The new text is what search finds: it was embedded again.
	hits, _ := svc.Search(ctx, memory.Query{Text: "full marathon October", Filter: memory.UserFilter("sarah"), TopK: 1})
	if len(hits) != 1 || hits[0].ID != ids[0] {
		t.Errorf("search after update: %+v", hits)
	}
	hist, err := svc.History(ctx, ids[0])
	if err != nil || len(hist) != 2 || hist[1].Event != memory.EventUpdate || hist[1].OldText != "Goal: half marathon by June" || hist[1].NewText != text || hist[1].RequestID != "req-1" {
		t.Errorf("history: %+v, %v", hist, err)
	}

	// All or none: one unknown id and nothing changes.
	other := "changed"
	if _, err := svc.Update(ctx, "", memory.Change{ID: ids[1], Text: &other}, memory.Change{ID: "nope", Text: &other}); !errors.Is(err, memory.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("update with an unknown id: %v", err)
	}
	if m, _ := st.Get(ctx, ids[1]); m.Text != "Runs 5K comfortably" {
		t.Errorf("a failed batch changed %s to %q", ids[1], m.Text)
	}
	empty := " "
	for name, cs := range map[string][]memory.Change{
		"nothing":    {{ID: ids[1]}},
		"empty text": {{ID: ids[1], Text: &empty}},
		"twice":      {{ID: ids[1], Text: &other}, {ID: ids[1], Text: &other}},
		"none":       nil,
	} {
		if _, err := svc.Update(ctx, "", cs...); !errors.Is(err, memory.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Clearing metadata with an empty map.
	if _, err := svc.Update(ctx, "", memory.Change{ID: ids[1], Metadata: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	if m, _ := svc.Get(ctx, ids[1]); m.Metadata != nil {
		t.Errorf("metadata not cleared: %v", m.Metadata)
	}
}

func TestServiceDeleteTakesTheHistory(t *testing.T) {
	svc, st := newManaged(t)
	ctx := context.Background()
	ids := addText(t, svc, memory.Scope{UserID: "sarah"}, nil, "Private fact one", "Private fact two")
	if err := svc.Delete(ctx, ids[0], "missing"); !errors.Is(err, memory.ErrNotFound) {
		t.Fatalf("delete with an unknown id: %v", err)
	}
	if _, err := st.Get(ctx, ids[0]); err != nil {
		t.Fatalf("a failed delete removed %s", ids[0])
	}
	if err := svc.Delete(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, ids[0]); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("deleted memory still readable: %v", err)
	}
	if rs, _ := st.History(ctx, ids[0]); len(rs) != 0 {
		t.Errorf("deleted memory left history: %+v", rs)
	}
	if _, err := svc.History(ctx, ids[0]); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("history of a deleted memory: %v, want not found", err)
	}
	if rs, _ := svc.History(ctx, ids[1]); len(rs) != 1 {
		t.Errorf("the other memory's history: %+v", rs)
	}
}

func TestServiceDeleteMatching(t *testing.T) {
	svc, st := newManaged(t)
	ctx := context.Background()
	// More than a page of Sarah's memories, a persona, and Mike.
	var texts []string
	for i := range 1203 {
		texts = append(texts, fmt.Sprintf("Sarah's fact number %d", i))
	}
	sarahIDs := addText(t, svc, memory.Scope{UserID: "sarah"}, nil, texts...)
	addText(t, svc, memory.Scope{UserID: "sarah", AgentID: "fitcoach_v1"}, nil, "Sarah in a coaching run")
	addText(t, svc, memory.Scope{AgentID: "fitcoach_v1"}, nil, "I'm FitCoach")
	mike := addText(t, svc, memory.Scope{UserID: "mike"}, nil, "Mike benches 185")

	if _, err := svc.DeleteMatching(ctx, memory.Filter{}); !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("delete with no filter: %v", err)
	}
	n, err := svc.DeleteMatching(ctx, memory.UserFilter("sarah"))
	if err != nil || n != 1204 {
		t.Fatalf("deleted %d, %v; want 1204", n, err)
	}
	if c := count(t, st, memory.UserFilter("sarah")); c != 0 {
		t.Errorf("%d of Sarah's memories left", c)
	}
	for _, id := range []string{sarahIDs[0], sarahIDs[1202]} {
		if rs, _ := st.History(ctx, id); len(rs) != 0 {
			t.Errorf("history of %s survived: %+v", id, rs)
		}
	}
	if c := count(t, st, memory.PersonaFilter("fitcoach_v1")); c != 1 {
		t.Errorf("the persona was deleted with Sarah")
	}
	if rs, _ := st.History(ctx, mike[0]); len(rs) != 1 {
		t.Errorf("Mike's history was touched")
	}
}

func TestServiceEntities(t *testing.T) {
	svc, _ := newManaged(t)
	ctx := context.Background()
	addText(t, svc, memory.Scope{AgentID: "fitcoach_v1"}, nil, "I'm FitCoach")
	addText(t, svc, memory.Scope{UserID: "sarah", RunID: "run-1"}, nil, "Sarah fact one", "Sarah fact two")
	addText(t, svc, memory.Scope{UserID: "mike", AppID: "gym"}, nil, "Mike fact one")
	es, err := svc.Entities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%s:%s:%d", e.Kind, e.Name, e.Memories))
		if e.CreatedAt.IsZero() || e.UpdatedAt.IsZero() {
			t.Errorf("%+v lacks times", e)
		}
	}
	want := "user:mike:1 user:sarah:2 agent:fitcoach_v1:1 app:gym:1 run:run-1:2"
	if strings.Join(got, " ") != want {
		t.Errorf("entities = %s, want %s", strings.Join(got, " "), want)
	}
	n, err := svc.DeleteEntity(ctx, memory.EntityRun, "run-1")
	if err != nil || n != 2 {
		t.Errorf("delete run: %d, %v", n, err)
	}
	if _, err := svc.DeleteEntity(ctx, memory.EntityRun, "run-1"); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("delete a run with no memories: %v", err)
	}
	if _, err := svc.DeleteEntity(ctx, "org", "x"); !errors.Is(err, memory.ErrInvalid) {
		t.Errorf("delete an unknown kind: %v", err)
	}
}

func TestFilterMentions(t *testing.T) {
	f := memory.And(memory.MetaEq("user_id", "x"), memory.Or(memory.Eq(memory.FieldText, "a"), memory.Not(memory.Eq(memory.FieldRunID, "r"))))
	if !f.Mentions(memory.FieldRunID) || f.Mentions(memory.FieldUserID) || (memory.Filter{}).Mentions(memory.FieldUserID) {
		t.Errorf("Mentions is wrong for %+v", f)
	}
}

// TestDeletingFindsExpiredMemories: an expired memory is invisible, but it
// is still on disk with its history until deleted, and "delete all of
// Sarah's memories" or a delete by its id must take it.
func TestDeletingFindsExpiredMemories(t *testing.T) {
	svc, st := newManaged(t)
	ctx := context.Background()
	ids := addText(t, svc, memory.Scope{UserID: "sarah"}, nil, "Sarah's live fact", "Sarah's old address", "Sarah's old phone")
	past := time.Now().Add(-time.Minute)
	for _, id := range ids[1:] {
		if _, err := svc.Update(ctx, "req", memory.Change{ID: id, ExpiresAt: &past}); err != nil {
			t.Fatal(err)
		}
	}
	if c := count(t, st, memory.UserFilter("sarah")); c != 1 {
		t.Fatalf("%d visible memories, want 1 (two expired)", c)
	}
	if err := svc.Delete(ctx, ids[2]); !errors.Is(err, memory.ErrNotFound) {
		t.Errorf("delete of an expired memory: %v, want not found", err)
	}
	if rs, _ := st.History(ctx, ids[2]); len(rs) != 0 {
		t.Errorf("deleting an expired memory by id left its history: %+v", rs)
	}
	n, err := svc.DeleteMatching(ctx, memory.UserFilter("sarah"))
	if err != nil || n != 2 {
		t.Fatalf("DeleteMatching = %d, %v; want the live and the remaining expired memory", n, err)
	}
	left, err := st.Scan(ctx, memory.UserFilter("sarah"), "", 10)
	if err != nil || len(left) != 0 {
		t.Errorf("after deleting all of Sarah's memories, %d remain on disk (%v)", len(left), err)
	}
	for _, id := range ids {
		if rs, _ := st.History(ctx, id); len(rs) != 0 {
			t.Errorf("history of %s survived: %+v", id, rs)
		}
	}
}

// TestExpiredMemoriesArePurged: an expiry means the data is gone, not
// only hidden. The sweep deletes expired memories with their history and
// leaves the rest, whoever they belong to.
func TestExpiredMemoriesArePurged(t *testing.T) {
	svc, st := newManaged(t)
	ctx := context.Background()
	sarah := addText(t, svc, memory.Scope{UserID: "sarah"}, nil, "Sarah's live fact", "Sarah's old address")
	mike := addText(t, svc, memory.Scope{UserID: "mike"}, nil, "Mike's old phone", "Mike's live fact")
	past := time.Now().Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	for _, c := range []memory.Change{{ID: sarah[1], ExpiresAt: &past}, {ID: mike[0], ExpiresAt: &past}, {ID: mike[1], ExpiresAt: &future}} {
		if _, err := svc.Update(ctx, "req", c); err != nil {
			t.Fatal(err)
		}
	}
	n, err := svc.PurgeExpired(ctx, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want the 2 expired memories", n, err)
	}
	left, err := st.Scan(ctx, memory.Filter{}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range left {
		got = append(got, m.Text)
	}
	if len(got) != 2 || !strings.Contains(strings.Join(got, "|"), "Sarah's live fact") || !strings.Contains(strings.Join(got, "|"), "Mike's live fact") {
		t.Errorf("after the purge, stored: %q; want the two live facts", got)
	}
	for _, id := range []string{sarah[1], mike[0]} {
		if rs, _ := st.History(ctx, id); len(rs) != 0 {
			t.Errorf("the history of purged memory %s survived: %+v", id, rs)
		}
	}
	if rs, _ := st.History(ctx, sarah[0]); len(rs) == 0 {
		t.Errorf("the history of a live memory was purged")
	}
	// Once the later expiry passes, the sweep takes that one too.
	if n, err := svc.PurgeExpired(ctx, future.Add(time.Second)); err != nil || n != 1 {
		t.Errorf("PurgeExpired an hour later = %d, %v; want Mike's memory that expired then", n, err)
	}
}

// TestSweepRunsUntilCancelled: the sweep purges on its interval and stops
// when its context ends.
// TestSweepRunsUntilCancelled runs in a synctest bubble: the sweep's
// ticker and the expiry run on the bubble's fake clock, and the test
// checks the store each time the sweep is idle.
func TestSweepRunsUntilCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc, st := newManaged(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			svc.SweepExpired(ctx, 10*time.Millisecond, nil)
			close(done)
		}()
		ids := addText(t, svc, memory.Scope{UserID: "sarah"}, nil, "Sarah's old address")
		soon := time.Now().Add(50 * time.Millisecond)
		if _, err := svc.Update(context.Background(), "req", memory.Change{ID: ids[0], ExpiresAt: &soon}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			synctest.Wait() // the sweep is idle, waiting for its ticker
			left, err := st.Scan(context.Background(), memory.Filter{}, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the sweep left an expired memory on disk for 5s")
			}
			time.Sleep(10 * time.Millisecond) // fake time: the next tick
		}
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("SweepExpired did not return after its context was cancelled")
		}
	})
}
