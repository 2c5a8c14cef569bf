package memapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

func TestAddMemories(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/v1/memories/", "/v3/memories/add/"} {
		resp, body := h.Do("POST", path, `{"messages":[{"role":"user","content":"I'm FitCoach - supportive and motivational."}],"agent_id":"fitcoach_v1","metadata":{"type":"personality"},"org_id":"o","project_id":"p","async_mode":true,"output_format":"v1.1"}`, token(testKey))
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
	ms := h.Memories(memory.PersonaFilter("fitcoach_v1"))
	if len(ms) != 1 || ms[0].Metadata["type"] != "personality" || ms[0].UserID != "" {
		t.Fatalf("persona memories: %+v", ms)
	}

	// The Node SDK sends messages as a plain string; infer false stores as is.
	resp, body := h.Do("POST", "/v3/memories/add/", `{"messages":"hello? I like tennis","user_id":"sarah","infer":false}`, token(testKey))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 1 || ms[0].Text != "hello? I like tennis" {
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
			resp, body := h.Do("POST", "/v1/memories/", tt.body, token(testKey))
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.wantDetail) {
				t.Errorf("got %d %s; want %d mentioning %q", resp.StatusCode, body, tt.want, tt.wantDetail)
			}
		})
	}
	if n, _ := h.Store.Count(t.Context(), memory.Filter{}); n != 0 {
		t.Errorf("refused requests stored %d memories", n)
	}
}

// TestFitCoachFlow is the seed's story through the sidecar: the persona is
// written once through the memory API, Sarah's turns are learned, and her
// next request carries the persona and her memories; Mike's carries the
// persona and nothing of Sarah's.
func TestFitCoachFlow(t *testing.T) {
	h := newHarness(t)
	resp, body := h.Do("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"I'm FitCoach - a supportive fitness coach who celebrates every achievement."}],"agent_id":"fitcoach_v1"}`, token(testKey))
	if resp.StatusCode != 200 {
		t.Fatalf("adding the persona: %d %s", resp.StatusCode, body)
	}
	chat := func(user, text string, stream bool) string {
		b, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "stream": stream, "messages": []any{
			map[string]any{"role": "system", "content": "You are a helpful coach."},
			map[string]any{"role": "user", "content": text},
		}})
		resp, _ := h.Do("POST", "/v1/chat/completions", string(b), ids(user, "fitcoach_v1"))
		if resp.StatusCode != 200 {
			t.Fatalf("chat for %s: %d", user, resp.StatusCode)
		}
		return string(h.Received("/v1/chat/completions").Body)
	}
	chat("sarah", "My goal is to run a half marathon by June.", false)
	chat("sarah", "Completed 5K run in 28 minutes - felt great!", true)
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 2 {
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
	h.Settle()
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 2 {
		t.Errorf("Sarah has %d memories, want 2 (questions are not learned)", len(ms))
	}
}

type listAnswer struct {
	Count    int          `json:"count"`
	Next     *string      `json:"next"`
	Previous *string      `json:"previous"`
	Results  []memoryJSON `json:"results"`
}

func texts(ms []memoryJSON) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Memory
	}
	return out
}

// TestMemoryAPIRoundTrip walks every endpoint as the SDKs call them.
func TestMemoryAPIRoundTrip(t *testing.T) {
	h := newHarness(t)
	var added struct {
		Results []addResult `json:"results"`
		EventID string      `json:"event_id"`
	}
	h.api("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"I'm FitCoach - supportive and motivational."}],"agent_id":"fitcoach_v1","metadata":{"type":"personality"}}`, 200, &added)
	persona := added.Results[0].ID
	var ev addEventJSON
	h.api("GET", "/v1/event/"+added.EventID+"/", "", 200, &ev)
	if ev.Status != "SUCCEEDED" || len(ev.Results) != 1 || ev.Results[0].ID != persona {
		t.Errorf("event: %+v", ev)
	}
	h.api("POST", "/v3/memories/add/", `{"messages":"Goal: half marathon by June.","filters":{"user_id":"sarah"},"metadata":{"type":"profile"}}`, 200, &added)
	goal := added.Results[0].ID
	h.api("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"Sarah responds best to gentle encouragement."}],"user_id":"sarah","metadata":{"agent_id":"fitcoach_v1","type":"relationship"}}`, 200, &added)
	rel := added.Results[0].ID
	h.api("POST", "/v1/memories/", `{"messages":"Bench press: 185 lbs x 10 reps.","user_id":"mike","infer":false}`, 200, &added)
	mike := added.Results[0].ID

	// One memory, as the platform shapes it.
	var m map[string]any
	h.api("GET", "/v1/memories/"+goal+"/?org_id=memproxy&project_id=default", "", 200, &m)
	if m["id"] != goal || m["memory"] != "Goal: half marathon by June." || m["user_id"] != "sarah" || m["agent_id"] != nil ||
		m["hash"] == "" || m["metadata"].(map[string]any)["type"] != "profile" || m["expiration_date"] != nil {
		t.Errorf("memory = %v", m)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if _, err := time.Parse(time.RFC3339Nano, m[k].(string)); err != nil {
			t.Errorf("%s = %v: %v", k, m[k], err)
		}
	}
	h.api("GET", "/v1/memories/"+goal, "", 200, nil) // without the trailing slash

	// Search, both generations; results carry a score and are in scope.
	var found struct {
		Results []memoryJSON `json:"results"`
	}
	h.api("POST", "/v2/memories/search/", `{"query":"How should I coach Sarah today?","user_id":"sarah","filters":{"metadata":{"agent_id":"fitcoach_v1"}},"org_id":"memproxy","project_id":"default"}`, 200, &found)
	if len(found.Results) != 1 || found.Results[0].ID != rel || found.Results[0].Score == nil {
		t.Errorf("relationship search: %+v", found.Results)
	}
	h.api("POST", "/v3/memories/search/", `{"query":"coaching context for Sarah","filters":{"OR":[{"agent_id":"fitcoach_v1"},{"user_id":"sarah"}]},"output_format":"v1.1"}`, 200, &found)
	if got := strings.Join(texts(found.Results), "|"); len(found.Results) != 3 || strings.Contains(got, "Bench") {
		t.Errorf("OR search: %s", got)
	}
	for i := 1; i < len(found.Results); i++ {
		if *found.Results[i].Score > *found.Results[i-1].Score {
			t.Errorf("results not best first: %v", found.Results)
		}
	}
	h.api("POST", "/v3/memories/search/", `{"query":"coaching","filters":{"user_id":"sarah"},"top_k":1}`, 200, &found)
	if len(found.Results) != 1 {
		t.Errorf("top_k 1 gave %d", len(found.Results))
	}
	h.api("POST", "/v3/memories/search/", `{"query":"zzz qqq","filters":{"user_id":"sarah"},"threshold":0.9}`, 200, &found)
	if len(found.Results) != 0 {
		t.Errorf("threshold 0.9 kept %v", texts(found.Results))
	}

	// Listing, paginated.
	var page listAnswer
	h.api("POST", "/v3/memories/?page=1&page_size=1", `{"filters":{"user_id":"sarah"}}`, 200, &page)
	if page.Count != 2 || len(page.Results) != 1 || page.Next == nil || page.Previous != nil {
		t.Errorf("page 1: %+v", page)
	}
	h.api("POST", *page.Next, `{"filters":{"user_id":"sarah"}}`, 200, &page)
	if page.Count != 2 || len(page.Results) != 1 || page.Next != nil || page.Previous == nil {
		t.Errorf("page 2: %+v", page)
	}
	h.api("POST", "/v2/memories/", `{"user_id":"mike"}`, 200, &page)
	if page.Count != 1 || page.Results[0].ID != mike {
		t.Errorf("v2 list with a top-level id: %+v", page)
	}

	// Update, and its history.
	var upd memoryJSON
	h.api("PUT", "/v1/memories/"+goal+"/", `{"text":"Goal: full marathon by October.","metadata":{"type":"profile","v":2},"expiration_date":"2099-01-01"}`, 200, &upd)
	if upd.Memory != "Goal: full marathon by October." || upd.ExpirationDate == nil || *upd.ExpirationDate != "2099-01-01" {
		t.Errorf("updated: %+v", upd)
	}
	h.api("PUT", "/v1/memories/"+goal+"/", `{"expiration_date":null}`, 200, &upd)
	if upd.ExpirationDate != nil {
		t.Errorf("expiration_date null did not clear: %v", *upd.ExpirationDate)
	}
	var hist []historyJSON
	h.api("GET", "/v1/memories/"+goal+"/history/", "", 200, &hist)
	if len(hist) != 2 || hist[0].Event != "ADD" || hist[1].Event != "UPDATE" || *hist[1].OldMemory != "Goal: half marathon by June." ||
		*hist[1].NewMemory != "Goal: full marathon by October." || *hist[1].UserID != "sarah" {
		t.Errorf("history: %+v", hist)
	}

	// Batches.
	var msg messageJSON
	h.api("PUT", "/v1/batch/", `{"memories":[{"memory_id":"`+mike+`","text":"Bench press: 190 lbs."},{"memory_id":"`+rel+`","metadata":{"agent_id":"fitcoach_v1","type":"relationship","v":2}}]}`, 200, &msg)
	if msg.Message != "Successfully updated 2 memories" {
		t.Errorf("batch update: %+v", msg)
	}
	h.api("GET", "/v1/memories/"+mike+"/", "", 200, &upd)
	if upd.Memory != "Bench press: 190 lbs." {
		t.Errorf("batch did not update: %+v", upd)
	}

	// Entities.
	var ents pageJSON[entityJSON]
	h.api("GET", "/v1/entities/", "", 200, &ents)
	var names []string
	for _, e := range ents.Results {
		names = append(names, fmt.Sprintf("%s:%s:%d", e.Type, e.Name, e.TotalMemories))
	}
	if strings.Join(names, " ") != "user:mike:1 user:sarah:2 agent:fitcoach_v1:1" || ents.Count != 3 {
		t.Errorf("entities: %v", names)
	}

	// Deletes: one memory, a user (with history), then a batch.
	h.api("DELETE", "/v1/memories/"+mike+"/?delete_linked=true", "", 200, &msg)
	h.api("GET", "/v1/memories/"+mike+"/", "", 404, nil)
	h.api("GET", "/v1/memories/"+mike+"/history/", "", 404, nil)
	h.api("DELETE", "/v2/entities/user/sarah/", "", 200, &msg)
	if msg.Count == nil || *msg.Count != 2 {
		t.Errorf("deleting Sarah: %+v", msg)
	}
	for _, id := range []string{goal, rel} {
		if rs, _ := h.Store.History(t.Context(), id); len(rs) != 0 {
			t.Errorf("Sarah's history survived: %+v", rs)
		}
	}
	h.api("DELETE", "/v2/entities/user/sarah/", "", 404, nil)
	h.api("DELETE", "/v1/batch/", `{"memories":[{"memory_id":"`+persona+`"}]}`, 200, &msg)
	if n, _ := h.Store.Count(t.Context(), memory.Filter{}); n != 0 {
		t.Errorf("%d memories left", n)
	}
}

func TestDeleteByScopeTakesHistory(t *testing.T) {
	h := newHarness(t)
	h.Add("Sarah's secret plan", memory.Scope{UserID: "sarah"}, nil)
	h.Add("Sarah in a run", memory.Scope{UserID: "sarah", RunID: "r1"}, nil)
	h.Add("Mike's plan", memory.Scope{UserID: "mike"}, nil)
	ms := h.Memories(memory.UserFilter("sarah"))
	h.api("DELETE", "/v1/memories/?user_id=sarah&run_id=r1&org_id=memproxy&project_id=default", "", 200, nil)
	if n, _ := h.Store.Count(t.Context(), memory.UserFilter("sarah")); n != 1 {
		t.Errorf("user_id and run_id deleted %d, want the run's only", 2-n)
	}
	h.api("DELETE", "/v1/memories/?user_id=sarah", "", 200, nil)
	for _, m := range ms {
		if rs, _ := h.Store.History(t.Context(), m.ID); len(rs) != 0 {
			t.Errorf("history of %q survived", m.Text)
		}
	}
	if n, _ := h.Store.Count(t.Context(), memory.Filter{}); n != 1 {
		t.Errorf("%d memories left, want Mike's", n)
	}
}

func TestMemoryAPIRefusesBadInput(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.MaxBodyBytes = 8192 })
	h.Add("Sarah's goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	id := h.Memories(memory.UserFilter("sarah"))[0].ID
	before := h.snapshot()
	big := strings.Repeat("a", 9000)
	tests := []struct {
		name, method, path, body string
		want                     int
		detail                   string
	}{
		{"unknown filter key", "POST", "/v3/memories/search/", `{"query":"x","filters":{"usr_id":"sarah"}}`, 400, `unknown filter key "usr_id"`},
		{"metadata key at the top", "POST", "/v3/memories/", `{"filters":{"user_id":"sarah","type":"goal"}}`, 400, `{"metadata": {"type": ...}}`},
		{"AND beside OR", "POST", "/v2/memories/search/", `{"query":"x","filters":{"AND":[{"user_id":"a"}],"OR":[{"user_id":"b"}]}}`, 400, "AND and OR cannot stand side by side"},
		{"no entity", "POST", "/v3/memories/search/", `{"query":"x","filters":{"metadata":{"type":"goal"}}}`, 400, "user_id, agent_id, app_id, run_id is required"},
		{"no filters at all", "POST", "/v3/memories/", `{}`, 400, "is required"},
		{"filters not an object", "POST", "/v3/memories/", `{"filters":["user_id"]}`, 400, "filters must be a JSON object"},
		{"wrong filter value type", "POST", "/v3/memories/search/", `{"query":"x","filters":{"user_id":7}}`, 400, "user_id holds strings"},
		{"top_k as text", "POST", "/v3/memories/search/", `{"query":"x","filters":{"user_id":"sarah"},"top_k":"5"}`, 400, "field top_k"},
		{"top_k too large", "POST", "/v3/memories/search/", `{"query":"x","filters":{"user_id":"sarah"},"top_k":100000}`, 400, "top_k must be between"},
		{"threshold out of range", "POST", "/v3/memories/search/", `{"query":"x","filters":{"user_id":"sarah"},"threshold":3}`, 400, "threshold"},
		{"no query", "POST", "/v3/memories/search/", `{"filters":{"user_id":"sarah"}}`, 400, "query is required"},
		{"body not an object", "POST", "/v3/memories/search/", `["x"]`, 400, "must be a JSON object"},
		{"no body", "POST", "/v3/memories/", ``, 400, "needs a JSON object"},
		{"bad page", "POST", "/v3/memories/?page=0", `{"filters":{"user_id":"sarah"}}`, 400, "page must be 1 or more"},
		{"page_size too large", "POST", "/v3/memories/?page=1&page_size=5000", `{"filters":{"user_id":"sarah"}}`, 400, "page_size"},
		{"huge search", "POST", "/v3/memories/search/", `{"query":"` + big + `","filters":{"user_id":"sarah"}}`, 413, "limit"},
		{"huge add", "POST", "/v3/memories/add/", `{"messages":"` + big + `","user_id":"sarah"}`, 413, "limit"},
		{"huge update", "PUT", "/v1/memories/" + id + "/", `{"text":"` + big + `"}`, 413, "limit"},
		{"update nothing", "PUT", "/v1/memories/" + id + "/", `{}`, 400, "nothing to change"},
		{"update empty text", "PUT", "/v1/memories/" + id + "/", `{"text":""}`, 400, "empty"},
		{"update metadata not an object", "PUT", "/v1/memories/" + id + "/", `{"metadata":"x"}`, 400, "metadata must be a JSON object"},
		{"update bad expiry", "PUT", "/v1/memories/" + id + "/", `{"expiration_date":"someday"}`, 400, "expiration_date"},
		{"update unknown id", "PUT", "/v1/memories/nope/", `{"text":"x"}`, 404, "nope"},
		{"get unknown id", "GET", "/v1/memories/nope/", ``, 404, "not found"},
		{"delete unknown id", "DELETE", "/v1/memories/nope/", ``, 404, "not found"},
		{"id with a control character", "GET", "/v1/memories/a%01b/", ``, 400, "control"},
		{"batch without memory_id", "PUT", "/v1/batch/", `{"memories":[{"memory_id":"` + id + `","text":"changed"},{"text":"x"}]}`, 400, "memories[1]: memory_id is required"},
		{"batch with an unknown id", "PUT", "/v1/batch/", `{"memories":[{"memory_id":"` + id + `","text":"changed"},{"memory_id":"nope","text":"x"}]}`, 404, "nope"},
		{"batch delete with an unknown id", "DELETE", "/v1/batch/", `{"memories":[{"memory_id":"` + id + `"},{"memory_id":"nope"}]}`, 404, "nope"},
		{"batch twice the same id", "DELETE", "/v1/batch/", `{"memories":[{"memory_id":"` + id + `"},{"memory_id":"` + id + `"}]}`, 400, "listed twice"},
		{"empty batch", "DELETE", "/v1/batch/", `{"memories":[]}`, 400, "memories is required"},
		{"batch too large", "DELETE", "/v1/batch/", `{"memories":[` + strings.Repeat(`{"memory_id":"x"},`, 1000) + `{"memory_id":"y"}]}`, 413, "limit"},
		{"delete all without ids", "DELETE", "/v1/memories/", ``, 400, "name whose memories"},
		{"delete all with filters", "DELETE", "/v1/memories/?filters=%7B%27user_id%27%3A+%27sarah%27%7D", ``, 400, "not filters"},
		{"delete all with a typo", "DELETE", "/v1/memories/?userid=sarah", ``, 400, `unknown query parameter "userid"`},
		{"delete all twice the id", "DELETE", "/v1/memories/?user_id=sarah&user_id=mike", ``, 400, "given 2 times"},
		{"delete unknown entity type", "DELETE", "/v2/entities/org/x/", ``, 400, "not user, agent, app or run"},
		{"add without scope", "POST", "/v3/memories/add/", `{"messages":"I like tea"}`, 400, "user_id"},
		{"add with two scopes", "POST", "/v3/memories/add/", `{"messages":"I like tea","user_id":"a","filters":{"user_id":"b"}}`, 400, "another scope"},
		{"add filters beyond scope", "POST", "/v3/memories/add/", `{"messages":"I like tea","filters":{"OR":[]}}`, 400, "may only name the scope"},
		{"unknown event", "GET", "/v1/event/nope/", ``, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.Do(tt.method, tt.path, tt.body, token(testKey))
			var e apiError
			if json.Unmarshal([]byte(body), &e) != nil || e.Detail == "" || e.Error == "" {
				t.Errorf("error body %s is not {detail, error}", body)
			}
			if resp.StatusCode != tt.want || !strings.Contains(e.Detail, tt.detail) {
				t.Errorf("%d %s; want %d mentioning %q", resp.StatusCode, body, tt.want, tt.detail)
			}
		})
	}
	if after := h.snapshot(); after != before {
		t.Errorf("refused requests changed the store:\nbefore %safter  %s", before, after)
	}
}
