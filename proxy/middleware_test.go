package proxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/memproxy/memproxy/internal/requestid"
	"github.com/memproxy/memproxy/memory"
)

// logBuffer collects JSON log lines from the server's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the records logged with message msg.
func (b *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestRequestIDs: a sane X-Request-Id is the request's id, echoed and on
// every log line of the request; any other gets an id of the sidecar's.
func TestRequestIDs(t *testing.T) {
	logs := &logBuffer{}
	h := newHarness(t, func(o *Options) {
		o.Logger = slog.New(requestid.NewHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	})
	for _, tc := range []struct{ sent, want string }{
		{"gw-7f3a:0001", "gw-7f3a:0001"},
		{"two words", "req_"},
		{strings.Repeat("x", requestid.MaxLen+1), "req_"},
		{"", "req_"},
	} {
		hdr := map[string]string{}
		if tc.sent != "" {
			hdr[requestid.Header] = tc.sent
		}
		resp, _ := h.Do("GET", "/healthz", "", hdr)
		got := resp.Header.Get(HeaderRequestID)
		if !strings.HasPrefix(got, tc.want) || tc.want == "req_" && len(got) != len("req_")+24 {
			t.Errorf("X-Request-Id %q: %s = %q, want %q", tc.sent, HeaderRequestID, got, tc.want)
		}
		access := logs.lines(t, "request")
		if last := access[len(access)-1]; last["request_id"] != got {
			t.Errorf("X-Request-Id %q: the access log says request_id %v, want %q", tc.sent, last["request_id"], got)
		}
	}
	// A line logged on the chat path carries it too, without the call
	// site adding it.
	h.Do("POST", "/v1/chat/completions", `{"messages":[`, with(ids("sarah", ""), requestid.Header, "chat-1"))
	if ls := logs.lines(t, "request not readable for memory"); len(ls) != 1 || ls[0]["request_id"] != "chat-1" {
		t.Errorf("chat path log lines: %v", ls)
	}
}

// TestClientRequestIDsDoNotMergeTurns: a client's request id may be
// reused, or sent by another client alike; each turn is learned all the
// same.
func TestClientRequestIDsDoNotMergeTurns(t *testing.T) {
	h := newHarness(t)
	for _, user := range []string{"sarah", "mike"} {
		resp, _ := h.Do("POST", "/v1/chat/completions", chatBody("I keep bees in my garden."), with(ids(user, ""), requestid.Header, "same-id"))
		if got := resp.Header.Get(HeaderRequestID); got != "same-id" {
			t.Errorf("%s = %q, want the client's", HeaderRequestID, got)
		}
	}
	for _, user := range []string{"sarah", "mike"} {
		if ms := h.Memories(memory.UserFilter(user)); len(ms) != 1 {
			t.Errorf("%s has %d memories, want the one fact learned", user, len(ms))
		}
	}
}
