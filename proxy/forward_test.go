package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// TestMemoryHeadersSurviveEarlyHintsAndSpoofing: a 1xx from the upstream
// used to clear the headers set before it; an upstream could also add its
// own X-Memory- values.
func TestMemoryHeadersSurviveEarlyHintsAndSpoofing(t *testing.T) {
	h := newHarness(t)
	fitcoach(h)
	h.Up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("X-Memory-Status", "spoofed")
		w.Header().Set("X-Memory-Request-Id", "spoofed")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}`))
		return true
	}
	for _, hdr := range []map[string]string{ids("sarah", "fitcoach_v1"), nil} {
		resp, _ := h.Do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, hdr)
		st := resp.Header.Values(HeaderStatus)
		if hdr != nil && (len(st) != 1 || st[0] != "injected" || resp.Header.Get(HeaderInjected) != "3") {
			t.Errorf("with identity: %s = %q, %s = %q", HeaderStatus, st, HeaderInjected, resp.Header.Get(HeaderInjected))
		}
		if hdr == nil && len(st) != 0 {
			t.Errorf("passthrough: %s = %q, want none (and never the upstream's)", HeaderStatus, st)
		}
		if rid := resp.Header.Values(HeaderRequestID); len(rid) != 1 || !strings.HasPrefix(rid[0], "req_") {
			t.Errorf("%s = %q, want one id of the sidecar's", HeaderRequestID, rid)
		}
	}
}
