package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

func token(key string) map[string]string { return map[string]string{"Authorization": "Token " + key} }

func TestMemoryAPIAuth(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no key", nil, 401},
		{"wrong key", token("nope"), 401},
		{"key without scheme", map[string]string{"Authorization": testKey}, 401},
		{"token", token(testKey), 200},
		{"bearer", map[string]string{"Authorization": "Bearer " + testKey}, 200},
	} {
		resp, body := h.do("GET", "/v1/ping/", "", tc.header)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, resp.StatusCode, tc.want, body)
		}
		if tc.want == 401 && !strings.Contains(body, `"detail"`) {
			t.Errorf("%s: error body %s lacks detail", tc.name, body)
		}
	}
	closed := newHarness(t, func(o *Options) { o.APIKeys = nil })
	resp, body := closed.do("POST", "/v1/memories/", `{"messages":"x","user_id":"u"}`, token(testKey))
	if resp.StatusCode != 401 || !strings.Contains(body, "MEMPROXY_API_KEYS") {
		t.Errorf("with no keys configured: %d %s, want 401 naming MEMPROXY_API_KEYS", resp.StatusCode, body)
	}
}

func TestPingSatisfiesTheSDKs(t *testing.T) {
	h := newHarness(t)
	_, body := h.do("GET", "/v1/ping/", "", token(testKey))
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	// The Python SDK refuses to construct without org_id and project_id;
	// the Node SDK wants status "ok".
	if p["status"] != "ok" || p["org_id"] == "" || p["project_id"] == "" || p["org_id"] == nil || p["project_id"] == nil {
		t.Errorf("ping = %s", body)
	}
}

func TestAddMemories(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/v1/memories/", "/v3/memories/add/"} {
		resp, body := h.do("POST", path, `{"messages":[{"role":"user","content":"I'm FitCoach - supportive and motivational."}],"agent_id":"fitcoach_v1","metadata":{"type":"personality"},"org_id":"o","project_id":"p","async_mode":true,"output_format":"v1.1"}`, token(testKey))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		var out struct {
			Results []addResult `json:"results"`
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil || len(out.Results) != 1 {
			t.Fatalf("%s: %s", path, body)
		}
		if path == "/v1/memories/" && out.Results[0].Event != "ADD" {
			t.Errorf("first add: event %q, want ADD", out.Results[0].Event)
		}
		if path == "/v3/memories/add/" && out.Results[0].Event != "NONE" {
			t.Errorf("the same persona again: event %q, want NONE (already known)", out.Results[0].Event)
		}
	}
	ms := h.memories(memory.PersonaFilter("fitcoach_v1"), 1)
	if len(ms) != 1 || ms[0].Metadata["type"] != "personality" || ms[0].UserID != "" {
		t.Fatalf("persona memories: %+v", ms)
	}

	// The Node SDK sends messages as a plain string; infer false stores as is.
	resp, body := h.do("POST", "/v3/memories/add/", `{"messages":"hello? I like tennis","user_id":"sarah","infer":false}`, token(testKey))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if ms := h.memories(memory.UserFilter("sarah"), 1); len(ms) != 1 || ms[0].Text != "hello? I like tennis" {
		t.Errorf("infer=false stored %+v, want the message verbatim", ms)
	}
}

func TestAddMemoriesRefusesBadInput(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxBodyBytes = 4096 })
	tests := []struct {
		name, body string
		want       int
		wantDetail string
	}{
		{"not JSON", `{"messages":`, 400, "not a valid JSON"},
		{"no messages", `{"user_id":"sarah"}`, 400, "messages is required"},
		{"empty messages", `{"messages":[],"user_id":"sarah"}`, 400, "must not be empty"},
		{"no scope", `{"messages":"I like tea"}`, 400, "user_id"},
		{"bad role", `{"messages":[{"role":"wizard","content":"x"}],"user_id":"sarah"}`, 400, "role"},
		{"content not a string", `{"messages":[{"role":"user","content":5}],"user_id":"sarah"}`, 400, "content"},
		{"metadata not an object", `{"messages":"I like tea","user_id":"sarah","metadata":[1]}`, 400, "metadata"},
		{"user_id not a string", `{"messages":"I like tea","user_id":7}`, 400, "user_id"},
		{"bad expiration", `{"messages":"I like tea","user_id":"sarah","expiration_date":"soon"}`, 400, "expiration_date"},
		{"control character in id", `{"messages":"I like tea","user_id":"sa\u0000rah"}`, 400, "control"},
		{"too large", `{"messages":"` + strings.Repeat("a", 5000) + `","user_id":"sarah"}`, 413, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.do("POST", "/v1/memories/", tt.body, token(testKey))
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.wantDetail) {
				t.Errorf("got %d %s; want %d mentioning %q", resp.StatusCode, body, tt.want, tt.wantDetail)
			}
		})
	}
	if n, _ := h.store.Count(t.Context(), memory.Filter{}); n != 0 {
		t.Errorf("refused requests stored %d memories", n)
	}
}

// TestFitCoachFlow is the seed's story through the sidecar: the persona is
// written once through the memory API, Sarah's turns are learned, and her
// next request carries the persona and her memories; Mike's carries the
// persona and nothing of Sarah's.
func TestFitCoachFlow(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"I'm FitCoach - a supportive fitness coach who celebrates every achievement."}],"agent_id":"fitcoach_v1"}`, token(testKey))
	if resp.StatusCode != 200 {
		t.Fatalf("adding the persona: %d %s", resp.StatusCode, body)
	}
	chat := func(user, text string, stream bool) string {
		b, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "stream": stream, "messages": []any{
			map[string]any{"role": "system", "content": "You are a helpful coach."},
			map[string]any{"role": "user", "content": text},
		}})
		resp, _ := h.do("POST", "/v1/chat/completions", string(b), ids(user, "fitcoach_v1"))
		if resp.StatusCode != 200 {
			t.Fatalf("chat for %s: %d", user, resp.StatusCode)
		}
		return string(h.received("/v1/chat/completions").Body)
	}
	chat("sarah", "My goal is to run a half marathon by June.", false)
	chat("sarah", "Completed 5K run in 28 minutes - felt great!", true)
	if ms := h.memories(memory.UserFilter("sarah"), 2); len(ms) != 2 {
		t.Fatalf("Sarah's turns were not learned: %v", ms)
	}

	sarah := chat("sarah", "What should I focus on in my next workout?", false)
	for _, want := range []string{"FitCoach", "half marathon", "5K run in 28 minutes"} {
		if !strings.Contains(sarah, want) {
			t.Errorf("Sarah's request lacks %q:\n%s", want, sarah)
		}
	}
	mike := chat("mike", "What should I focus on in my next workout?", false)
	if !strings.Contains(mike, "FitCoach") {
		t.Errorf("Mike's request lacks the shared persona:\n%s", mike)
	}
	for _, leak := range []string{"half marathon", "5K run"} {
		if strings.Contains(mike, leak) {
			t.Errorf("Mike's request carries Sarah's memory %q", leak)
		}
	}
	// The question itself is not a fact about Sarah.
	h.settle()
	if ms := h.memories(memory.UserFilter("sarah"), 0); len(ms) != 2 {
		t.Errorf("Sarah has %d memories, want 2 (questions are not learned)", len(ms))
	}
}
