package proxy

import (
	"bytes"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/internal/sidecartest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// Shorthands of the shared harness.
var (
	ids  = sidecartest.IDs
	with = sidecartest.With
)

// harness is a sidecar on a real embedded store and the real writer, in
// front of a fake upstream, both on loopback HTTP servers.
type harness struct {
	*sidecartest.Env
	server *Server
}

func newHarness(t *testing.T, configure ...func(*Options)) *harness {
	t.Helper()
	env := sidecartest.New(t)
	opts := Options{
		Upstream: env.Upstream,
		Recaller: env.Retriever(),
		Learner:  env.Writer,
		Queue:    env.Outbox,
		Logger:   slog.New(slog.DiscardHandler),
		// A recall that times out on a busy machine fails open and injects
		// nothing; tests about what is injected would then fail for a
		// reason that is not theirs. Tests about the budget set their own.
		RecallTimeout: time.Minute,
	}
	for _, c := range configure {
		c(&opts)
	}
	if opts.Policies != nil {
		env.Learning.Policies = opts.Policies // the writer learns by the same rules
	}
	h := &harness{Env: env, server: New(opts)}
	env.Serve(h.server, h.server.WaitHandoffs)
	return h
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
