package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
	"github.com/memproxy/memproxy/memory/learn"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const testKey = "test-api-key"

// harness is a sidecar on a real embedded store and the real writer, in
// front of a fake upstream, both on loopback HTTP servers.
type harness struct {
	t         *testing.T
	up        *fakeupstream.Upstream
	upSrv     *httptest.Server
	store     memory.Store
	embedder  memory.Embedder
	svc       *memory.Service
	learning  *learn.Service
	outbox    *learn.Outbox
	outboxDir string
	server    *Server
	srv       *httptest.Server
}

func newHarness(t *testing.T, configure ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, up: fakeupstream.New(), embedder: embed.NewHash(0)}
	h.upSrv = httptest.NewServer(h.up)
	t.Cleanup(h.upSrv.Close)
	st, err := embedded.Open(t.TempDir(), h.embedder.Dimensions(), h.embedder.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store = st
	h.learning = &learn.Service{Store: st, Embedder: h.embedder, MinChars: 8}
	h.svc = &memory.Service{Store: st, Embedder: h.embedder, Adder: h.learning}
	h.outboxDir = t.TempDir()
	outbox, err := learn.OpenOutbox(h.outboxDir, 100)
	if err != nil {
		t.Fatal(err)
	}
	h.outbox = outbox
	writer := learn.NewWriter(h.learning, outbox, learn.WriterConfig{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { writer.Run(ctx, time.Second); close(done) }()
	t.Cleanup(func() { cancel(); <-done; outbox.Close() })

	up, _ := url.Parse(h.upSrv.URL + "/v1")
	opts := Options{
		Upstream: up,
		Recaller: &memory.Retriever{Store: st, Embedder: h.embedder},
		Learner:  writer,
		Memories: h.svc,
		Queue:    outbox,
		APIKeys:  []string{testKey},
		Logger:   slog.New(slog.DiscardHandler),
	}
	for _, c := range configure {
		c(&opts)
	}
	if opts.Policies != nil {
		h.learning.Policies = opts.Policies // the writer learns by the same rules
	}
	h.server = New(opts)
	h.srv = httptest.NewServer(h.server)
	t.Cleanup(h.srv.Close)
	return h
}

// add stores a memory directly, as an operator would through the API.
func (h *harness) add(text string, scope memory.Scope, metadata map[string]any) {
	h.t.Helper()
	_, err := h.svc.Add(context.Background(), memory.AddRequest{
		Scope: scope, Messages: []memory.Message{{Role: "user", Content: text}}, Metadata: metadata,
	})
	if err != nil {
		h.t.Fatalf("adding memory: %v", err)
	}
}

// do sends a request to the sidecar and returns the response with its
// body read.
func (h *harness) do(method, path, body string, header map[string]string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("reading response: %v", err)
	}
	return resp, string(b)
}

// received returns the body of the last request the upstream got at path.
func (h *harness) received(path string) fakeupstream.Request {
	h.t.Helper()
	r, ok := h.up.Last(path)
	if !ok {
		h.t.Fatalf("upstream received nothing at %s", path)
	}
	return r
}

// memories lists a scope's memories, waiting up to two seconds for at
// least want of them to appear (learning is asynchronous).
func (h *harness) memories(f memory.Filter, want int) []memory.Memory {
	h.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		ms, err := h.store.List(context.Background(), f, memory.Page{})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(ms) >= want || time.Now().After(deadline) {
			return ms
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle waits until in-flight turns have been handed to the writer and
// the writer has had time to apply them.
func (h *harness) settle() {
	h.server.WaitHandoffs(context.Background())
	time.Sleep(50 * time.Millisecond)
}

func ids(user, agent string) map[string]string {
	m := map[string]string{}
	if user != "" {
		m["X-Memory-User-Id"] = user
	}
	if agent != "" {
		m["X-Memory-Agent-Id"] = agent
	}
	return m
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// oneInsertion reports whether out is in with one contiguous insertion,
// and returns the inserted text.
func oneInsertion(in, out []byte) (string, bool) {
	p := 0
	for p < len(in) && p < len(out) && in[p] == out[p] {
		p++
	}
	s := 0
	for s < len(in)-p && s < len(out)-p && in[len(in)-1-s] == out[len(out)-1-s] {
		s++
	}
	return string(out[p : len(out)-s]), p+s == len(in) && bytes.Equal(in[:p], out[:p])
}

// fullOutbox returns an outbox of one turn that holds one turn.
func fullOutbox(t *testing.T) *learn.Outbox {
	t.Helper()
	ob, err := learn.OpenOutbox(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	if err := ob.Enqueue(learn.Turn{ID: "x", Identity: memory.Identity{UserID: "u"}, UserMessages: []string{"A fact that fills the queue."}}); err != nil {
		t.Fatal(err)
	}
	return ob
}
