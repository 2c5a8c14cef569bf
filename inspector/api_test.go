package inspector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/sidecartest"
	"github.com/memproxy/memproxy/memory"
)

// apiEnv is an inspector on a real embedded store, logged in.
type apiEnv struct {
	t      *testing.T
	env    *sidecartest.Env
	h      http.Handler
	cookie string
	csrf   string
}

func newAPIEnv(t *testing.T) *apiEnv {
	env := sidecartest.New(t)
	in := New(Options{Memories: env.Service, Queue: env.Outbox, APIKeys: []string{testKey}, Recaller: env.Retriever()})
	h := engine(in)
	cookie, csrf := loggedIn(t, in, h)
	return &apiEnv{t: t, env: env, h: h, cookie: cookie, csrf: csrf}
}

// call sends an API request with the session and the CSRF token and
// decodes the answer into out.
func (a *apiEnv) call(method, path, body string, want int, out any) {
	a.t.Helper()
	w := serve(a.h, method, "/memproxy/ui/api"+path, body, map[string]string{"Cookie": a.cookie, csrfHeader: a.csrf})
	if w.Code != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, w.Code, want, w.Body)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			a.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type sectionsAnswer struct {
	Sections []struct {
		Layer    string `json:"layer"`
		AgentID  string `json:"agent_id"`
		Total    int    `json:"total"`
		Memories []struct {
			ID     string `json:"id"`
			Memory string `json:"memory"`
		} `json:"memories"`
	} `json:"sections"`
}

func TestUserMemoriesByLayer(t *testing.T) {
	a := newAPIEnv(t)
	a.env.Add("I am FitCoach and I celebrate small wins", memory.Scope{AgentID: "fitcoach_v1"}, nil)
	a.env.Add("I am ChefBot and I love garlic", memory.Scope{AgentID: "chefbot"}, nil)
	a.env.Add("Sarah is training for a half marathon", memory.Scope{UserID: "sarah"}, nil)
	a.env.Add("Sarah prefers gentle encouragement", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1"})
	a.env.Add("Sarah asked for vegetarian recipes", memory.Scope{UserID: "sarah", AgentID: "chefbot"}, nil)
	a.env.Add("Mike lifts weights on Mondays", memory.Scope{UserID: "mike"}, map[string]any{"agent_id": "fitcoach_v1"})

	var got sectionsAnswer
	a.call("GET", "/users/sarah", "", http.StatusOK, &got)
	type key struct{ layer, agent, text string }
	var have []key
	for _, s := range got.Sections {
		if s.Total != len(s.Memories) {
			t.Errorf("%s %s: total %d, %d shown", s.Layer, s.AgentID, s.Total, len(s.Memories))
		}
		for _, m := range s.Memories {
			have = append(have, key{s.Layer, s.AgentID, m.Memory})
		}
	}
	want := []key{
		{"persona", "chefbot", "I am ChefBot and I love garlic"},
		{"persona", "fitcoach_v1", "I am FitCoach and I celebrate small wins"},
		{"user", "", "Sarah is training for a half marathon"},
		{"relationship", "chefbot", "Sarah asked for vegetarian recipes"},
		{"relationship", "fitcoach_v1", "Sarah prefers gentle encouragement"},
	}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("sarah's layers:\n got %v\nwant %v", have, want)
	}
}

func TestLayerPagesAtTenThousandMemories(t *testing.T) {
	a := newAPIEnv(t)
	const n = 10_000
	vec, err := a.env.Embedder.Embed(context.Background(), []string{"a fact"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]memory.Memory, 0, 1000)
	for i := range n {
		text := fmt.Sprintf("fact number %05d", i)
		at := base.Add(time.Duration(i) * time.Minute)
		batch = append(batch, memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: "bulk",
			CreatedAt: at, UpdatedAt: at, Vector: vec[0]})
		if len(batch) == cap(batch) {
			if err := a.env.Store.Add(context.Background(), batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var first, last struct {
		Total    int `json:"total"`
		Memories []struct {
			Memory string `json:"memory"`
		} `json:"memories"`
	}
	start := time.Now()
	a.call("GET", "/layer?layer=user&user_id=bulk&limit=20", "", http.StatusOK, &first)
	a.call("GET", "/layer?layer=user&user_id=bulk&offset=9990&limit=20", "", http.StatusOK, &last)
	t.Logf("two pages of %d memories in %v", n, time.Since(start))
	if first.Total != n || len(first.Memories) != 20 || first.Memories[0].Memory != "fact number 09999" {
		t.Errorf("first page: total %d, %d memories, newest %v", first.Total, len(first.Memories), first.Memories)
	}
	if last.Total != n || len(last.Memories) != 10 || last.Memories[9].Memory != "fact number 00000" {
		t.Errorf("last page: total %d, %d memories", last.Total, len(last.Memories))
	}
	a.call("GET", "/layer?layer=user&user_id=bulk&limit=5000", "", http.StatusBadRequest, nil)

	// The user's page shows the first page of each layer, not everything.
	var layers sectionsAnswer
	start = time.Now()
	a.call("GET", "/users/bulk", "", http.StatusOK, &layers)
	t.Logf("the layers of a user with %d memories in %v", n, time.Since(start))
	if len(layers.Sections) != 1 || layers.Sections[0].Total != n || len(layers.Sections[0].Memories) != defaultPage {
		t.Errorf("bulk's layers: %+v", layers.Sections)
	}
}

func TestDeletingAUserTakesTheTypedId(t *testing.T) {
	a := newAPIEnv(t)
	a.env.Add("Sarah is training for a half marathon", memory.Scope{UserID: "sarah"}, nil)
	a.env.Add("Sarah prefers gentle encouragement", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1"})
	a.env.Add("Mike lifts weights", memory.Scope{UserID: "mike"}, nil)
	for _, body := range []string{``, `{}`, `{"confirm":"Sarah"}`, `{"confirm":"mike"}`} {
		a.call("DELETE", "/users/sarah", body, http.StatusBadRequest, nil)
	}
	if n := len(a.env.Memories(memory.UserFilter("sarah"))); n != 2 {
		t.Fatalf("an unconfirmed delete removed memories: %d left", n)
	}
	var got struct{ Deleted int }
	a.call("DELETE", "/users/sarah", `{"confirm":"sarah"}`, http.StatusOK, &got)
	if got.Deleted != 2 || len(a.env.Memories(memory.UserFilter("sarah"))) != 0 || len(a.env.Memories(memory.UserFilter("mike"))) != 1 {
		t.Errorf("deleted %d; sarah's and only sarah's memories should be gone", got.Deleted)
	}
}

func TestEditSearchHistoryAndExplain(t *testing.T) {
	a := newAPIEnv(t)
	a.env.Add("I am FitCoach and I celebrate small wins", memory.Scope{AgentID: "fitcoach_v1"}, nil)
	a.env.Add("Sarah is training for a half marathon", memory.Scope{UserID: "sarah"}, nil)
	var search struct {
		Results []struct {
			ID     string   `json:"id"`
			Memory string   `json:"memory"`
			Score  *float64 `json:"score"`
		} `json:"results"`
	}
	a.call("GET", "/search?q=half+marathon&user_id=sarah", "", http.StatusOK, &search)
	if len(search.Results) != 1 || search.Results[0].Score == nil || *search.Results[0].Score <= 0 {
		t.Fatalf("search: %+v", search.Results)
	}
	id := search.Results[0].ID
	a.call("PUT", "/memories/"+id, `{"memory":"Sarah is training for a full marathon"}`, http.StatusOK, nil)
	var hist struct {
		History []struct {
			Event     string `json:"event"`
			OldMemory string `json:"old_memory"`
			NewMemory string `json:"new_memory"`
		} `json:"history"`
	}
	a.call("GET", "/memories/"+id+"/history", "", http.StatusOK, &hist)
	if n := len(hist.History); n < 2 || hist.History[n-1].Event != memory.EventUpdate ||
		hist.History[n-1].OldMemory != "Sarah is training for a half marathon" || hist.History[n-1].NewMemory != "Sarah is training for a full marathon" {
		t.Errorf("history: %+v", hist.History)
	}
	var ex struct {
		Rule     string                               `json:"rule"`
		Block    string                               `json:"block"`
		Recalled map[string][]struct{ Memory string } `json:"recalled"`
	}
	a.call("GET", "/explain?user_id=sarah&agent_id=fitcoach_v1&message=how+is+my+marathon+training", "", http.StatusOK, &ex)
	if ex.Rule == "" || len(ex.Recalled["persona"]) != 1 || len(ex.Recalled["user"]) != 1 {
		t.Errorf("explain: rule %q, recalled %+v", ex.Rule, ex.Recalled)
	}
	for _, want := range []string{"I am FitCoach and I celebrate small wins", "Sarah is training for a full marathon"} {
		if !strings.Contains(ex.Block, want) {
			t.Errorf("the block lacks %q:\n%s", want, ex.Block)
		}
	}
	a.call("DELETE", "/memories/"+id, "", http.StatusOK, nil)
	a.call("DELETE", "/memories/"+id, "", http.StatusNotFound, nil)
	a.call("GET", "/memories/"+id+"/history", "", http.StatusNotFound, nil)
	var ob struct {
		Pending     int   `json:"pending"`
		DeadLetters []any `json:"dead_letters"`
	}
	a.call("GET", "/outbox", "", http.StatusOK, &ob)
	if ob.DeadLetters == nil {
		t.Error("the outbox lists no dead_letters array")
	}
	a.call("POST", "/outbox/dead/42/retry", "", http.StatusNotFound, nil)
	a.call("DELETE", "/outbox/dead/42", "", http.StatusNotFound, nil)
}
