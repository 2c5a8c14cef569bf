package learn_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

// TestGoldenOutboxV0 opens an outbox written by format 0 (see
// testdata/README.md), as an upgraded sidecar finds it, and drains it
// through the writer into a real embedded store: every queued turn must
// be read as it was written and learned into its scope.
func TestGoldenOutboxV0(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "outbox-v0.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "outbox.db"), golden, 0o600); err != nil {
		t.Fatal(err)
	}
	ob, err := learn.OpenOutbox(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if st := ob.Stats(); st.Pending != 4 || st.Dead != 1 {
		t.Fatalf("golden outbox: %+v, want 4 pending and 1 dead", st)
	}
	dead, err := ob.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
	want := learn.Turn{
		ID: "req_dana_1", Identity: memory.Identity{UserID: "dana", AgentID: "tutor"},
		UserMessages: []string{"My daughter Lea starts school in September."}, Time: at.Add(3 * time.Minute),
	}
	if len(dead) != 1 || !equalTurns(dead[0].Turn, want) || dead[0].Attempts != 1 || dead[0].LastError != "embedder failed: 503 Service Unavailable" {
		t.Fatalf("dead letters = %+v, want %+v after one attempt", dead, want)
	}

	e := embed.NewHash(0)
	st := newStore(t, e)
	w := learn.NewWriter(&learn.Service{Store: st, Embedder: e, MinChars: 8}, ob, learn.WriterConfig{}, quiet)
	drain := func() {
		// Stopped before it starts, the writer applies every turn that is
		// due and returns: no waiting on a clock.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w.Run(ctx, time.Hour)
	}
	drain()
	if st := ob.Stats(); st.Pending != 0 {
		t.Fatalf("after draining: %+v", st)
	}
	// The dead letter, retried, is learned too.
	if err := ob.Retry(dead[0].Seq); err != nil {
		t.Fatal(err)
	}
	drain()

	texts := func(f memory.Filter) []string {
		ms, err := st.List(context.Background(), f, memory.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Text)
		}
		slices.Sort(out)
		return out
	}
	for _, tt := range []struct {
		filter memory.Filter
		want   []string
	}{
		// Two turns of one conversation, with agent and run: the user's
		// statements (not the question, not the replies), facts about her,
		// as user memories of the run, for all her agents.
		{memory.And(memory.UserLayerFilter("sarah", "tutor"), memory.Eq(memory.FieldRunID, "run_42")), []string{
			"I prefer running in the early morning before work. I keep bees on weekends.",
			"I'm training for a half marathon in June.",
		}},
		{memory.UserFilter("mike"), []string{"I am vegetarian and allergic to peanuts."}},
		{memory.UserLayerFilter("dana", "another_agent"), []string{"My daughter Lea starts school in September."}},
		{memory.RelationshipFilter("dana", "tutor"), nil},
		// The default policy learns no persona from replies.
		{memory.PersonaFilter("fitcoach"), nil},
	} {
		if got := texts(tt.filter); !slices.Equal(got, tt.want) {
			t.Errorf("memories of %v = %q, want %q", tt.filter, got, tt.want)
		}
	}
	if n := count(t, st, memory.Filter{}); n != 4 {
		t.Errorf("%d memories in all, want 4", n)
	}
}

func equalTurns(a, b learn.Turn) bool {
	return a.ID == b.ID && a.Identity == b.Identity && slices.Equal(a.UserMessages, b.UserMessages) &&
		a.Assistant == b.Assistant && a.Time.Equal(b.Time)
}
