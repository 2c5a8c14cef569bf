package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
)

// memoriesOf lists the texts of a user's memories through the memory API.
func (s *sidecar) memoriesOf(user string) []string {
	s.t.Helper()
	_, listed := s.do("POST", "/v3/memories/", `{"filters":{"user_id":"`+user+`"}}`, map[string]string{"Authorization": "Token " + apiKey})
	var page struct {
		Results []struct {
			Memory string `json:"memory"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(listed), &page); err != nil {
		s.t.Fatalf("listing %s's memories: %v: %s", user, err, listed)
	}
	var out []string
	for _, r := range page.Results {
		out = append(out, r.Memory)
	}
	return out
}

// waitLearned waits until user has n memories (learning is asynchronous).
func (s *sidecar) waitLearned(user string, n int) {
	s.t.Helper()
	var got []string
	if !waitFor(30*time.Second, func() bool { got = s.memoriesOf(user); return len(got) >= n }) {
		s.t.Fatalf("%s has memories %q, want %d", user, got, n)
	}
}

// sections reads a memory block into its sections: each heading line with
// the memories listed under it.
func sections(block string) map[string][]string {
	out := map[string][]string{}
	heading := ""
	for _, line := range strings.Split(block, "\n") {
		if item, ok := strings.CutPrefix(line, "- "); ok {
			out[heading] = append(out[heading], item)
		} else {
			heading = line
		}
	}
	return out
}

// systemOf returns the system message the upstream last received.
func (s *sidecar) systemOf() string {
	s.t.Helper()
	r, ok := s.up.Last("/v1/chat/completions")
	if !ok {
		s.t.Fatal("the upstream received no chat request")
	}
	return gjson.GetBytes(r.Body, "messages.0.content").String()
}

// TestCookbookTwoAgents is the cookbook's flow with a second agent: what
// Sarah tells FitCoach about herself is recalled for her tutor as a fact
// about the user; what she shares with FitCoach (their inside joke) only
// for FitCoach, as their relationship, and not for FitCoach's next version.
func TestCookbookTwoAgents(t *testing.T) {
	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v1", "I'm FitCoach - supportive, motivational, celebrates small wins.")
	s.addPersona("tutor_v1", "I'm Tutor - patient and precise.")
	const goal, joke = "My goal is to run a half marathon by June.", "Our inside joke is 'No pain, no protein shake!'"
	fitcoach := map[string]string{"X-Memory-User-Id": "sarah", "X-Memory-Agent-Id": "fitcoach_v1"}
	for _, text := range []string{goal, joke} {
		if code, body := s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`+text+`"}]}`, fitcoach); code != 200 {
			t.Fatalf("chat: %d %s", code, body)
		}
	}
	s.waitLearned("sarah", 2)

	ask := func(agent string) map[string][]string {
		s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What should I focus on this week?"}]}`,
			map[string]string{"X-Memory-User-Id": "sarah", "X-Memory-Agent-Id": agent, "X-Memory-Mode": "read"})
		return sections(s.systemOf())
	}
	const aboutUser, relationship = "About the user:", "Your relationship with this user:"
	quoted := func(s string) string { return `"` + s + `"` }
	tutor := ask("tutor_v1")
	if got := tutor[aboutUser]; len(got) != 1 || got[0] != quoted(goal) {
		t.Errorf("tutor_v1: about the user %q, want her goal only", got)
	}
	if got := tutor[relationship]; len(got) != 0 {
		t.Errorf("tutor_v1: relationship %q, want none: the joke is FitCoach's", got)
	}
	coach := ask("fitcoach_v1")
	if got := coach[aboutUser]; len(got) != 1 || got[0] != quoted(goal) {
		t.Errorf("fitcoach_v1: about the user %q, want her goal", got)
	}
	if got := coach[relationship]; len(got) != 1 || got[0] != quoted(joke) {
		t.Errorf("fitcoach_v1: relationship %q, want the inside joke", got)
	}
	v2 := ask("fitcoach_v2")
	if strings.Contains(strings.Join(append(v2[aboutUser], v2[relationship]...), "\n"), "protein shake") {
		t.Errorf("fitcoach_v2 got fitcoach_v1's joke: %q", v2)
	}
}

// TestReadmeExampleBlock runs the README's example (persona through the
// memory API, Sarah's and Mike's chats, then Sarah's "Just finished my
// run today!") and compares the system message the upstream receives with
// the one the README shows.
func TestReadmeExampleBlock(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "What the model receives for Sarah's last message")
	if !ok {
		t.Fatal("README.md no longer shows what the model receives")
	}
	_, rest, _ = strings.Cut(rest, "```text\n")
	want, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md: the example block is not a ```text block")
	}

	s := startSidecar(t, nil)
	s.addPersona("fitcoach_v1", "I'm FitCoach - supportive, motivational, celebrates small wins.")
	chat := func(user, text string) {
		body, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "messages": []any{
			map[string]any{"role": "system", "content": "You're a supportive fitness coach."},
			map[string]any{"role": "user", "content": text},
		}})
		if code, resp := s.do("POST", "/v1/chat/completions", string(body), map[string]string{
			"X-Memory-User-Id": user, "X-Memory-Agent-Id": "fitcoach_v1", "Authorization": "Bearer sk-client-key",
		}); code != 200 {
			t.Fatalf("chat: %d %s", code, resp)
		}
	}
	chat("sarah", "My goal is to run a half marathon by June.")
	chat("mike", "Bench press: 185 lbs x 10 reps, 3 sets.")
	s.waitLearned("sarah", 1)
	s.waitLearned("mike", 1)
	chat("sarah", "Just finished my run today!")
	if got := s.systemOf(); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("the upstream received\n%s\n\nthe README shows\n%s", got, want)
	}
}
