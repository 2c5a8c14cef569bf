package memapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/internal/sidecartest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
)

func TestQueueEndpoints(t *testing.T) {
	ob, err := learn.OpenOutbox(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	h := newHarness(t, func(o *Options) { o.Queue = ob })
	// A writer whose store cannot search: every attempt fails, and with
	// one attempt allowed the turn becomes a dead letter.
	w := learn.NewWriter(&learn.Service{Store: sidecartest.BrokenStore{Store: h.Store}, Embedder: h.Embedder, MinChars: 8}, ob,
		learn.WriterConfig{MaxAttempts: 1}, slog.New(slog.DiscardHandler))
	if err := w.Enqueue(learn.Turn{ID: "req_secret", Identity: memory.Identity{UserID: "sarah"}, UserMessages: []string{"My PIN is 4921, keep it safe."}}); err != nil {
		t.Fatal(err)
	}
	sidecartest.Drain(w)
	if ob.Stats().Dead != 1 {
		t.Fatal("no dead letter")
	}

	if resp, _ := h.Do("GET", "/memproxy/outbox", "", nil); resp.StatusCode != 401 {
		t.Errorf("queue endpoint without a key: %d", resp.StatusCode)
	}
	resp, body := h.Do("GET", "/memproxy/outbox", "", token(testKey))
	var out struct {
		Pending, Dead int
		DeadLetters   []learn.DeadLetterView `json:"dead_letters"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if out.Dead != 1 || len(out.DeadLetters) != 1 || out.DeadLetters[0].TurnID != "req_secret" || out.DeadLetters[0].Attempts != 1 ||
		!strings.Contains(out.DeadLetters[0].LastError, "connection refused") {
		t.Errorf("queue = %s", body)
	}
	if strings.Contains(body, "4921") {
		t.Errorf("the queue endpoint shows what the user said: %s", body)
	}
	seq := out.DeadLetters[0].Seq

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/memproxy/outbox/dead/notanumber/retry", 400},
		{"POST", "/memproxy/outbox/dead/999/retry", 404},
		{"DELETE", "/memproxy/outbox/dead/999", 404},
		{"POST", fmt.Sprintf("/memproxy/outbox/dead/%d/retry", seq), 200},
	} {
		if resp, body := h.Do(tc.method, tc.path, "", token(testKey)); resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.want)
		}
	}
	// Retried, it fails once more and is dead again; then discard it.
	sidecartest.Drain(w)
	if ob.Stats().Dead != 1 {
		t.Fatal("the retried turn did not come back")
	}
	if resp, body := h.Do("DELETE", fmt.Sprintf("/memproxy/outbox/dead/%d", seq), "", token(testKey)); resp.StatusCode != 200 {
		t.Errorf("discard: %d %s", resp.StatusCode, body)
	}
	if ob.Stats().Dead != 0 {
		t.Errorf("dead letter still there after discard")
	}
}
