package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

const streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"I swim 2K every Tuesday morning."}]}`

func post(t *testing.T, ctx context.Context, url, body string, header map[string]string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

// TestStreamEventsArriveBeforeTheNext proves the relay does not hold
// events back: the upstream sends one event and waits; the client must
// have it before the upstream sends the next.
func TestStreamEventsArriveBeforeTheNext(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{"with memory", ids("sarah", "fitcoach_v1")},
		{"passthrough", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			release := make(chan struct{})
			h.Up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(5 * time.Second):
				case <-r.Context().Done():
					return true
				}
				fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"second\"}}]}\n\ndata: [DONE]\n\n")
				return true
			}
			resp, err := post(t, context.Background(), h.Srv.URL+"/v1/chat/completions", streamBody, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			lines := make(chan string)
			go func() {
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
			}()
			select {
			case l := <-lines:
				if !strings.Contains(l, "first") {
					t.Fatalf("first line = %q", l)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the first event did not reach the client while the upstream waited: the relay is buffering")
			}
			close(release)
			var rest []string
			for l := range lines {
				rest = append(rest, l)
			}
			if !strings.Contains(strings.Join(rest, "\n"), "second") || rest[len(rest)-2] != "data: [DONE]" {
				t.Errorf("rest of the stream: %q", rest)
			}
		})
	}
}

// TestClientDisconnectCancelsUpstream proves that a client going away
// cancels the upstream request within 100 ms, before the upstream answered
// and in the middle of a stream.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	for _, tc := range []struct {
		name      string
		path      string
		header    map[string]string
		midStream bool
	}{
		{"chat with memory, waiting for headers", "/v1/chat/completions", ids("sarah", "fitcoach_v1"), false},
		{"chat with memory, mid-stream", "/v1/chat/completions", ids("sarah", "fitcoach_v1"), true},
		{"responses with memory, mid-stream", "/v1/responses", ids("sarah", ""), true},
		{"passthrough, waiting for headers", "/v1/chat/completions", nil, false},
		{"other path, mid-stream", "/v1/completions", ids("sarah", ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			started := make(chan struct{})
			canceled := make(chan time.Time, 1)
			h.Up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				if tc.midStream {
					w.Header().Set("Content-Type", "text/event-stream")
					fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n")
					w.(http.Flusher).Flush()
				}
				close(started)
				select {
				case <-r.Context().Done():
					canceled <- time.Now()
				case <-time.After(10 * time.Second):
				}
				return true
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			firstEvent := make(chan struct{})
			go func() {
				resp, err := post(t, ctx, h.Srv.URL+tc.path, streamBody, tc.header)
				if err == nil {
					br := bufio.NewReader(resp.Body)
					if _, err = br.ReadString('\n'); err == nil {
						close(firstEvent)
						_, err = io.Copy(io.Discard, br)
					}
					resp.Body.Close()
				}
				errc <- err
			}()
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream never got the request")
			}
			if tc.midStream {
				select { // the first event reached the client
				case <-firstEvent:
				case <-time.After(5 * time.Second):
					t.Fatal("the first event never reached the client")
				}
			}
			gone := time.Now()
			cancel()
			select {
			case at := <-canceled:
				if d := at.Sub(gone); d > 100*time.Millisecond {
					t.Errorf("upstream saw the cancellation %v after the client left; want within 100ms", d)
				} else {
					t.Logf("upstream canceled %v after the client left", d)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("the upstream request was not canceled when the client went away")
			}
			if err := <-errc; err == nil {
				t.Errorf("the client's request succeeded after it was canceled")
			}
			h.Settle()
			if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 0 {
				t.Errorf("a canceled turn was learned: %v", ms)
			}
		})
	}
}

// TestLargeSSELine proves there is no line limit: a 1 MB event passes
// intact, with memory on.
func TestLargeSSELine(t *testing.T) {
	h := newHarness(t)
	big := strings.Repeat("x", 1<<20)
	stream := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + big + "\"}}]}\n\n" +
		"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
	h.Up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
		return true
	}
	resp, body := h.Do("POST", "/v1/chat/completions", streamBody, ids("sarah", "fitcoach_v1"))
	if resp.StatusCode != 200 || body != stream {
		t.Fatalf("status %d; got %d bytes, want the %d bytes sent, intact", resp.StatusCode, len(body), len(stream))
	}
	h.Settle()
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 1 {
		t.Errorf("the turn with a 1 MB answer was not learned: %d memories", len(ms))
	}
}

// TestUpstreamErrorsReachTheClient proves that upstream errors arrive
// unchanged, and that failed turns are not learned.
func TestUpstreamErrorsReachTheClient(t *testing.T) {
	h := newHarness(t)
	direct := func(body string) (int, string) {
		resp, err := http.Post(h.UpSrv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct{ name, body string }{
		{"429", `{"model":"error-429","messages":[{"role":"user","content":"I swim 2K every Tuesday."}]}`},
		{"500", `{"model":"error-500","messages":[{"role":"user","content":"I swim 2K every Tuesday."}]}`},
		{"in-band stream error", `{"model":"error-inband","stream":true,"messages":[{"role":"user","content":"I swim 2K every Tuesday."}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus, wantBody := direct(tc.body)
			resp, body := h.Do("POST", "/v1/chat/completions", tc.body, ids("sarah", "fitcoach_v1"))
			if resp.StatusCode != wantStatus {
				t.Errorf("status %d, want the upstream's %d", resp.StatusCode, wantStatus)
			}
			// The fake's ids and timestamps differ per call; compare the shape.
			if norm(body) != norm(wantBody) {
				t.Errorf("body differs from the upstream's:\n got %s\nwant %s", body, wantBody)
			}
		})
	}
	h.Settle()
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 0 {
		t.Errorf("failed turns were learned: %v", ms)
	}
}

// norm blanks the digits of ids and timestamps.
func norm(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '0'
		}
		return r
	}, s)
}

func TestUpstreamUnreachable(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Upstream, _ = url.Parse("http://127.0.0.1:1/v1")
	})
	resp, body := h.Do("POST", "/v1/chat/completions", streamBody, ids("sarah", ""))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, `"code":"upstream_unreachable"`) {
		t.Errorf("got %d %s, want 502 with an OpenAI-shaped error", resp.StatusCode, body)
	}
	if resp.Header.Get(HeaderStatus) == "" {
		t.Errorf("the memory status header is missing on an upstream failure")
	}
}

// TestCompressedUpstream proves Accept-Encoding breaks nothing: a memory
// route answers plain bytes that the tee can read, and a passthrough keeps
// the upstream's encoding for the client to decode.
func TestCompressedUpstream(t *testing.T) {
	h := newHarness(t)
	h.Up.Gzip = true
	nonStream := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"I swim 2K every Tuesday morning."}]}`
	for _, body := range []string{streamBody, nonStream} {
		resp, got := h.Do("POST", "/v1/chat/completions", body, with(ids("sarah", "fitcoach_v1"), "Accept-Encoding", "gzip"))
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("memory route answered with Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		if !strings.Contains(got, "said") || strings.Contains(got, "\x1f\x8b") {
			t.Errorf("memory route body is not readable: %q", got)
		}
	}
	h.Settle()
	if ms := h.Memories(memory.UserFilter("sarah")); len(ms) != 1 {
		t.Errorf("learned %d memories from compressed answers, want 1 (the same fact twice)", len(ms))
	}

	resp, got := h.Do("POST", "/v1/chat/completions", nonStream, map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("passthrough lost the upstream's encoding")
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(got)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !strings.Contains(string(plain), "You said") {
		t.Errorf("passthrough body does not decode: %v %q", err, plain)
	}
}

// TestLearningFromEachShape covers the answers a turn is learned from.
func TestLearningFromEachShape(t *testing.T) {
	for _, tc := range []struct{ name, path, body string }{
		{"chat", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"My sister Anna lives in Lyon."}]}`},
		{"chat stream with usage", "/v1/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"My sister Anna lives in Lyon."}]}`},
		{"chat with tools", "/v1/chat/completions", `{"model":"m","stream":true,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}],"messages":[{"role":"user","content":"My sister Anna lives in Lyon."}]}`},
		{"responses", "/v1/responses", `{"model":"m","input":"My sister Anna lives in Lyon."}`},
		{"responses stream", "/v1/responses", `{"model":"m","stream":true,"input":[{"role":"user","content":"My sister Anna lives in Lyon."}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			resp, _ := h.Do("POST", tc.path, tc.body, ids("sarah", "fitcoach_v1"))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			ms := h.Memories(memory.UserFilter("sarah"))
			if len(ms) != 1 || ms[0].Text != "My sister Anna lives in Lyon." {
				t.Fatalf("learned %v, want the user's statement", ms)
			}
			m := ms[0]
			// A fact about the user: a user memory, for all her agents.
			if _, ok := m.Metadata["agent_id"]; ok || m.Metadata["request_id"] != resp.Header.Get(HeaderRequestID) {
				t.Errorf("metadata = %v, want no agent_id (a fact about the user) and the request id", m.Metadata)
			}
			if m.AgentID != "" {
				t.Errorf("a learned user fact has agent_id %q; the agent belongs in metadata", m.AgentID)
			}
		})
	}
}
