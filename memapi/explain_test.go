package memapi

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// TestExplain: the operator route says which rule governs a request and
// what recall finds, behind the key, refusing ids no header could carry.
func TestExplain(t *testing.T) {
	h := newHarness(t)
	h.Add("Sarah's goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	var e struct {
		Rule     string
		Recalled map[string][]struct{ Memory string }
		Block    string
	}
	h.api("GET", "/memproxy/explain?agent_id=fitcoach_v1&user_id=sarah&query=marathon", "", 200, &e)
	if e.Rule == "" || len(e.Recalled["user"]) != 1 || !strings.Contains(e.Block, "half marathon") {
		t.Errorf("explanation: %+v", e)
	}
	h.api("GET", "/memproxy/explain?user_id=sa%00rah", "", 400, nil)
	if resp, _ := h.Do("GET", "/memproxy/explain?user_id=sarah", "", nil); resp.StatusCode != 401 {
		t.Errorf("explain without a key: %d, want 401", resp.StatusCode)
	}
}
