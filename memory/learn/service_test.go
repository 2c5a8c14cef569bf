package learn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/learn"
)

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
		if got := learn.RawFact(tt.in, 8); got != tt.want {
			t.Errorf("RawFact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A pasted document is cut to MaxRawFact, at a sentence where it can be.
func TestRawFactIsBounded(t *testing.T) {
	sentence := "I keep a training log with every run I have done this year. " // 60 runes
	doc := strings.Repeat(sentence, 1000)
	got := learn.RawFact(doc, 8)
	if n := utf8.RuneCountInString(got); n > learn.MaxRawFact || n < learn.MaxRawFact-len(sentence) {
		t.Errorf("fact of a 60,000-character message has %d characters, want at most %d and whole sentences", n, learn.MaxRawFact)
	}
	if !strings.HasSuffix(got, "this year.") {
		t.Errorf("fact does not end at a sentence: ...%q", got[len(got)-20:])
	}
	long := "I " + strings.Repeat("really ", 1000) + "like rowing."
	got = learn.RawFact(long, 8)
	if n := utf8.RuneCountInString(got); n > learn.MaxRawFact || n < learn.MaxRawFact/2 {
		t.Errorf("fact of one 7,000-character sentence has %d characters, want at most %d", n, learn.MaxRawFact)
	}
	if strings.HasSuffix(got, " ") || strings.HasSuffix(got, "reall") {
		t.Errorf("one long sentence not cut at a word: ...%q", got[len(got)-20:])
	}
}

func TestServiceAdd(t *testing.T) {
	e := embed.NewHash(0)
	st := newStore(t, e)
	svc := &learn.Service{Store: st, Embedder: e, MinChars: 8}
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
