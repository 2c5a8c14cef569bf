package memapi

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

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
		resp, body := h.Do("GET", "/v1/ping/", "", tc.header)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, resp.StatusCode, tc.want, body)
		}
		if tc.want == 401 && !strings.Contains(body, `"detail"`) {
			t.Errorf("%s: error body %s lacks detail", tc.name, body)
		}
	}
	closed := newHarness(t, func(o *Options) { o.APIKeys = nil })
	resp, body := closed.Do("POST", "/v1/memories/", `{"messages":"x","user_id":"u"}`, token(testKey))
	if resp.StatusCode != 401 || !strings.Contains(body, "MEMPROXY_API_KEYS") {
		t.Errorf("with no keys configured: %d %s, want 401 naming MEMPROXY_API_KEYS", resp.StatusCode, body)
	}
}

// TestEveryMemoryRouteNeedsAKey: without a valid key every memory
// endpoint answers 401, and touches nothing.
func TestEveryMemoryRouteNeedsAKey(t *testing.T) {
	h := newHarness(t)
	h.Add("Sarah's goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	before := h.snapshot()
	for _, r := range memoryRoutes {
		path := strings.NewReplacer(":id", "x", ":type", "user", ":name", "sarah").Replace(r.path)
		for _, hdr := range []map[string]string{nil, token("wrong"), {"Authorization": "Basic " + testKey}} {
			resp, body := h.Do(r.method, path+"?user_id=sarah", `{"filters":{"user_id":"sarah"},"query":"x","messages":"x","user_id":"sarah"}`, hdr)
			if resp.StatusCode != 401 || !strings.Contains(body, `"detail"`) {
				t.Errorf("%s %s with %v: %d %s, want 401", r.method, path, hdr, resp.StatusCode, body)
			}
		}
	}
	if h.snapshot() != before {
		t.Errorf("unauthenticated requests changed the store")
	}
}
