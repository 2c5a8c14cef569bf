package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/sidecartest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
)

// slowStore answers searches after a delay, honouring its context.
type slowStore struct {
	memory.Store
	delay time.Duration
}

func (s slowStore) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	select {
	case <-time.After(s.delay):
		return s.Store.Search(ctx, r)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// unreachableStore fails every search at once with the error a store
// keeps while it cannot connect: one that quotes its connection attempt's
// deadline, long past, not the request's.
type unreachableStore struct{ memory.Store }

func (unreachableStore) Search(context.Context, memory.SearchRequest) ([]memory.Hit, error) {
	return nil, fmt.Errorf("milvus store unavailable: connecting to 127.0.0.1:1: %w", context.DeadlineExceeded)
}

// hungEmbedder never answers and ignores its context: the worst case.
type hungEmbedder struct {
	memory.Embedder
	release chan struct{}
}

func (e hungEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	<-e.release
	return nil, errors.New("released")
}

// failingEmbedder fails at once.
type failingEmbedder struct{ memory.Embedder }

func (failingEmbedder) Embed(context.Context, []string) ([][]float32, error) {
	return nil, errors.New("503 from the embedding server")
}

// TestMemoryFailureFailsOpen proves a chat call is answered, within the
// latency budget plus a little, whatever memory does, and that the
// response says why no memories came.
func TestMemoryFailureFailsOpen(t *testing.T) {
	const budget = 100 * time.Millisecond
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name       string
		recaller   func(h *harness) Recaller
		wantReason string
		slow       bool // the failure takes the whole budget
	}{
		{"store erroring", func(h *harness) Recaller {
			return &memory.Retriever{Store: sidecartest.BrokenStore{Store: h.Store}, Embedder: h.Embedder}
		}, "failed-open: store error", false},
		{"store unreachable", func(h *harness) Recaller {
			return &memory.Retriever{Store: unreachableStore{h.Store}, Embedder: h.Embedder}
		}, "failed-open: store error", false},
		{"store slow", func(h *harness) Recaller {
			return &memory.Retriever{Store: slowStore{h.Store, time.Second}, Embedder: h.Embedder}
		}, "failed-open: timeout", true},
		{"embedder hanging", func(h *harness) Recaller {
			return &memory.Retriever{Store: h.Store, Embedder: hungEmbedder{h.Embedder, release}}
		}, "failed-open: timeout", true},
		{"embedder erroring", func(h *harness) Recaller {
			return &memory.Retriever{Store: h.Store, Embedder: failingEmbedder{h.Embedder}}
		}, "failed-open: embedder error", false},
	}
	body := `{"model":"m","messages":[{"role":"user","content":"Just finished my run!"}]}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.RecallTimeout = budget })
			fitcoach(h)
			h.server.opts.Recaller = tt.recaller(h)
			// Warm up the connections so that the timing measures memory alone.
			h.Do("GET", "/v1/models", "", nil)

			start := time.Now()
			resp, got := h.Do("POST", "/v1/chat/completions", body, ids("sarah", "fitcoach_v1"))
			elapsed := time.Since(start)
			if resp.StatusCode != 200 || !strings.Contains(got, "You said") {
				t.Fatalf("the chat call failed: %d %s", resp.StatusCode, got)
			}
			if s := resp.Header.Get(HeaderStatus); s != tt.wantReason {
				t.Errorf("%s = %q, want %q", HeaderStatus, s, tt.wantReason)
			}
			if resp.Header.Get(HeaderInjected) != "0" {
				t.Errorf("%s = %q, want 0", HeaderInjected, resp.Header.Get(HeaderInjected))
			}
			if strings.Contains(string(h.Received("/v1/chat/completions").Body), "memproxy-memories") {
				t.Errorf("a block reached the upstream despite the failure")
			}
			// A slow failure is cut at the budget: well before the slow store
			// (1 s) or the hung embedder (never) would answer. The slack is
			// for a machine whose cores other work keeps busy. A quick
			// failure says so in its reason (not "timeout") rather than in
			// a wall-clock bound, which a busy machine would break.
			if limit := budget + 700*time.Millisecond; tt.slow && elapsed > limit {
				t.Errorf("answered after %v, want at most %v", elapsed, limit)
			}
			if tt.slow && elapsed < budget {
				t.Errorf("answered after %v, before the budget of %v ran out", elapsed, budget)
			}
			t.Logf("answered in %v", elapsed)
		})
	}
}

// TestLearningFailureIsInvisible proves a full learning queue costs the
// chat call nothing.
func TestLearningFailureIsInvisible(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Learner = fullQueue{} })
	resp, got := h.Do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"I like tea."}]}`, ids("sarah", ""))
	if resp.StatusCode != 200 || !strings.Contains(got, "You said") {
		t.Fatalf("chat failed: %d %s", resp.StatusCode, got)
	}
	h.Settle()
}

type fullQueue struct{}

func (fullQueue) Enqueue(learn.Turn) error { return learn.ErrQueueFull }
