package learn_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
)

// scoped lists the texts of sarah's user memories (no agent in metadata)
// and of her relationship memories with agent, sorted.
func scoped(t *testing.T, h *writerHarness, agent string) (user, rel []string) {
	t.Helper()
	ms, err := h.store.List(context.Background(), memory.UserFilter("sarah"), memory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		switch a, ok := m.Metadata["agent_id"]; {
		case !ok:
			user = append(user, m.Text)
		case a == agent:
			rel = append(rel, m.Text)
		default:
			t.Errorf("memory %q belongs to agent %v", m.Text, a)
		}
	}
	slices.Sort(user)
	slices.Sort(rel)
	return user, rel
}

func withPolicy(p policies.Policy) func(*learn.Service) {
	return func(s *learn.Service) { s.Policies = policies.Static(p) }
}

// TestWriterScopesFacts: from a chat with an agent, facts about the user
// become user memories and facts about the user and the agent
// relationship memories, sentence by sentence in raw mode; a policy's
// learn.scope puts every fact in one scope; without an agent every fact is
// the user's.
func TestWriterScopesFacts(t *testing.T) {
	msgs := []string{
		"My goal is to run a half marathon by June.",
		"Our inside joke is 'No pain, no protein shake!'",
		"I'm vegetarian. I prefer short answers from you.",
	}
	whole := []string{msgs[2], msgs[0], msgs[1]}
	slices.Sort(whole)
	for _, tt := range []struct {
		name, scope, agent string
		user, rel          []string
	}{
		{"auto", policies.ScopeAuto, "fitcoach_v1",
			[]string{"I'm vegetarian.", "My goal is to run a half marathon by June."},
			[]string{"I prefer short answers from you.", "Our inside joke is 'No pain, no protein shake!'"}},
		{"user", policies.ScopeUser, "fitcoach_v1", whole, nil},
		{"relationship", policies.ScopeRelationship, "fitcoach_v1", nil, whole},
		{"no agent", policies.ScopeAuto, "", whole, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := policies.Default()
				p.Learn.Scope = tt.scope
				h := newWriterHarness(t, nil, learn.WriterConfig{}, withPolicy(p))
				if _, err := h.writer.Apply(context.Background(), []learn.Turn{turn("req_1", "sarah", tt.agent, msgs...)}); err != nil {
					t.Fatal(err)
				}
				user, rel := scoped(t, h, tt.agent)
				if !slices.Equal(user, tt.user) || !slices.Equal(rel, tt.rel) {
					t.Errorf("user memories %q, relationship memories %q; want %q, %q", user, rel, tt.user, tt.rel)
				}
			})
		})
	}
}

// TestLLMScopes: the model gives each fact its scope; a fact without one
// (or with another word) gets the heuristic's.
func TestLLMScopes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":[
			{"text":"Goal: run a half marathon by June","category":"sports","scope":"user"},
			{"text":"Shares the inside joke 'No pain, no protein shake!'","category":"misc","scope":"relationship"},
			{"text":"Prefers short answers"},
			{"text":"Has a knee injury","scope":"everyone"}]}`}
		// The relationship facts are decided against the user facts just
		// stored: the model adds them.
		model.decide = []string{`{"memory":[{"event":"ADD","text":"Shares the inside joke 'No pain, no protein shake!'"},{"event":"ADD","text":"Prefers short answers"}]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{}, llmMode(model.extractor(t)))
		if _, err := h.writer.Apply(context.Background(), []learn.Turn{turn("req_1", "sarah", "fitcoach_v1", "My goal is a half marathon by June; I prefer short answers.")}); err != nil {
			t.Fatal(err)
		}
		user, rel := scoped(t, h, "fitcoach_v1")
		wantUser := []string{"Goal: run a half marathon by June", "Has a knee injury"}
		wantRel := []string{"Prefers short answers", "Shares the inside joke 'No pain, no protein shake!'"}
		if !slices.Equal(user, wantUser) || !slices.Equal(rel, wantRel) {
			t.Errorf("user memories %q, relationship memories %q; want %q, %q", user, rel, wantUser, wantRel)
		}
		model.mu.Lock()
		defer model.mu.Unlock()
		if len(model.asked) == 0 || !strings.Contains(model.asked[0], "My goal") {
			t.Fatalf("the model was not asked for the facts: %q", model.asked)
		}
	})
}

// TestLLMNeverLearnsQuestionsOrSmallTalk: in llm mode, messages that are
// greetings, thanks, or questions and requests about nothing of the
// user's never reach the model; facts that only say what the user asked
// for are dropped.
func TestLLMNeverLearnsQuestionsOrSmallTalk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":["User asked about the difference between tempo runs and intervals",
			"Wants a 10K training plan for next week", "Is asking whether to stretch before running?", "Has a dog named Rex"]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{}, llmMode(model.extractor(t)))
		ctx := context.Background()
		for i, m := range []string{"Hi coach!", "Thanks, that's really helpful.", "What's the difference between tempo runs and intervals?",
			"Can you make a 10K training plan for next week", "Tell me a joke."} {
			if _, err := h.writer.Apply(ctx, []learn.Turn{turn("req_q"+string(rune('a'+i)), "sarah", "fitcoach_v1", m)}); err != nil {
				t.Fatal(err)
			}
		}
		if n := model.requests.Load(); n != 0 {
			t.Errorf("the model was asked %d times about small talk and questions", n)
		}
		if _, err := h.writer.Apply(ctx, []learn.Turn{turn("req_1", "sarah", "fitcoach_v1", "I have a dog named Rex. Can you make me a plan?")}); err != nil {
			t.Fatal(err)
		}
		ms, _ := h.store.List(ctx, memory.UserFilter("sarah"), memory.Page{})
		var got []string
		for _, m := range ms {
			got = append(got, m.Text)
		}
		if len(got) != 1 || got[0] != "Has a dog named Rex" {
			t.Errorf("learned %q, want only the dog", strings.Join(got, " | "))
		}
	})
}
