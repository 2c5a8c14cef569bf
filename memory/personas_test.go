package memory_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

// countingStore counts the store's round trips of a recall: searches and
// listings.
type countingStore struct {
	memory.Store
	searches, lists atomic.Int64
}

func (c *countingStore) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	c.searches.Add(1)
	return c.Store.Search(ctx, r)
}

func (c *countingStore) List(ctx context.Context, f memory.Filter, p memory.Page) ([]memory.Memory, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, f, p)
}

func (c *countingStore) trips() int64 { return c.searches.Load() + c.lists.Load() }

// addRaw stores a memory as given, embedded with e.
func addRaw(t *testing.T, s memory.Store, e memory.Embedder, text string, scope memory.Scope, meta map[string]any) memory.Memory {
	t.Helper()
	vs, err := e.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: scope.UserID, AgentID: scope.AgentID,
		RunID: scope.RunID, AppID: scope.AppID, Metadata: meta, CreatedAt: now, UpdatedAt: now, Vector: vs[0]}
	if err := s.Add(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func hitTexts(hs []memory.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Text
	}
	return out
}

// TestRecallRoundTrips counts the store calls of a chat's recall with all
// four layers: one per layer searched apart (the path before the cache
// and the split), one for the user's layers and none for a cached
// persona after.
func TestRecallRoundTrips(t *testing.T) {
	e := embed.NewHash(0)
	st := &countingStore{Store: newStore(t, e)}
	addRaw(t, st, e, "I am FitCoach, supportive", memory.Scope{AgentID: "coach"}, nil)
	addRaw(t, st, e, "Goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	addRaw(t, st, e, "Inside joke about protein shakes", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "coach"})
	addRaw(t, st, e, "This run is about June training", memory.Scope{UserID: "sarah", RunID: "r1"}, nil)
	req := memory.RecallRequest{
		Identity: memory.Identity{UserID: "sarah", AgentID: "coach", RunID: "r1"}, Query: "half marathon training in June",
		Persona: memory.Limits{TopK: 5}, User: memory.Limits{TopK: 5}, Relationship: memory.Limits{TopK: 3}, Run: memory.Limits{TopK: 3},
	}
	apart := &memory.Retriever{Store: st, Embedder: e, SearchLayersApart: true}
	one := &memory.Retriever{Store: st, Embedder: e, Personas: memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})}
	trips := func(r *memory.Retriever) (int64, memory.Recalled) {
		before := st.trips()
		rec, err := r.Recall(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return st.trips() - before, rec
	}
	nApart, want := trips(apart)
	nFirst, got1 := trips(one)
	nNext, got2 := trips(one)
	t.Logf("store round trips per chat: layers apart %d; one search %d on a cold persona cache, %d warm", nApart, nFirst, nNext)
	if nApart != 4 || nFirst != 2 || nNext != 1 {
		t.Errorf("round trips: apart %d, cold %d, warm %d; want 4, 2, 1", nApart, nFirst, nNext)
	}
	for _, got := range []memory.Recalled{got1, got2} {
		for _, l := range []struct {
			name      string
			got, want []memory.Hit
		}{{"persona", got.Persona, want.Persona}, {"user", got.User, want.User}, {"relationship", got.Relationship, want.Relationship}, {"run", got.Run, want.Run}} {
			if g, w := hitTexts(l.got), hitTexts(l.want); !slices.Equal(g, w) || len(w) == 0 {
				t.Errorf("%s layer: %q, want %q (not empty)", l.name, g, w)
			}
		}
	}
}

// TestPersonaCacheRanksAsTheStore: the cache ranks a persona as the
// embedded store does (one implementation, memory.RankExact), scores
// included, for searches with and without a floor, and listings.
func TestPersonaCacheRanksAsTheStore(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	for i := range 40 {
		addRaw(t, st, e, fmt.Sprintf("persona fact %d: likes %s and %s", i, words[i%len(words)], words[(i*7+3)%len(words)]), memory.Scope{AgentID: "a"}, nil)
	}
	c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})
	ctx := context.Background()
	nonEmpty := 0
	for _, q := range []string{"running shoes", "protein and coffee", "nothing in common", "likes"} {
		vs, _ := e.Embed(ctx, []string{q})
		for _, floor := range []float64{0, 0.3} {
			req := memory.SearchRequest{Vector: vs[0], Text: q, DenseWeight: memory.DenseWeight(e), Filter: memory.PersonaFilter("a"), TopK: 7, MinScore: floor}
			want, err := st.Search(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := c.Search(ctx, "a", req, false)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			if len(want) > 0 {
				nonEmpty++
			}
			if !slices.EqualFunc(got, want, func(a, b memory.Hit) bool { return a.ID == b.ID && a.Score == b.Score }) {
				t.Errorf("%q floor %v: cache %q, store %q", q, floor, hitTexts(got), hitTexts(want))
			}
		}
	}
	if nonEmpty < 6 {
		t.Errorf("%d of 8 searches found anything: the comparison says little", nonEmpty)
	}
	ms, err := st.List(ctx, memory.PersonaFilter("a"), memory.Page{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := c.Search(ctx, "a", memory.SearchRequest{TopK: 5}, true)
	if err != nil || len(got) != 5 {
		t.Fatal(len(got), err)
	}
	for i := range ms {
		if got[i].ID != ms[i].ID || got[i].Vector != nil {
			t.Errorf("recent %d: %q, want %q without its vector", i, got[i].Text, ms[i].Text)
		}
	}
}

var words = []string{"running", "shoes", "protein", "coffee", "mornings", "trails", "swimming", "rest days", "stretching", "sleep", "hills"}

// TestPersonaCacheStaleness: a write through another process is seen once
// TTL has passed, not before; one through the InvalidatingStore at once,
// be it an add, an update or a delete.
func TestPersonaCacheStaleness(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e) // opened outside the bubble: its goroutines are not the test's
	synctest.Test(t, func(t *testing.T) {
		ttl := 5 * time.Second
		c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: ttl})
		through := &memory.InvalidatingStore{Store: st, Personas: c}
		ctx := context.Background()
		persona := func() []string {
			t.Helper()
			hs, ok, err := c.Search(ctx, "a", memory.SearchRequest{TopK: 10}, true)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			got := hitTexts(hs)
			slices.Sort(got)
			return got
		}
		first := addRaw(t, st, e, "first", memory.Scope{AgentID: "a"}, nil)
		if got := persona(); !slices.Equal(got, []string{"first"}) {
			t.Fatalf("persona = %q", got)
		}
		addRaw(t, st, e, "from another sidecar", memory.Scope{AgentID: "a"}, nil)
		time.Sleep(ttl - time.Second) // the bubble's fake clock: no real wait
		if got := persona(); !slices.Equal(got, []string{"first"}) {
			t.Errorf("within the TTL: %q, want the cached persona", got)
		}
		time.Sleep(time.Second) // fake clock, as above
		if got := persona(); !slices.Equal(got, []string{"first", "from another sidecar"}) {
			t.Errorf("after the TTL: %q, want the other sidecar's write", got)
		}
		addRaw(t, through, e, "through this sidecar", memory.Scope{AgentID: "a"}, nil)
		addRaw(t, through, e, "a user memory", memory.Scope{UserID: "u", AgentID: "a"}, nil)
		if got := persona(); !slices.Equal(got, []string{"first", "from another sidecar", "through this sidecar"}) {
			t.Errorf("after an add: %q", got)
		}
		first.Text, first.Hash = "first, updated", memory.Hash("first, updated")
		if err := through.Update(ctx, first); err != nil {
			t.Fatal(err)
		}
		if got := persona(); !slices.Contains(got, "first, updated") || slices.Contains(got, "first") {
			t.Errorf("after an update: %q", got)
		}
		if err := through.Delete(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		if got := persona(); !slices.Equal(got, []string{"from another sidecar", "through this sidecar"}) {
			t.Errorf("after a delete: %q", got)
		}
	})
}

// TestPersonaCacheBounds: at most MaxAgents personas are kept (the least
// recently used is listed again); a persona over MaxMemories is not
// cached, and recall searches the store for it with the same answer.
func TestPersonaCacheBounds(t *testing.T) {
	e := embed.NewHash(0)
	st := &countingStore{Store: newStore(t, e)}
	for _, a := range []string{"a", "b", "c"} {
		addRaw(t, st, e, "persona of "+a, memory.Scope{AgentID: a}, nil)
	}
	for i := range 3 {
		addRaw(t, st, e, fmt.Sprintf("big persona fact %d", i), memory.Scope{AgentID: "big"}, nil)
	}
	c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour, MaxAgents: 2, MaxMemories: 2})
	ctx := context.Background()
	lists := func(agents ...string) int64 {
		before := st.lists.Load()
		for _, a := range agents {
			if _, ok, err := c.Search(ctx, a, memory.SearchRequest{TopK: 1}, true); err != nil || !ok {
				t.Fatal(a, ok, err)
			}
		}
		return st.lists.Load() - before
	}
	if n := lists("a", "b", "a", "b"); n != 2 {
		t.Errorf("two agents, twice each: %d listings, want 2", n)
	}
	if n := lists("c", "a"); n != 2 {
		t.Errorf("a third agent pushes out the least recently used: %d listings, want 2", n)
	}
	r := &memory.Retriever{Store: st, Embedder: e, Personas: c}
	rec, err := r.Recall(ctx, memory.RecallRequest{Identity: memory.Identity{AgentID: "big"}, Query: "big persona fact", Persona: memory.Limits{TopK: 10}})
	if err != nil || len(rec.Persona) != 3 {
		t.Errorf("a persona over MaxMemories: recalled %q, %v; want its 3 memories from the store", hitTexts(rec.Persona), err)
	}
}

// TestPersonaCacheConcurrent recalls while writing through the store, for
// the race detector, and checks that the last write is seen once all are
// done.
func TestPersonaCacheConcurrent(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})
	through := &memory.InvalidatingStore{Store: st, Personas: c}
	r := &memory.Retriever{Store: through, Embedder: e, Personas: c}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 20 {
				addRaw(t, through, e, fmt.Sprintf("fact %d of writer %d", i, w), memory.Scope{AgentID: "a"}, nil)
				if _, err := r.Recall(context.Background(), memory.RecallRequest{Identity: memory.Identity{AgentID: "a"}, Query: "fact", Persona: memory.Limits{TopK: 3}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	hs, _, err := c.Search(context.Background(), "a", memory.SearchRequest{TopK: 1000}, true)
	if err != nil || len(hs) != 80 {
		t.Errorf("after the writes: %d memories, %v; want 80", len(hs), err)
	}
}

// gatedStore holds every listing until release is closed.
type gatedStore struct {
	*countingStore
	release chan struct{}
}

// List counts the listing when it starts, whether or not it finishes.

func (g gatedStore) List(ctx context.Context, f memory.Filter, p memory.Page) ([]memory.Memory, error) {
	g.lists.Add(1)
	select {
	case <-g.release:
		return g.countingStore.Store.List(ctx, f, p)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestPersonaLoadOutlivesItsCaller: a chat whose budget runs out while its
// agent's persona loads gives up at once, and the load still lands in the
// cache for the next chats: under a slow store the persona is listed once,
// not once per chat.
func TestPersonaLoadOutlivesItsCaller(t *testing.T) {
	e := embed.NewHash(0)
	counted := &countingStore{Store: newStore(t, e)}
	addRaw(t, counted, e, "persona", memory.Scope{AgentID: "a"}, nil)
	st := gatedStore{counted, make(chan struct{})}
	c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Search(ctx, "a", memory.SearchRequest{TopK: 1}, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller out of budget: %v, want context.Canceled", err)
	}
	close(st.release)
	for range 3 {
		hs, ok, err := c.Search(context.Background(), "a", memory.SearchRequest{TopK: 1}, true)
		if err != nil || !ok || len(hs) != 1 {
			t.Fatalf("next chat: %d hits, %v, %v", len(hs), ok, err)
		}
	}
	if n := counted.lists.Load(); n != 1 {
		t.Errorf("%d listings, want 1: the first caller's load is kept", n)
	}
}

// startedStore signals each persona listing as it starts, records
// whether it asked for a fresh read, and holds it until release closes.
type startedStore struct {
	memory.Store
	started chan bool // Page.Fresh of each listing, as it starts
	release chan struct{}
}

func (s startedStore) List(ctx context.Context, f memory.Filter, p memory.Page) ([]memory.Memory, error) {
	s.started <- p.Fresh
	select {
	case <-s.release:
		return s.Store.List(ctx, f, p)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestPersonaCacheReadsFreshAfterAWrite: the load that follows a write
// through this sidecar asks for a fresh read, so that a store's stale read
// cannot cache what the write replaced for a whole TTL; other loads do not.
func TestPersonaCacheReadsFreshAfterAWrite(t *testing.T) {
	e := embed.NewHash(0)
	inner := newStore(t, e)
	st := startedStore{inner, make(chan bool, 10), make(chan struct{})}
	close(st.release)
	c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})
	through := &memory.InvalidatingStore{Store: inner, Personas: c}
	ctx := context.Background()
	load := func() bool {
		t.Helper()
		if _, ok, err := c.Search(ctx, "a", memory.SearchRequest{TopK: 5}, true); err != nil || !ok {
			t.Fatal(ok, err)
		}
		select {
		case fresh := <-st.started:
			return fresh
		default:
			t.Fatal("no listing: the persona came from the cache")
			return false
		}
	}
	addRaw(t, inner, e, "persona", memory.Scope{AgentID: "a"}, nil)
	if load() {
		t.Error("first load: fresh read, want the store's cheaper one")
	}
	addRaw(t, through, e, "written here", memory.Scope{AgentID: "a"}, nil)
	if !load() {
		t.Error("load after a write through this sidecar: not fresh")
	}
	c.Invalidate("b")
	c.Invalidate("a")
	if !load() {
		t.Error("load after Invalidate: not fresh")
	}
}

// TestPersonaLoadAndDeletes: a load in flight is kept through deletes of
// memories it does not hold (the writer and the sweep delete user memories
// all the time) and dropped when it holds one, whose delete it may predate.
func TestPersonaLoadAndDeletes(t *testing.T) {
	e := embed.NewHash(0)
	inner := newStore(t, e)
	keep := addRaw(t, inner, e, "persona fact", memory.Scope{AgentID: "a"}, nil)
	gone := addRaw(t, inner, e, "retired persona fact", memory.Scope{AgentID: "a"}, nil)
	user := addRaw(t, inner, e, "a user memory", memory.Scope{UserID: "u"}, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		deleted memory.Memory
		relists bool
	}{
		{"a user memory deleted during the load", user, false},
		{"a persona memory deleted during the load", gone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := startedStore{inner, make(chan bool, 10), make(chan struct{})}
			c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})
			done := make(chan []memory.Hit)
			go func() {
				hs, _, _ := c.Search(ctx, "a", memory.SearchRequest{TopK: 5}, true)
				done <- hs
			}()
			<-st.started
			// The delete reaches the cache while the listing is held, as a
			// delete through this sidecar does when it lands during a slow
			// listing that has already read its rows.
			c.InvalidateIDs(tc.deleted.ID)
			close(st.release)
			<-done
			hs, ok, err := c.Search(ctx, "a", memory.SearchRequest{TopK: 5}, true)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			relisted := false
			select {
			case <-st.started:
				relisted = true
			default:
			}
			if relisted != tc.relists {
				t.Errorf("listed again: %v, want %v", relisted, tc.relists)
			}
			if !slices.ContainsFunc(hs, func(h memory.Hit) bool { return h.ID == keep.ID }) {
				t.Errorf("persona %q lacks %q", hitTexts(hs), keep.Text)
			}
		})
	}
}

// TestPersonaLoadsAreBounded: with maxPersonaLoads loads running (each
// may outlive its chat, and agent ids come from clients), a chat for one
// more agent does not start another: its persona is searched in the store.
func TestPersonaLoadsAreBounded(t *testing.T) {
	e := embed.NewHash(0)
	inner := newStore(t, e)
	addRaw(t, inner, e, "persona of the last agent", memory.Scope{AgentID: "last"}, nil)
	st := startedStore{inner, make(chan bool, 100), make(chan struct{})}
	c := memory.NewPersonaCache(st, memory.PersonaCacheOptions{TTL: time.Hour})
	const running = 64 // maxPersonaLoads
	var wg sync.WaitGroup
	for i := range running {
		wg.Go(func() {
			c.Search(context.Background(), fmt.Sprintf("agent-%d", i), memory.SearchRequest{TopK: 1}, true)
		})
	}
	for range running {
		<-st.started
	}
	_, ok, err := c.Search(context.Background(), "last", memory.SearchRequest{TopK: 1}, true)
	if err != nil || ok {
		t.Errorf("one load too many: ok %v, %v; want ok false (search the store), no error", ok, err)
	}
	close(st.release)
	wg.Wait()
	r := &memory.Retriever{Store: inner, Embedder: e, Personas: c}
	rec, err := r.Recall(context.Background(), memory.RecallRequest{Identity: memory.Identity{AgentID: "last"}, Query: "persona", Persona: memory.Limits{TopK: 1}})
	if err != nil || len(rec.Persona) != 1 {
		t.Errorf("once the loads are done: %q, %v", hitTexts(rec.Persona), err)
	}
}
