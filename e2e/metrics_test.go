package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetrics checks that /metrics tells request rate, added latency,
// retrieval outcome and outbox depth, as a stranger would read them.
func TestMetrics(t *testing.T) {
	s := startSidecar(t, nil)
	s.addPersona("coach", "I am a patient coach.")
	for i := range 5 {
		s.do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"I ran `+strconv.Itoa(i)+`K today."}]}`,
			map[string]string{"X-Memory-User-Id": "sarah", "X-Memory-Agent-Id": "coach"})
	}
	s.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, map[string]string{"X-Memory-User-Id": "sarah"})
	s.do("GET", "/v1/models", "", nil)
	// The turns are learned in the background: wait until /metrics says so,
	// and the outbox has let go of them (a turn counts as applied a moment
	// before its outbox entry is removed).
	var text string
	waitFor(5*time.Second, func() bool {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		applied := `memproxy_writer_turns_total{result="applied"}`
		pending := "memproxy_outbox_pending"
		return strings.Contains(text, applied) && metric(t, text, applied) >= 6 &&
			strings.Contains(text, pending) && metric(t, text, pending) == 0
	})
	checks := map[string]float64{
		`memproxy_requests_total{code="200",route="/v1/chat/completions"}`:   6,
		`memproxy_requests_total{code="200",route="passthrough"}`:            1,
		`memproxy_added_latency_seconds_count{route="/v1/chat/completions"}`: 6,
		`memproxy_upstream_ttfb_seconds_count{route="passthrough"}`:          1,
		`memproxy_recall_duration_seconds_count{outcome="injected"}`:         5,
		`memproxy_memories_injected_count`:                                   5,
		`memproxy_learning_total{outcome="on"}`:                              5,
		`memproxy_writer_turns_total{result="applied"}`:                      5,
		`memproxy_writer_events_total{event="ADD"}`:                          5,
		`memproxy_outbox_limit`:                                              10000,
	}
	for series, least := range checks {
		if v := metric(t, text, series); v < least {
			t.Errorf("%s = %v, want at least %v", series, v, least)
		}
	}
	// Which build is running.
	if !regexp.MustCompile(`(?m)^memproxy_build_info\{goversion="go1\.[^"]+",version="[^"]+"\} 1$`).MatchString(text) {
		t.Errorf("/metrics has no memproxy_build_info")
	}
	if v := metric(t, text, "memproxy_outbox_pending"); v != 0 {
		t.Errorf("outbox pending = %v after the turns were learned", v)
	}
	// No user ids or memory text in any label.
	if regexp.MustCompile(`sarah|coach|ran \dK`).MatchString(text) {
		t.Errorf("/metrics exposes ids or text")
	}
}
