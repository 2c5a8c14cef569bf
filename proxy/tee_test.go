package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

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
			h.Up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				w.Header().Set("Content-Type", "text/event-stream")
				for range (maxCapture / len(chunk)) + 100 {
					io.WriteString(w, chunk)
				}
				io.WriteString(w, tc.end)
				return true
			}
			resp, body := h.Do("POST", "/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"I collect vinyl records."}]}`, ids("sarah", ""))
			if resp.StatusCode != 200 || len(body) < maxCapture {
				t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
			}
			h.Settle()
			if got := len(h.Memories(memory.UserFilter("sarah"))) == 1; got != tc.learn {
				t.Errorf("learned = %v, want %v", got, tc.learn)
			}
		})
	}
}
