package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory/storetest"
)

// chat sends one chat request for user and agent and returns the
// X-Memory-Status of the answer and how long it took.
func (s *sidecar) chat(user, agent, text string) (string, time.Duration) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(
		`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You're a supportive fitness coach."},{"role":"user","content":"`+text+`"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-client-key")
	req.Header.Set("X-Memory-User-Id", user)
	req.Header.Set("X-Memory-Agent-Id", agent)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("chat answered %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Memory-Status"), time.Since(start)
}

// TestFitCoachOnMilvus runs the seed's FitCoach flow through the sidecar
// on each Milvus server: a persona written once through the memory API,
// Sarah's and Mike's facts learned from their chats, each recalled for
// its own user only.
func TestFitCoachOnMilvus(t *testing.T) {
	for name, addr := range storetest.MilvusServers(t) {
		t.Run(name, func(t *testing.T) {
			s := startSidecar(t, milvusEnv(addr))
			s.addPersona("fitcoach_v1", fitcoachPersona)
			s.chat("sarah", "fitcoach_v1", "My goal is to run a half marathon by June.")
			s.chat("mike", "fitcoach_v1", "Bench press: 185 lbs x 10 reps, 3 sets.")
			// The chat path reads a Bounded snapshot: what was learned shows
			// within Milvus' graceful time.
			var last string
			if !waitFor(20*time.Second, func() bool {
				status, _ := s.chat("sarah", "fitcoach_v1", "Just finished my run today!")
				r, _ := s.up.Last("/v1/chat/completions")
				last = string(r.Body)
				return status == "injected" && strings.Contains(last, "half marathon")
			}) {
				t.Fatalf("Sarah's goal was not recalled: %s", last)
			}
			if !strings.Contains(last, fitcoachPersona) {
				t.Errorf("Sarah's request lacks the persona: %s", last)
			}
			if !waitFor(20*time.Second, func() bool {
				s.chat("mike", "fitcoach_v1", "What should I lift next?")
				r, _ := s.up.Last("/v1/chat/completions")
				last = string(r.Body)
				return strings.Contains(last, "Bench press")
			}) {
				t.Fatalf("Mike's lift was not recalled: %s", last)
			}
			for _, r := range s.up.Requests() {
				body := string(r.Body)
				if strings.Contains(body, "Bench press") && strings.Contains(body, "half marathon") {
					t.Errorf("a request carries both users' memories: %s", body)
				}
			}
			code, body := s.do("GET", "/readyz", "", nil)
			if code != 200 || !strings.Contains(body, `"ready"`) {
				t.Errorf("/readyz = %d %s", code, body)
			}
		})
	}
}

// TestMilvusKilledMidRun kills the Milvus server under a running sidecar:
// chat keeps answering within the recall budget, saying it failed open,
// /readyz says why; once the server is back, memory works again without
// anyone touching the sidecar.
func TestMilvusKilledMidRun(t *testing.T) {
	bin := milvusLiteBin(t)
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	lite := startLite(t, bin, dir, addr)
	// Failing open within the budget is what this test is about: the
	// default budget, not the harness's generous one.
	const budget = 150 * time.Millisecond
	env := milvusEnv(addr)
	env["MEMPROXY_RECALL_TIMEOUT"] = budget.String()
	s := startSidecar(t, env)
	s.addPersona("fitcoach_v1", fitcoachPersona)
	// Before the kill memory works; on a busy machine a recall may still
	// time out now and then, which says nothing about the kill.
	var status string
	if !waitFor(30*time.Second, func() bool {
		status, _ = s.chat("sarah", "fitcoach_v1", "Hi coach!")
		return status == "injected"
	}) {
		t.Fatalf("before the kill: X-Memory-Status %q, want injected", status)
	}

	lite.kill()
	for i := range 5 {
		status, took := s.chat("sarah", "fitcoach_v1", fmt.Sprintf("Still there? (%d)", i))
		if !strings.HasPrefix(status, "failed-open") {
			t.Errorf("with Milvus down: X-Memory-Status %q, want failed-open", status)
		}
		// The recall budget; the rest is the fake upstream and the race
		// detector on a shared machine.
		if took > time.Second {
			t.Errorf("with Milvus down, chat took %v", took)
		}
	}
	// A sidecar whose store is down still serves (failing open): /readyz
	// says degraded and why; ?strict=1 answers 503 for those who route
	// around degraded instances.
	if !waitFor(10*time.Second, func() bool {
		code, body := s.do("GET", "/readyz?strict=1", "", nil)
		return code == 503 && strings.Contains(body, `"degraded"`)
	}) {
		code, body := s.do("GET", "/readyz?strict=1", "", nil)
		t.Errorf("with Milvus down, /readyz?strict=1 = %d %s", code, body)
	}
	if code, body := s.do("GET", "/readyz", "", nil); code != 200 || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, "unavailable") {
		t.Errorf("with Milvus down, /readyz = %d %s, want 200 degraded with the store's reason", code, body)
	}

	startLite(t, bin, dir, addr)
	if !waitFor(30*time.Second, func() bool {
		code, _ := s.do("GET", "/readyz?strict=1", "", nil)
		return code == 200
	}) {
		code, body := s.do("GET", "/readyz?strict=1", "", nil)
		t.Fatalf("30s after Milvus came back, /readyz = %d %s", code, body)
	}
	// Writes work again (the persona of before may or may not have
	// survived the kill -9 of Milvus Lite; this one is new).
	s.addPersona("fitcoach_v2", "I am FitCoach 2, back after the outage.")
	if !waitFor(30*time.Second, func() bool {
		status, _ := s.chat("sarah", "fitcoach_v2", "Hi again!")
		return status == "injected"
	}) {
		status, _ := s.chat("sarah", "fitcoach_v2", "Hi again!")
		t.Fatalf("after Milvus came back: X-Memory-Status %q, want injected", status)
	}
	last, _ := s.up.Last("/v1/chat/completions")
	if !strings.Contains(string(last.Body), "back after the outage") {
		t.Errorf("after recovery the request lacks the new persona: %s", last.Body)
	}
}

// TestUnreachableMilvusIsAStoreError points the sidecar at a loopback
// port nobody listens on: every connection is refused at once, the store
// stays unavailable and keeps reconnecting, and chat says the store failed
// ("failed-open: store error"), not that the budget ran out ("timeout"),
// which would send an operator hunting for a slow server. Refused recalls
// cost no budget, so they never open the recall breaker either.
func TestUnreachableMilvusIsAStoreError(t *testing.T) {
	env := milvusEnv(freeAddr(t)) // closed once freeAddr returns: refuses connections
	env["MEMPROXY_MILVUS_CONNECT_TIMEOUT"] = "500ms"
	env["MEMPROXY_RECALL_TIMEOUT"] = "2s"
	s := startSidecar(t, env)
	// More chats than the breaker needs to judge the store (20).
	for i := range 25 {
		status, _ := s.chat("sarah", "fitcoach_v1", fmt.Sprintf("Hi coach! (%d)", i))
		if status != "failed-open: store error" {
			t.Fatalf("chat %d with Milvus refusing connections: X-Memory-Status %q, want %q", i+1, status, "failed-open: store error")
		}
	}
	if code, body := s.do("GET", "/readyz", "", nil); code != 200 || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, "refused") {
		t.Errorf("with Milvus refusing connections, /readyz = %d %s, want degraded saying the connection was refused", code, body)
	}
}
