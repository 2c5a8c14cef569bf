// Package sidecartest builds what a sidecar under test stands on: a fake
// upstream, a real embedded store, the real outbox and writer, each on
// loopback, and a client for the sidecar's HTTP side. The tests of package
// proxy and package memapi share it.
package sidecartest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
	"github.com/memproxy/memproxy/memory/learn"
)

// Key is the memory API key of the sidecars under test.
const Key = "test-api-key"

// drainTimeout bounds how long Settle waits for the writer to apply what
// is queued: far longer than it takes, so that only a hung writer hits it.
const drainTimeout = time.Minute

// An Env is a sidecar's surroundings: the upstream it forwards to, the
// store and writer it learns through, and, once Serve is called, the
// sidecar itself on a loopback server.
type Env struct {
	T         *testing.T
	Up        *fakeupstream.Upstream
	UpSrv     *httptest.Server
	Upstream  *url.URL // UpSrv's base URL, as an OpenAI SDK would use it
	Store     memory.Store
	Embedder  memory.Embedder
	Service   *memory.Service // the memory API's
	Learning  *learn.Service  // the writer's, and Service's adds
	Outbox    *learn.Outbox
	OutboxDir string
	Writer    *learn.Writer
	// Srv serves the sidecar (see Serve).
	Srv *httptest.Server

	handoffs   func(context.Context) error
	stopWriter func()
}

// New returns an Env whose writer is running. Everything stops when the
// test ends.
func New(t *testing.T) *Env {
	t.Helper()
	e := &Env{T: t, Up: fakeupstream.New(), Embedder: embed.NewHash(0)}
	e.UpSrv = httptest.NewServer(e.Up)
	t.Cleanup(e.UpSrv.Close)
	e.Upstream, _ = url.Parse(e.UpSrv.URL + "/v1")
	st, err := embedded.Open(t.TempDir(), e.Embedder.Dimensions(), e.Embedder.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.Store = st
	e.Learning = &learn.Service{Store: st, Embedder: e.Embedder, MinChars: 8}
	e.Service = &memory.Service{Store: st, Embedder: e.Embedder, Adder: e.Learning}
	e.OutboxDir = t.TempDir()
	if e.Outbox, err = learn.OpenOutbox(e.OutboxDir, 100); err != nil {
		t.Fatal(err)
	}
	e.Writer = learn.NewWriter(e.Learning, e.Outbox, learn.WriterConfig{}, slog.New(slog.DiscardHandler))
	e.startWriter()
	t.Cleanup(func() { e.stopWriter(); e.Outbox.Close() })
	return e
}

// Retriever recalls from the Env's store, as the sidecar's Recaller.
func (e *Env) Retriever() *memory.Retriever {
	return &memory.Retriever{Store: e.Store, Embedder: e.Embedder}
}

func (e *Env) startWriter() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Writer.Run(ctx, drainTimeout); close(done) }()
	e.stopWriter = func() { cancel(); <-done }
}

// Serve serves sidecar on Srv. handoffs waits until every answer served
// has been handed to the writer (proxy.Server.WaitHandoffs).
func (e *Env) Serve(sidecar http.Handler, handoffs func(context.Context) error) {
	e.handoffs = handoffs
	e.Srv = httptest.NewServer(sidecar)
	e.T.Cleanup(e.Srv.Close)
}

// Settle returns once the turns of every answer served so far have been
// learned: handed to the writer, and applied (or, failing, left queued
// for a retry). It stops the writer, which then applies everything due
// and returns, and starts it again.
func (e *Env) Settle() {
	e.T.Helper()
	if e.handoffs != nil {
		if err := e.handoffs(context.Background()); err != nil {
			e.T.Fatal(err)
		}
	}
	e.stopWriter()
	e.startWriter()
}

// Drain runs w until every turn due in its outbox has been applied or
// parked as a dead letter.
func Drain(w *learn.Writer) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a stopped writer applies what is due, then returns
	w.Run(ctx, drainTimeout)
}

// Add stores a memory directly, as an operator would through the API.
func (e *Env) Add(text string, scope memory.Scope, metadata map[string]any) {
	e.T.Helper()
	_, err := e.Service.Add(context.Background(), memory.AddRequest{
		Scope: scope, Messages: []memory.Message{{Role: "user", Content: text}}, Metadata: metadata,
	})
	if err != nil {
		e.T.Fatalf("adding memory: %v", err)
	}
}

// Memories lists the memories f selects once everything served so far
// has been learned (see Settle).
func (e *Env) Memories(f memory.Filter) []memory.Memory {
	e.T.Helper()
	e.Settle()
	ms, err := e.Store.List(context.Background(), f, memory.Page{})
	if err != nil {
		e.T.Fatal(err)
	}
	return ms
}

// Do sends a request to the sidecar and returns the response with its
// body read.
func (e *Env) Do(method, path, body string, header map[string]string) (*http.Response, string) {
	e.T.Helper()
	req, err := http.NewRequest(method, e.Srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatalf("reading response: %v", err)
	}
	return resp, string(b)
}

// Received returns the last request the upstream got at path.
func (e *Env) Received(path string) fakeupstream.Request {
	e.T.Helper()
	r, ok := e.Up.Last(path)
	if !ok {
		e.T.Fatalf("upstream received nothing at %s", path)
	}
	return r
}

// IDs are the identity headers of a user and an agent (either may be "").
func IDs(user, agent string) map[string]string {
	m := map[string]string{}
	if user != "" {
		m["X-Memory-User-Id"] = user
	}
	if agent != "" {
		m["X-Memory-Agent-Id"] = agent
	}
	return m
}

// With returns a copy of m with the header names and values kv added.
func With(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Token is the header of a memory API call with key.
func Token(key string) map[string]string { return map[string]string{"Authorization": "Token " + key} }

// BrokenStore fails every search; the rest works.
type BrokenStore struct{ memory.Store }

func (BrokenStore) Search(context.Context, memory.SearchRequest) ([]memory.Hit, error) {
	return nil, errors.New("connection refused")
}
