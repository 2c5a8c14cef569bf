package memapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// TestHistoryNamesTheActor: a change learned from chat names the user
// whose turn made it, as actor_id, next to the request; a change through
// the API has none. The other fields are as they were.
func TestHistoryNamesTheActor(t *testing.T) {
	h := newHarness(t)
	var added struct {
		Results []addResult `json:"results"`
	}
	h.api("POST", "/v1/memories/", `{"messages":[{"role":"user","content":"I'm FitCoach - supportive and motivational."}],"agent_id":"fitcoach_v1"}`, 200, &added)
	id := added.Results[0].ID
	err := h.Store.AddHistory(context.Background(), memory.HistoryRecord{
		ID: "chat-change", MemoryID: id, Event: memory.EventUpdate, OldText: "I'm FitCoach - supportive and motivational.",
		NewText: "I'm FitCoach and I love celebrating small wins.", AgentID: "fitcoach_v1", RequestID: "req-42", ActorID: "sarah",
		CreatedAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	var hist []historyJSON
	raw := h.api("GET", "/v1/memories/"+id+"/history/", "", 200, &hist)
	if len(hist) != 2 || hist[0].ActorID != nil || hist[1].ActorID == nil || *hist[1].ActorID != "sarah" ||
		hist[1].RequestID == nil || *hist[1].RequestID != "req-42" || hist[1].UserID != nil || *hist[1].AgentID != "fitcoach_v1" {
		t.Errorf("history: %s", raw)
	}
	if !strings.Contains(raw, `"actor_id":null`) || !strings.Contains(raw, `"actor_id":"sarah"`) {
		t.Errorf("history %s: want actor_id null for the API's change and \"sarah\" for the chat's", raw)
	}
}
