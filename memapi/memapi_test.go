package memapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestPingSatisfiesTheSDKs(t *testing.T) {
	h := newHarness(t)
	_, body := h.Do("GET", "/v1/ping/", "", token(testKey))
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

// TestMemoryAPIPathsAreNeverForwarded: a Mem0 endpoint the sidecar does
// not serve answers 501, and the memory API key never reaches the upstream.
func TestMemoryAPIPathsAreNeverForwarded(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/v1/exports/", "/v1/memories/abc/history/", "/v1/entities/", "/memproxy/nope", "/v2/profiles/jobs/"} {
		resp, body := h.Do("POST", path, `{"query":"x"}`, token(testKey))
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "not forwarded") {
			t.Errorf("%s: %d %s, want 501", path, resp.StatusCode, body)
		}
		if resp, _ := h.Do("POST", path, `{}`, nil); resp.StatusCode != 401 {
			t.Errorf("%s without a key: %d, want 401", path, resp.StatusCode)
		}
	}
	for _, r := range h.Up.Requests() {
		t.Errorf("the upstream received %s %s", r.Method, r.Path)
	}
}
