package learn_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

// blindStore sees none of what is stored when it checks for duplicates:
// the view of a sidecar whose check ran just before another sidecar's add
// of the same fact landed. Only the store's own Add can tell.
type blindStore struct{ memory.Store }

func (blindStore) Get(context.Context, string) (memory.Memory, error) {
	return memory.Memory{}, memory.ErrNotFound
}

func (blindStore) List(context.Context, memory.Filter, memory.Page) ([]memory.Memory, error) {
	return nil, nil
}

func (blindStore) Search(context.Context, memory.SearchRequest) ([]memory.Hit, error) {
	return nil, nil
}

// TestRacingWritersStoreAFactOnce has two sidecars (two Services on one
// store) learn the same facts from different turns, and take the same API
// add, each blind to the other's write: every fact is one memory with one
// ADD record. With random or turn-derived ids each writer stored its own.
func TestRacingWritersStoreAFactOnce(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	ctx := context.Background()
	sidecars := []*learn.Service{
		{Store: blindStore{st}, Embedder: e, MinChars: 8},
		{Store: blindStore{st}, Embedder: e, MinChars: 8},
	}
	const facts = 20
	var wg sync.WaitGroup
	for n, svc := range sidecars {
		w := learn.NewWriter(svc, nil, learn.WriterConfig{}, quiet)
		wg.Go(func() {
			for i := range facts {
				tr := turn(fmt.Sprintf("turn-%d-on-%d", i, n), fmt.Sprint("user-", i%5), "", fmt.Sprintf("My locker number is %d.", i))
				if _, err := w.Apply(ctx, []learn.Turn{tr}); err != nil {
					t.Errorf("sidecar %d, turn %d: %v", n, i, err)
				}
			}
		})
		wg.Go(func() {
			// The same API add on both sidecars, with the text repeated
			// within the request too.
			ev, err := svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: "api"}, Messages: []memory.Message{
				{Role: "user", Content: "Prefers morning runs."}, {Role: "user", Content: "prefers  morning runs."},
			}})
			if err != nil || len(ev) != 2 {
				t.Errorf("API add on sidecar %d: %+v, %v", n, ev, err)
			}
		})
	}
	wg.Wait()

	ms, err := st.List(ctx, memory.Filter{}, memory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]int{}
	for _, m := range ms {
		texts[m.Text]++
		hs, err := st.History(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0].Event != memory.EventAdd {
			t.Errorf("memory %q has history %+v, want one ADD", m.Text, hs)
		}
	}
	if len(ms) != facts+1 || len(texts) != facts+1 {
		t.Errorf("%d memories (%d texts), want %d: %v", len(ms), len(texts), facts+1, texts)
	}
}

// TestContentIDSlots: a memory edited to say something else keeps its
// id; the fact it first said, learned again, takes the next slot.
func TestContentIDSlots(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	svc := &learn.Service{Store: st, Embedder: e, MinChars: 8}
	ctx := context.Background()
	sarah := memory.Scope{UserID: "sarah"}
	add := func(text string) memory.Event {
		t.Helper()
		ev, err := svc.Add(ctx, memory.AddRequest{Scope: sarah, Messages: []memory.Message{{Role: "user", Content: text}}})
		if err != nil || len(ev) != 1 {
			t.Fatalf("adding %q: %+v, %v", text, ev, err)
		}
		return ev[0]
	}
	first := add("Drinks green tea.")
	if want := memory.ContentID(sarah, "Drinks green tea.", 0); first.ID != want || first.Kind != memory.EventAdd {
		t.Fatalf("first add: %+v, want ADD of %s", first, want)
	}
	m, err := st.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	m.Text, m.Hash = "Drinks black coffee.", memory.Hash("Drinks black coffee.")
	if err := st.Update(ctx, m); err != nil {
		t.Fatal(err)
	}
	again := add("drinks green tea.")
	if want := memory.ContentID(sarah, "Drinks green tea.", 1); again.ID != want || again.Kind != memory.EventAdd {
		t.Errorf("the fact again after its memory changed: %+v, want ADD of %s", again, want)
	}
	if third := add("Drinks green tea."); third.ID != again.ID || third.Kind != memory.EventNone {
		t.Errorf("the fact a third time: %+v, want NONE of %s", third, again.ID)
	}
	if n, _ := st.Count(ctx, memory.UserFilter("sarah")); n != 2 {
		t.Errorf("%d memories, want 2", n)
	}
}
