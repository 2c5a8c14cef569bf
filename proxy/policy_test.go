package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/internal/piicorpus"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
)

func examplePolicy(t *testing.T, name string) policies.Source {
	t.Helper()
	data, err := os.ReadFile("../examples/policies/" + name)
	if err != nil {
		t.Fatal(err)
	}
	set, err := policies.Parse(data, policies.Default())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return set
}

func withPolicies(src policies.Source) func(*Options) {
	return func(o *Options) { o.Policies = src }
}

// block returns the memory block the upstream received last.
func (h *harness) block() string {
	h.T.Helper()
	body := h.Received("/v1/chat/completions").Body
	var block string
	gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
		if c := m.Get("content").String(); strings.Contains(c, "<memproxy-memories>") {
			block = c
			return false
		}
		return true
	})
	return block
}

func chatBody(text string) string {
	b, _ := json.Marshal(map[string]any{"model": "m", "messages": []any{map[string]any{"role": "user", "content": text}}})
	return string(b)
}

// TestPolicyNotesApp: user memories only, newest first.
func TestPolicyNotesApp(t *testing.T) {
	h := newHarness(t, withPolicies(examplePolicy(t, "notes-app.yaml")))
	h.Add("I am a notes assistant.", memory.Scope{AgentID: "notes"}, nil)
	for i := range 25 {
		h.Add(fmt.Sprintf("Note %02d: buy item %d", i, i), memory.Scope{UserID: "ana"}, nil)
		time.Sleep(time.Millisecond) // distinct creation times
	}
	h.Do("POST", "/v1/chat/completions", chatBody("What did I note about item 3?"), ids("ana", ""))
	block := h.block()
	if !strings.Contains(block, "The user's notes, newest first:") || !strings.Contains(block, "Note 24") || strings.Contains(block, "Note 04") {
		t.Errorf("want the 20 newest notes (24 down to 05) whatever the query:\n%s", block)
	}
	if !strings.Contains(block, "Note 05") || strings.Index(block, "Note 24") > strings.Index(block, "Note 05") {
		t.Errorf("newest first:\n%s", block)
	}
	// Even when a request names an agent, the persona layer is off.
	h.Do("POST", "/v1/chat/completions", chatBody("hi there friend"), ids("ana", "notes"))
	if strings.Contains(h.block(), "notes assistant") {
		t.Errorf("the notes policy recalls no persona")
	}
	h.Do("POST", "/v1/chat/completions", chatBody("My dentist appointment is on Friday at nine."), ids("ana", ""))
	if ms := h.Memories(memory.And(memory.UserFilter("ana"), memory.Cmp(memory.FieldText, false, memory.OpContains, "dentist"))); len(ms) != 1 {
		t.Errorf("the notes app learns: %v", ms)
	}
}

// TestPolicyAgentOnly: the calculator and the policy bot recall their
// persona, never a user's memories, and learn nothing, even when a request
// asks to write.
func TestPolicyAgentOnly(t *testing.T) {
	h := newHarness(t, withPolicies(examplePolicy(t, "agent-only.yaml")))
	h.Add("I can calculate: arithmetic, algebra, basic calculus.", memory.Scope{AgentID: "calculator_v1"}, nil)
	h.Add("Expense reports are due on the 5th of each month.", memory.Scope{AgentID: "policy_bot_hr"}, nil)
	h.Add("Sarah's secret: she hates algebra.", memory.Scope{UserID: "sarah"}, nil)
	for _, agent := range []string{"calculator_v1", "policy_bot_hr"} {
		for _, mode := range []string{"on", "write"} {
			resp, _ := h.Do("POST", "/v1/chat/completions", chatBody("I am learning algebra for my exam on Monday."), with(ids("sarah", agent), "X-Memory-Mode", mode))
			block := h.block()
			if mode == "on" && (resp.Header.Get(HeaderStatus) != "injected" || strings.Contains(block, "Sarah's secret")) {
				t.Errorf("%s: status %s; block must hold the persona only:\n%s", agent, resp.Header.Get(HeaderStatus), block)
			}
		}
	}
	h.Settle()
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 1 {
		t.Errorf("agent-only bots learned from Sarah: %d memories, want her 1", len(ms))
	}
}

// TestPolicyFitCoach: persona, user and relationship sections; learned
// facts expire in a year, those about the user and the coach carry the
// agent; films are not a coach's.
func TestPolicyFitCoach(t *testing.T) {
	h := newHarness(t, withPolicies(examplePolicy(t, "fitcoach.yaml")))
	fitcoach(h)
	h.Do("POST", "/v1/chat/completions", chatBody("Just finished my run today!"), ids("sarah", "fitcoach_v1"))
	block := h.block()
	for _, want := range []string{"Your persona", persona, "About the user:", goal, "Your relationship with this user:", joke} {
		if !strings.Contains(block, want) {
			t.Errorf("block lacks %q:\n%s", want, block)
		}
	}
	before := time.Now()
	h.Do("POST", "/v1/chat/completions", chatBody("I ran 12K on Sunday morning."), ids("sarah", "fitcoach_v1"))
	h.Do("POST", "/v1/chat/completions", chatBody("I loved the new Marvel movie at the cinema."), ids("sarah", "fitcoach_v1"))
	ms := h.Memories(memory.And(memory.UserFilter("sarah"), memory.Cmp(memory.FieldText, false, memory.OpContains, "12K")))
	if len(ms) != 1 {
		t.Fatalf("the run was not learned")
	}
	m := ms[0]
	if _, ok := m.Metadata["agent_id"]; ok || m.ExpiresAt.Before(before.Add(364*24*time.Hour)) || m.ExpiresAt.After(before.Add(366*24*time.Hour)) {
		t.Errorf("learned %+v: want a user memory (no agent_id) and a one-year expiry", m)
	}
	h.Do("POST", "/v1/chat/completions", chatBody("I respond best to gentle encouragement after tough workouts."), ids("sarah", "fitcoach_v1"))
	rel := h.Memories(memory.And(memory.RelationshipFilter("sarah", "fitcoach_v1"), memory.Cmp(memory.FieldText, false, memory.OpContains, "encouragement")))
	if len(rel) != 1 || rel[0].ExpiresAt.Before(before.Add(364*24*time.Hour)) {
		t.Errorf("relationship memories %+v: want the encouragement, expiring in a year", rel)
	}
	if len(m.Categories) != 1 || m.Categories[0] != "sports" {
		t.Errorf("categories = %v, want [sports]", m.Categories)
	}
	h.Settle()
	if ms := h.Memories(memory.And(memory.UserFilter("sarah"), memory.Cmp(memory.FieldText, false, memory.OpContains, "Marvel"))); len(ms) != 0 {
		t.Errorf("an entertainment fact was kept against the policy: %v", ms)
	}
}

// TestPolicyVersionedAgents: the same user, two versions of a coach with
// different recall rules and personas.
func TestPolicyVersionedAgents(t *testing.T) {
	h := newHarness(t, withPolicies(examplePolicy(t, "versioned-agents.yaml")))
	h.Add("I'm supportive and celebrate small wins.", memory.Scope{AgentID: "fitcoach_v1"}, nil)
	h.Add("I provide concrete metrics and percentage improvements.", memory.Scope{AgentID: "fitcoach_v2"}, nil)
	h.Add("Sarah responds best to gentle encouragement.", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1"})
	for i := range 6 {
		h.Add(fmt.Sprintf("Week %d: ran %d km", i, 10+i), memory.Scope{UserID: "sarah"}, nil)
		time.Sleep(time.Millisecond)
	}
	h.Do("POST", "/v1/chat/completions", chatBody("How am I doing on my running?"), ids("sarah", "fitcoach_v1"))
	v1 := h.block()
	h.Do("POST", "/v1/chat/completions", chatBody("How am I doing on my running?"), ids("sarah", "fitcoach_v2"))
	v2 := h.block()
	if !strings.Contains(v1, "(gentle, encouraging)") || !strings.Contains(v1, "celebrate small wins") || !strings.Contains(v1, "gentle encouragement") ||
		strings.Contains(v1, "concrete metrics") {
		t.Errorf("v1 block:\n%s", v1)
	}
	if !strings.Contains(v2, "(data-driven") || !strings.Contains(v2, "concrete metrics") || strings.Contains(v2, "gentle encouragement") || strings.Contains(v2, "small wins") {
		t.Errorf("v2 block:\n%s", v2)
	}
	// v2: the three newest facts only.
	if n := strings.Count(v2, "Week "); n != 3 || !strings.Contains(v2, "Week 5") || strings.Contains(v2, "Week 2") {
		t.Errorf("v2 recalls %d facts, want weeks 5, 4, 3:\n%s", n, v2)
	}
}

// TestPolicyModeOverridesOnlyRestrict: a request can turn memory down,
// never up past its policy.
func TestPolicyModeOverridesOnlyRestrict(t *testing.T) {
	set, err := policies.Parse([]byte("agents:\n  - match: quiet\n    recall: {enabled: false}\n    learn: {enabled: false}\n"), policies.Default())
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withPolicies(set))
	h.Add(goal, memory.Scope{UserID: "sarah"}, nil)
	for _, mode := range []string{"on", "read", "write"} {
		resp, _ := h.Do("POST", "/v1/chat/completions", chatBody("I swim every Tuesday evening."), with(ids("sarah", "quiet"), "X-Memory-Mode", mode))
		if resp.Header.Get(HeaderStatus) != "none" || strings.Contains(h.block(), "half marathon") {
			t.Errorf("mode %s recalled past a policy with recall off", mode)
		}
	}
	h.Settle()
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 1 {
		t.Errorf("modes learned past a policy with learning off: %d memories", len(ms))
	}
}

// TestTokenBudgetHoldsForEveryRequest is a property test: random memory
// sets of random sizes, random budgets for the block and its layers; the
// injected block never costs more than its budgets.
func TestTokenBudgetHoldsForEveryRequest(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	word := func() string {
		ws := []string{"run", "marathon", "coach", "protein", "knee", "Sunday", "swim", "goal", "☃", "日本語", `"quoted"`, "<tag>", "\n"}
		return ws[r.IntN(len(ws))]
	}
	text := func() string {
		var b strings.Builder
		for range 1 + r.IntN(60) {
			b.WriteString(word() + " ")
		}
		return b.String()
	}
	list := func(n int) []string {
		var out []string
		for range r.IntN(n) {
			out = append(out, text())
		}
		return out
	}
	// The pure property, many times (a few hundred: the tokenizer is slow
	// under the race detector, and each case counts up to 60 new texts).
	for i := range 100 {
		m := injector.Memories{Persona: list(15), User: list(15), Relationship: list(15), Run: list(15)}
		opts := injector.Options{Budget: 40 + r.IntN(800), PersonaBudget: r.IntN(300), UserBudget: r.IntN(300), RelationshipBudget: r.IntN(300), RunBudget: r.IntN(300)}
		block, res := injector.Block(m, opts)
		if tokens := injector.CountTokens("", block); tokens > opts.Budget || res.Tokens < tokens || res.Tokens > opts.Budget {
			t.Fatalf("case %d: block of %d tokens (reported %d) over a budget of %d", i, tokens, res.Tokens, opts.Budget)
		}
		checkLayerBudget(t, block, "Your persona (who you are):", opts.PersonaBudget)
		checkLayerBudget(t, block, "About the user:", opts.UserBudget)
	}
	// And through the sidecar, with policies and stored memories (fewer:
	// each stored memory costs a disk sync).
	for i := range 8 {
		budget := 60 + r.IntN(500)
		set, err := policies.Parse([]byte(fmt.Sprintf("defaults:\n  recall:\n    token_budget: %d\n    user: {top_k: 40}\n", budget)), policies.Default())
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, withPolicies(set))
		for _, s := range list(10) {
			h.Add(s, memory.Scope{UserID: "u"}, nil)
		}
		for _, s := range list(10) {
			h.Add(s, memory.Scope{AgentID: "a"}, nil)
		}
		h.Do("POST", "/v1/chat/completions", chatBody(text()), with(ids("u", "a"), "X-Memory-Mode", "read"))
		if b := h.block(); injector.CountTokens("m", b) > budget {
			t.Fatalf("request %d: block of %d tokens over the policy's %d", i, injector.CountTokens("m", b), budget)
		}
	}
}

// checkLayerBudget checks that the lines of one section (title included)
// fit its budget.
func checkLayerBudget(t *testing.T, block, title string, budget int) {
	t.Helper()
	if budget == 0 || !strings.Contains(block, title) {
		return
	}
	lines := strings.Split(block, "\n")
	cost := 0
	in := false
	for _, l := range lines {
		switch {
		case l == title:
			in = true
			cost += injector.CountTokens("", l) + 1
		case in && strings.HasPrefix(l, "- "):
			cost += injector.CountTokens("", l) + 1
		case in:
			in = false
		}
	}
	if cost > budget {
		t.Fatalf("section %q costs %d tokens, over its budget of %d:\n%s", title, cost, budget, block)
	}
}

// scriptedExtractor answers the extraction model's calls (model
// "extractor") with every user line of the conversation as a fact, so that
// whatever reaches the model would be stored.
func scriptedExtractor(h *harness) {
	h.Up.Hook = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if gjson.GetBytes(body, "model").String() != "extractor" {
			return false
		}
		system := gjson.GetBytes(body, "messages.0.content").String()
		user := gjson.GetBytes(body, "messages.1.content").String()
		var answer string
		if strings.Contains(system, "extract durable facts") {
			var facts []string
			for _, line := range strings.Split(user, "\n") {
				if t, ok := strings.CutPrefix(line, "user: "); ok {
					facts = append(facts, t)
				}
			}
			b, _ := json.Marshal(map[string]any{"facts": facts})
			answer = string(b)
		} else {
			var in struct {
				New []string `json:"new_facts"`
			}
			json.Unmarshal([]byte(user), &in)
			var ds []any
			for _, f := range in.New {
				ds = append(ds, map[string]any{"event": "ADD", "text": f})
			}
			b, _ := json.Marshal(map[string]any{"memory": ds})
			answer = string(b)
		}
		resp, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion", "model": "extractor", "choices": []any{
			map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": answer}},
		}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
		return true
	}
}

// TestRedactionKeepsPIIOutOfEverything sends the PII corpus through chat,
// in raw and llm mode, and checks that none of it reaches the store, the
// history, the outbox or the extraction model.
func TestRedactionKeepsPIIOutOfEverything(t *testing.T) {
	for _, mode := range []string{policies.ModeRaw, policies.ModeLLM} {
		t.Run(mode, func(t *testing.T) {
			base := policies.Default()
			base.Learn.Mode = mode
			base.Learn.Roles = []string{"user", "assistant"} // the assistant's echo is mined too
			h := newHarness(t, withPolicies(policies.Static(base)))
			llm, err := learn.NewLLMExtractor(learn.LLMConfig{BaseURL: h.UpSrv.URL + "/v1", Model: "extractor"})
			if err != nil {
				t.Fatal(err)
			}
			h.Learning.LLM = llm
			scriptedExtractor(h)
			for i, c := range piicorpus.Cases {
				user := fmt.Sprintf("user-%d", i%3)
				resp, _ := h.Do("POST", "/v1/chat/completions", chatBody("For the record: "+c.Text+"."), ids(user, "coach"))
				if resp.StatusCode != 200 {
					t.Fatalf("chat failed: %d", resp.StatusCode)
				}
			}
			h.Settle()
			if st := h.Outbox.Stats(); st.Pending != 0 || st.Dead != 0 {
				t.Fatalf("outbox: %+v", st)
			}
			ms, err := h.Store.List(context.Background(), memory.Filter{}, memory.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) < len(piicorpus.Cases)/2 {
				t.Fatalf("only %d memories learned from %d turns: the test would prove nothing", len(ms), len(piicorpus.Cases))
			}
			var stored []string
			for _, m := range ms {
				stored = append(stored, m.Text)
				hs, _ := h.Store.History(context.Background(), m.ID)
				for _, r := range hs {
					stored = append(stored, r.OldText, r.NewText)
				}
			}
			var sentToModel []string
			for _, r := range h.Up.Requests() {
				if gjson.GetBytes(r.Body, "model").String() == "extractor" {
					sentToModel = append(sentToModel, string(r.Body), gjson.GetBytes(r.Body, "messages.1.content").String())
				}
			}
			if mode == policies.ModeLLM && len(sentToModel) == 0 {
				t.Fatal("the extraction model was never called")
			}
			// The outbox file, freed pages included: redaction happens before
			// a turn is queued, so nothing secret was ever written to it.
			disk, err := os.ReadFile(h.OutboxDir + "/outbox.db")
			if err != nil {
				t.Fatal(err)
			}
			placeholders := 0
			for _, c := range piicorpus.Cases {
				if strings.Contains(string(disk), c.Secret) {
					t.Errorf("%q is in the outbox file", c.Secret)
				}
				for _, s := range append(stored, sentToModel...) {
					if strings.Contains(s, c.Secret) {
						t.Errorf("%q got through: %q", c.Secret, s)
					}
				}
				for _, s := range stored {
					if strings.Contains(s, c.Placeholder) {
						placeholders++
						break
					}
				}
			}
			if placeholders == 0 {
				t.Errorf("no placeholder stored: %q", stored)
			}
		})
	}
}
