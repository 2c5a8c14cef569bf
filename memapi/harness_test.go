package memapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/internal/sidecartest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/proxy"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// Shorthands of the shared harness.
const testKey = sidecartest.Key

var (
	ids   = sidecartest.IDs
	token = sidecartest.Token
)

// harness is the memory API, plugged into a chat proxy, on a real
// embedded store and the real writer, in front of a fake upstream.
type harness struct {
	*sidecartest.Env
}

func newHarness(t *testing.T, configure ...func(*Options)) *harness {
	t.Helper()
	env := sidecartest.New(t)
	log := slog.New(slog.DiscardHandler)
	opts := Options{
		Memories: env.Service,
		Queue:    env.Outbox,
		APIKeys:  []string{testKey},
		Recaller: env.Retriever(),
		Logger:   log,
	}
	for _, c := range configure {
		c(&opts)
	}
	server := proxy.New(proxy.Options{
		Upstream: env.Upstream,
		Recaller: env.Retriever(),
		Learner:  env.Writer,
		Queue:    env.Outbox,
		API:      New(opts),
		Logger:   log,
		// Generous, so that a busy machine never makes recall fail open:
		// no test here is about the recall budget.
		RecallTimeout: time.Minute,
	})
	env.Serve(server, server.WaitHandoffs)
	return &harness{env}
}

// api sends a memory API request with the test key and decodes the JSON
// answer into out (when not nil), failing unless the status is want.
func (h *harness) api(method, path, body string, want int, out any) string {
	h.T.Helper()
	resp, got := h.Do(method, path, body, token(testKey))
	if resp.StatusCode != want {
		h.T.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		h.T.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(got), out); err != nil {
			h.T.Fatalf("%s %s: decoding %s: %v", method, path, got, err)
		}
	}
	return got
}

// snapshot is everything the store holds, to show a refused request
// wrote nothing.
func (h *harness) snapshot() string {
	h.T.Helper()
	ms, err := h.Store.List(h.T.Context(), memory.Filter{}, memory.Page{})
	if err != nil {
		h.T.Fatal(err)
	}
	var b strings.Builder
	for _, m := range ms {
		rs, _ := h.Store.History(h.T.Context(), m.ID)
		fmt.Fprintf(&b, "%s %q %v %v %s %d\n", m.ID, m.Text, m.Metadata, m.ExpiresAt, m.UpdatedAt, len(rs))
	}
	return b.String()
}
