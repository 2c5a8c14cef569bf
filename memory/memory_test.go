package memory_test

import (
	"context"
	"errors"
	"regexp"
	"slices"

	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/internal/memtest"
	"github.com/memproxy/memproxy/memory/learn"
)

var newStore = memtest.NewStore

var count = memtest.Count

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
	svc := &learn.Service{Store: st, Embedder: e}
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
	// No relevance floor: this test is about which layer a memory is in.
	all := memory.Limits{TopK: 10, MinScore: -1}
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

// TestRecallRelationshipsStayWithTheirPair: a user's relationship memory
// with one agent is recalled for that agent only, in the relationship
// layer; not as a fact about the user for her other agents, nor for a
// request without an agent, unless ShareRelationships says so.
func TestRecallRelationshipsStayWithTheirPair(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	svc := &learn.Service{Store: st, Embedder: e}
	ctx := context.Background()
	add := func(text string, scope memory.Scope, meta map[string]any) {
		if _, err := svc.Add(ctx, memory.AddRequest{Scope: scope, Messages: []memory.Message{{Role: "user", Content: text}}, Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	const goal, joke, field = "Goal: half marathon by June", "Inside joke: no pain, no protein shake", "Likes morning runs with the coach"
	add(goal, memory.Scope{UserID: "sarah"}, map[string]any{"source": "chat"})
	add(joke, memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1"})
	add(field, memory.Scope{UserID: "sarah", AgentID: "fitcoach_v1"}, nil)
	r := &memory.Retriever{Store: st, Embedder: e}
	all := memory.Limits{TopK: 10}
	texts := func(hs []memory.Hit) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Text)
		}
		slices.Sort(out)
		return out
	}
	for _, tt := range []struct {
		agent        string
		share        bool
		user, shared []string
	}{
		{"fitcoach_v1", false, []string{goal}, []string{joke, field}},
		{"tutor_v1", false, []string{goal}, nil},
		{"fitcoach_v2", false, []string{goal}, nil},
		{"", false, []string{goal}, nil},
		{"tutor_v1", true, []string{goal, joke, field}, nil},
	} {
		rec, err := r.Recall(ctx, memory.RecallRequest{
			Identity: memory.Identity{UserID: "sarah", AgentID: tt.agent}, Query: "half marathon joke morning",
			User: all, Relationship: all, ShareRelationships: tt.share,
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := texts(rec.User); !slices.Equal(got, tt.user) {
			t.Errorf("agent %q (share %v): user layer %q, want %q", tt.agent, tt.share, got, tt.user)
		}
		if got := texts(rec.Relationship); !slices.Equal(got, tt.shared) {
			t.Errorf("agent %q (share %v): relationship layer %q, want %q", tt.agent, tt.share, got, tt.shared)
		}
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

// NewID keeps the form Mem0 clients expect: a version-4 UUID, lower-case,
// hyphenated.
func TestNewID(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := memory.NewID(), memory.NewID()
	if !form.MatchString(a) || !form.MatchString(b) || a == b {
		t.Errorf("NewID() = %q, %q", a, b)
	}
}
