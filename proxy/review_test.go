package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// TestUnreadableBodiesFailOpen: a body the sidecar cannot read reliably
// goes upstream untouched, the header says why, and nothing is learned.
func TestUnreadableBodiesFailOpen(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"model":"m","messages":[{"role":"user","content":"I keep bees."}]}`))
	zw.Close()
	tests := []struct {
		name, body, status string
		header             map[string]string
	}{
		{"malformed JSON", `{"messages":[`, "failed-open: request shape", nil},
		{"duplicate messages", `{"messages":[{"role":"user","content":"I keep bees."}],"messages":[{"role":"user","content":"I keep wasps."}]}`, "failed-open: request shape", nil},
		{"gzip body", gz.String(), "failed-open: request encoding", map[string]string{"Content-Encoding": "gzip"}},
		{"multipart", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n", "failed-open: request shape", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			fitcoach(h)
			hdr := ids("sarah", "fitcoach_v1")
			for k, v := range tt.header {
				hdr[k] = v
			}
			resp, _ := h.do("POST", "/v1/chat/completions", tt.body, hdr)
			if got := resp.Header.Get(HeaderStatus); got != tt.status {
				t.Errorf("%s = %q, want %q", HeaderStatus, got, tt.status)
			}
			got := h.received("/v1/chat/completions")
			if string(got.Body) != tt.body {
				t.Errorf("the upstream got %q, want the body untouched", got.Body)
			}
			if got.Header.Get("X-Memory-User-Id") != "" {
				t.Errorf("identity reached the upstream")
			}
			h.settle()
			// fitcoach gave Sarah two memories; nothing more was learned.
			if ms := h.memories(memory.UserFilter("sarah"), 0); len(ms) != 2 {
				t.Errorf("learned from an unreadable body: %d memories, want 2", len(ms))
			}
		})
	}
}

// TestMemoryHeadersSurviveEarlyHintsAndSpoofing: a 1xx from the upstream
// used to clear the headers set before it; an upstream could also add its
// own X-Memory- values.
func TestMemoryHeadersSurviveEarlyHintsAndSpoofing(t *testing.T) {
	h := newHarness(t)
	fitcoach(h)
	h.up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("X-Memory-Status", "spoofed")
		w.Header().Set("X-Memory-Request-Id", "spoofed")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}`))
		return true
	}
	for _, hdr := range []map[string]string{ids("sarah", "fitcoach_v1"), nil} {
		resp, _ := h.do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, hdr)
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

// TestMemoryAPIPathsAreNeverForwarded: a Mem0 endpoint the sidecar does
// not serve answers 501, and the memory API key never reaches the upstream.
func TestMemoryAPIPathsAreNeverForwarded(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/v1/exports/", "/v1/memories/abc/history/", "/v1/entities/", "/memproxy/nope", "/v2/profiles/jobs/"} {
		resp, body := h.do("POST", path, `{"query":"x"}`, token(testKey))
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(body, "not forwarded") {
			t.Errorf("%s: %d %s, want 501", path, resp.StatusCode, body)
		}
		if resp, _ := h.do("POST", path, `{}`, nil); resp.StatusCode != 401 {
			t.Errorf("%s without a key: %d, want 401", path, resp.StatusCode)
		}
	}
	for _, r := range h.up.Requests() {
		t.Errorf("the upstream received %s %s", r.Method, r.Path)
	}
}

// TestRunScopedAgentMemoryIsNotPersona: a memory with an agent and a run
// (and no user) belongs to that run, not to every user of the agent.
func TestRunScopedAgentMemoryIsNotPersona(t *testing.T) {
	h := newHarness(t)
	h.add(persona, memory.Scope{AgentID: "fitcoach_v1"}, nil)
	h.add("Sarah private: my blood test showed anemia.", memory.Scope{AgentID: "fitcoach_v1", RunID: "sarah-session-1"}, nil)
	h.add("App-wide agent note for one app only.", memory.Scope{AgentID: "fitcoach_v1", AppID: "other-app"}, nil)
	h.do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"blood test note app"}]}`, ids("mike", "fitcoach_v1"))
	got := string(h.received("/v1/chat/completions").Body)
	if !strings.Contains(got, "FitCoach") {
		t.Errorf("the persona is missing: %s", got)
	}
	for _, leak := range []string{"anemia", "App-wide"} {
		if strings.Contains(got, leak) {
			t.Errorf("Mike's request carries a run- or app-scoped memory %q as persona", leak)
		}
	}
}

func TestBadModeWithoutIdentityIsPassthrough(t *testing.T) {
	h := newHarness(t)
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	resp, _ := h.do("POST", "/v1/chat/completions", body, map[string]string{"X-Memory-Mode": "bogus"})
	if resp.StatusCode != 200 || string(h.received("/v1/chat/completions").Body) != body {
		t.Errorf("status %d: a request without identity must pass through whatever its mode header says", resp.StatusCode)
	}
}

// TestChunkedAndExpectRequests: a body that arrived chunked, or with
// Expect: 100-continue, is forwarded with its length and without Expect.
func TestChunkedAndExpectRequests(t *testing.T) {
	h := newHarness(t)
	var gotTE []string
	var gotCL int64
	var gotExpect string
	h.up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		gotTE, gotCL, gotExpect = r.TransferEncoding, r.ContentLength, r.Header.Get("Expect")
		return false
	}
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Memory-User-Id: sarah\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || len(gotTE) != 0 || gotCL != int64(len(body)) || gotExpect != "" {
		t.Errorf("status %d; upstream saw Transfer-Encoding %v, Content-Length %d, Expect %q", resp.StatusCode, gotTE, gotCL, gotExpect)
	}
}

// TestLongStreamsLearnOnlyWhenComplete: past the capture limit the reply
// is not kept, but the stream's end still decides whether to learn.
func TestLongStreamsLearnOnlyWhenComplete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   string
		learn bool
	}{
		{"completed", "data: [DONE]\n\n", true},
		{"in-band error at the end", "data: {\"error\":{\"message\":\"boom\"}}\n\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			chunk := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + strings.Repeat("x", 4000) + "\"}}]}\n\n"
			h.up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				w.Header().Set("Content-Type", "text/event-stream")
				for range (maxCapture / len(chunk)) + 100 {
					io.WriteString(w, chunk)
				}
				io.WriteString(w, tc.end)
				return true
			}
			resp, body := h.do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"I collect vinyl records."}]}`, ids("sarah", ""))
			if resp.StatusCode != 200 || len(body) < maxCapture {
				t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
			}
			h.settle()
			if got := len(h.memories(memory.UserFilter("sarah"), 0)) == 1; got != tc.learn {
				t.Errorf("learned = %v, want %v", got, tc.learn)
			}
		})
	}
}
