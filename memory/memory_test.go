package memory_test

import (
	"context"
	"errors"

	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
)

func newStore(t *testing.T, e memory.Embedder) memory.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), e.Dimensions(), e.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFilterValidate(t *testing.T) {
	good := []memory.Filter{
		{},
		memory.Eq(memory.FieldUserID, "x"),
		memory.MetaEq("k", 1.0),
		memory.Cmp(memory.FieldCreatedAt, false, memory.OpGte, time.Now()),
		memory.Cmp(memory.FieldCategories, false, memory.OpContains, "c"),
		memory.Or(memory.Eq(memory.FieldAgentID, "a"), memory.Not(memory.MetaEq("t", "x"))),
	}
	for _, f := range good {
		if err := f.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", f, err)
		}
	}
	bad := []struct {
		f    memory.Filter
		want string
	}{
		{memory.Eq("color", "x"), "unknown field"},
		{memory.Eq(memory.FieldUserID, 1.0), "want a string"},
		{memory.Cmp(memory.FieldUserID, false, memory.OpGt, "a"), "does not apply"},
		{memory.Cmp(memory.FieldCreatedAt, false, memory.OpGt, "yesterday"), "want a time"},
		{memory.Cmp("k", true, memory.OpGt, "a"), "wants a number"},
		{memory.Cmp("k", true, memory.OpIn, "a"), "wants a list"},
		{memory.Cmp("k", true, memory.OpContains, 1.0), "wants a string"},
		{memory.MetaEq("", "x"), "must not be empty"},
		{memory.Filter{Op: memory.OpAnd}, "at least one"},
		{memory.MetaEq("k", map[string]any{}), "unsupported value"},
	}
	for _, tt := range bad {
		err := tt.f.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tt.f, err, tt.want)
		}
	}
}

func TestRecallLayers(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	svc := &memory.Service{Store: st, Embedder: e}
	ctx := context.Background()
	add := func(text string, scope memory.Scope, meta map[string]any) {
		if _, err := svc.Add(ctx, memory.AddRequest{Scope: scope, Messages: []memory.Message{{Role: "user", Content: text}}, Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	add("I'm FitCoach - supportive, celebrates small wins", memory.Scope{AgentID: "fitcoach_v1"}, nil)
	add("I provide concrete metrics", memory.Scope{AgentID: "fitcoach_v2"}, nil)
	add("Goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	add("Inside joke: no pain, no protein shake", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1"})
	add("Sarah likes morning runs", memory.Scope{UserID: "sarah", AgentID: "fitcoach_v1"}, nil)
	add("Goal: half marathon by June", memory.Scope{AgentID: "fitcoach_v1"}, nil) // same text as a user memory
	add("Mike benches 185", memory.Scope{UserID: "mike"}, nil)

	r := &memory.Retriever{Store: st, Embedder: e}
	all := memory.Limits{TopK: 10}
	rec, err := r.Recall(ctx, memory.RecallRequest{
		Identity: memory.Identity{UserID: "sarah", AgentID: "fitcoach_v1"}, Query: "half marathon training",
		Persona: all, User: all, Relationship: all,
	})
	if err != nil {
		t.Fatal(err)
	}
	text := func(hs []memory.Hit) string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Text)
		}
		return strings.Join(out, " | ")
	}
	if got := text(rec.Persona); !strings.Contains(got, "FitCoach") || strings.Contains(got, "concrete metrics") {
		t.Errorf("persona = %s", got)
	}
	if got := text(rec.Relationship); !strings.Contains(got, "Inside joke") || !strings.Contains(got, "morning runs") {
		t.Errorf("relationship = %s; want the metadata and the agent_id-field memories", got)
	}
	if got := text(rec.User); strings.Contains(got, "Inside joke") || strings.Contains(got, "morning runs") || strings.Contains(got, "Mike") {
		t.Errorf("user = %s; relationship memories belong in their own layer, Mike's nowhere", got)
	}
	if rec.Len() != 4 {
		t.Errorf("recalled %d memories, want 4: the repeated text only once (%s / %s / %s)", rec.Len(), text(rec.Persona), text(rec.User), text(rec.Relationship))
	}

	// A user-only request has no persona or relationship layer.
	rec, _ = r.Recall(ctx, memory.RecallRequest{Identity: memory.Identity{UserID: "mike"}, Query: "bench", Persona: all, User: all, Relationship: all})
	if len(rec.Persona)+len(rec.Relationship) != 0 || text(rec.User) != "Mike benches 185" {
		t.Errorf("user-only recall: %+v", rec)
	}
	// An empty query recalls the newest memories instead.
	rec, _ = r.Recall(ctx, memory.RecallRequest{Identity: memory.Identity{UserID: "sarah"}, User: memory.Limits{TopK: 1}})
	if len(rec.User) != 1 {
		t.Errorf("recall without a query found %d", len(rec.User))
	}
	// TopK 0 turns a layer off.
	rec, _ = r.Recall(ctx, memory.RecallRequest{Identity: memory.Identity{UserID: "sarah", AgentID: "fitcoach_v1"}, Query: "x", User: all})
	if len(rec.Persona) != 0 || len(rec.User) == 0 {
		t.Errorf("layers off: %+v", rec)
	}
}

type failingEmbedder struct{ memory.Embedder }

func (failingEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("boom")
}

func TestRecallErrorsSayWhatFailed(t *testing.T) {
	e := embed.NewHash(0)
	r := &memory.Retriever{Store: newStore(t, e), Embedder: failingEmbedder{e}}
	_, err := r.Recall(context.Background(), memory.RecallRequest{Identity: memory.Identity{UserID: "u"}, Query: "q", User: memory.Limits{TopK: 1}})
	if !errors.Is(err, memory.ErrEmbedding) {
		t.Errorf("embedder failure: %v, want ErrEmbedding", err)
	}
	st := newStore(t, e)
	st.Close()
	r = &memory.Retriever{Store: wrongDims{st}, Embedder: e}
	_, err = r.Recall(context.Background(), memory.RecallRequest{Identity: memory.Identity{UserID: "u"}, Query: "q", User: memory.Limits{TopK: 1}})
	if !errors.Is(err, memory.ErrSearch) {
		t.Errorf("store failure: %v, want ErrSearch", err)
	}
}

type wrongDims struct{ memory.Store }

func (w wrongDims) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	r.Vector = r.Vector[:1]
	return w.Store.Search(ctx, r)
}

func TestRawFact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"I completed my first 10K today!", "I completed my first 10K today!"},
		{"Hi! I'm training for a half marathon. What should I eat?", "I'm training for a half marathon."},
		{"thanks", ""},
		{"ok", ""},
		{"What should I focus on in my next workout?", ""},
		{"Hello there", ""},
		{"Got it. My knee hurts when I run downhill.", "My knee hurts when I run downhill."},
		{"Can you help me train for my marathon?", ""},
		{"Stream me a reply please.", ""},
		{"Tell me a joke. I love puns.", "I love puns."},
		{"Write a 4-week plan for me", ""},
		{"Hey coach, I ran 12K this morning!", "Hey coach, I ran 12K this morning!"},
		{"short", ""},
		{"Line one is a fact.\nthanks\nLine two too.", "Line one is a fact. Line two too."},
	}
	for _, tt := range tests {
		if got := memory.RawFact(tt.in, 8); got != tt.want {
			t.Errorf("RawFact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A pasted document is cut to MaxRawFact, at a sentence where it can be.
func TestRawFactIsBounded(t *testing.T) {
	sentence := "I keep a training log with every run I have done this year. " // 60 runes
	doc := strings.Repeat(sentence, 1000)
	got := memory.RawFact(doc, 8)
	if n := utf8.RuneCountInString(got); n > memory.MaxRawFact || n < memory.MaxRawFact-len(sentence) {
		t.Errorf("fact of a 60,000-character message has %d characters, want at most %d and whole sentences", n, memory.MaxRawFact)
	}
	if !strings.HasSuffix(got, "this year.") {
		t.Errorf("fact does not end at a sentence: ...%q", got[len(got)-20:])
	}
	long := "I " + strings.Repeat("really ", 1000) + "like rowing."
	got = memory.RawFact(long, 8)
	if n := utf8.RuneCountInString(got); n > memory.MaxRawFact || n < memory.MaxRawFact/2 {
		t.Errorf("fact of one 7,000-character sentence has %d characters, want at most %d", n, memory.MaxRawFact)
	}
	if strings.HasSuffix(got, " ") || strings.HasSuffix(got, "reall") {
		t.Errorf("one long sentence not cut at a word: ...%q", got[len(got)-20:])
	}
}

func TestServiceAdd(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	svc := &memory.Service{Store: st, Embedder: e, MinChars: 8}
	ctx := context.Background()
	if _, err := svc.Add(ctx, memory.AddRequest{Messages: []memory.Message{{Role: "user", Content: "x y z w"}}}); !errors.Is(err, memory.ErrNoScope) {
		t.Errorf("add without scope: %v", err)
	}
	// Inferring from a conversation keeps the user's statements only.
	ev, err := svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: "sarah"}, Infer: true, Messages: []memory.Message{
		{Role: "system", Content: "You are a coach."},
		{Role: "user", Content: "I'm vegetarian. Any recipe ideas?"},
		{Role: "assistant", Content: "You should eat more steak."},
	}})
	if err != nil || len(ev) != 1 || ev[0].Text != "I'm vegetarian." || ev[0].Kind != memory.EventAdd {
		t.Errorf("infer: %+v, %v", ev, err)
	}
	// The same fact again is known: NONE, with the existing id.
	ev2, _ := svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: "sarah"}, Infer: true, Messages: []memory.Message{{Role: "user", Content: "i'm  VEGETARIAN."}}})
	if len(ev2) != 1 || ev2[0].Kind != memory.EventNone || ev2[0].ID != ev[0].ID {
		t.Errorf("repeat: %+v", ev2)
	}
	// Without infer, every non-system message is stored as it is.
	ev3, _ := svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{AgentID: "bot"}, Messages: []memory.Message{
		{Role: "user", Content: "hi"}, {Role: "assistant", Content: "I can calculate."},
	}})
	if len(ev3) != 2 {
		t.Errorf("infer=false stored %d, want 2", len(ev3))
	}
	expires := time.Now().Add(-time.Second)
	svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: "tmp"}, Messages: []memory.Message{{Role: "user", Content: "already expired fact"}}, ExpiresAt: expires})
	if n, _ := st.Count(ctx, memory.UserFilter("tmp")); n != 0 {
		t.Errorf("an expired memory is visible")
	}
}
