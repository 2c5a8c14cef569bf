package memory_test

import (
	"context"
	"errors"
	"fmt"

	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
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

func TestHashEmbedder(t *testing.T) {
	e := memory.NewHashEmbedder(0)
	vs, err := e.Embed(context.Background(), []string{
		"I completed a 5K run in 28 minutes",
		"Running my first 5K race next week",
		"My favourite pizza topping is pineapple",
		"",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs[:3] {
		if len(v) != 256 {
			t.Fatalf("vector %d has %d dimensions", i, len(v))
		}
		if n := memory.Cosine(v, v); n < 0.999 || n > 1.001 {
			t.Errorf("vector %d is not unit length: %f", i, n)
		}
	}
	related, unrelated := memory.Cosine(vs[0], vs[1]), memory.Cosine(vs[0], vs[2])
	if related <= unrelated+0.1 {
		t.Errorf("cos(run, run) = %.3f is not clearly above cos(run, pizza) = %.3f", related, unrelated)
	}
	again, _ := e.Embed(context.Background(), []string{"I completed a 5K run in 28 minutes"})
	if memory.Cosine(again[0], vs[0]) < 0.9999 {
		t.Errorf("the hash embedder is not deterministic")
	}
	for _, x := range vs[3] {
		if x != 0 {
			t.Fatalf("the empty text has a non-zero vector")
		}
	}
}

func TestOpenAIEmbedder(t *testing.T) {
	up := fakeupstream.New()
	srv := httptest.NewServer(up)
	defer srv.Close()
	ctx := context.Background()

	e, err := memory.NewOpenAIEmbedder(memory.OpenAIEmbedderConfig{BaseURL: srv.URL + "/v1", APIKey: "k", Model: "text-embedding-3-small"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Dimensions() != fakeupstream.EmbeddingDims {
		t.Errorf("probed %d dimensions, want %d", e.Dimensions(), fakeupstream.EmbeddingDims)
	}
	vs, err := e.Embed(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := fakeupstream.Embedding("b", fakeupstream.EmbeddingDims)
	if memory.Cosine(vs[1], want) < 0.9999 {
		t.Errorf("vectors out of order or altered")
	}
	req, _ := up.Last("/v1/embeddings")
	if req.Header.Get("Authorization") != "Bearer k" {
		t.Errorf("Authorization = %q", req.Header.Get("Authorization"))
	}

	// Unreachable: Check says so.
	e, _ = memory.NewOpenAIEmbedder(memory.OpenAIEmbedderConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m", Dimensions: 8})
	if err := e.Check(ctx); err == nil || errors.Is(err, memory.ErrDimensions) {
		t.Errorf("Check against nothing: %v", err)
	}
	// A configured dimension the model does not produce natively is asked
	// for (the fake shortens vectors on request, as text-embedding-3 does).
	e, _ = memory.NewOpenAIEmbedder(memory.OpenAIEmbedderConfig{BaseURL: srv.URL + "/v1", Model: "m", Dimensions: 8})
	if err := e.Check(ctx); err != nil {
		t.Fatalf("Check with 8 dimensions configured: %v", err)
	}
	if vs, err := e.Embed(ctx, []string{"x"}); err != nil || len(vs[0]) != 8 {
		t.Errorf("embedding with 8 dimensions: %v", err)
	}
	// A model that cannot produce the configured dimension fails Check.
	up.Hook = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.URL.Path != "/v1/embeddings" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],"model":"m"}`)
		return true
	}
	e, _ = memory.NewOpenAIEmbedder(memory.OpenAIEmbedderConfig{BaseURL: srv.URL + "/v1", Model: "m", Dimensions: 8})
	if err := e.Check(ctx); !errors.Is(err, memory.ErrDimensions) {
		t.Errorf("Check of a fixed-size model: %v, want ErrDimensions", err)
	}
	if _, err := e.Embed(ctx, []string{"x"}); err == nil || !strings.Contains(err.Error(), "dimensions") {
		t.Errorf("a vector of the wrong dimension was accepted: %v", err)
	}
	// An error from the server surfaces.
	up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
		return true
	}
	if _, err := e.Embed(ctx, []string{"x"}); err == nil {
		t.Errorf("a 503 from the embedding server was not an error")
	}
}

type countingEmbedder struct {
	memory.Embedder
	calls atomic.Int64
	texts atomic.Int64
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.calls.Add(1)
	c.texts.Add(int64(len(texts)))
	return c.Embedder.Embed(ctx, texts)
}

func TestCachedEmbedder(t *testing.T) {
	inner := &countingEmbedder{Embedder: memory.NewHashEmbedder(32)}
	c := memory.NewCachedEmbedder(inner, 2)
	ctx := context.Background()
	first, _ := c.Embed(ctx, []string{"apple", "banana"})
	got, _ := c.Embed(ctx, []string{"banana", "apple"})
	if inner.texts.Load() != 2 {
		t.Errorf("cached texts were embedded again: %d texts sent", inner.texts.Load())
	}
	if memory.Cosine(got[0], first[1]) < 0.9999 || memory.Cosine(got[1], first[0]) < 0.9999 {
		t.Errorf("cache returned vectors out of order")
	}
	c.Embed(ctx, []string{"cherry"})          // evicts the least recently used, "banana"
	c.Embed(ctx, []string{"apple", "banana"}) // "apple" cached, "banana" not
	if inner.texts.Load() != 4 {
		t.Errorf("after eviction %d texts sent, want 4", inner.texts.Load())
	}
}

func TestRecallLayers(t *testing.T) {
	e := memory.NewHashEmbedder(0)
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
	e := memory.NewHashEmbedder(0)
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
	e := memory.NewHashEmbedder(0)
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
