package inspector

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/internal/sidecartest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
)

func TestOutboxDeadLettersRetryAndDrop(t *testing.T) {
	env := sidecartest.New(t)
	ob, err := learn.OpenOutbox(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	in := New(Options{Memories: env.Service, Queue: ob, APIKeys: []string{testKey}})
	h := engine(in)
	cookie, csrf := loggedIn(t, in, h)
	a := &apiEnv{t: t, env: env, h: h, cookie: cookie, csrf: csrf}
	// A writer whose store cannot search: with one attempt allowed, the
	// turn becomes a dead letter.
	w := learn.NewWriter(&learn.Service{Store: sidecartest.BrokenStore{Store: env.Store}, Embedder: env.Embedder, MinChars: 8}, ob,
		learn.WriterConfig{MaxAttempts: 1}, slog.New(slog.DiscardHandler))
	if err := w.Enqueue(learn.Turn{ID: "req_secret", Identity: memory.Identity{UserID: "sarah"}, UserMessages: []string{"My PIN is 4921, keep it safe."}}); err != nil {
		t.Fatal(err)
	}
	sidecartest.Drain(w)

	var out struct {
		Dead        int `json:"dead"`
		DeadLetters []struct {
			Seq    uint64 `json:"seq"`
			TurnID string `json:"turn_id"`
			UserID string `json:"user_id"`
		} `json:"dead_letters"`
	}
	w2 := serve(h, "GET", "/memproxy/ui/api/outbox", "", map[string]string{"Cookie": cookie})
	if strings.Contains(w2.Body.String(), "4921") {
		t.Errorf("the outbox view shows what the user said: %s", w2.Body)
	}
	a.call("GET", "/outbox", "", http.StatusOK, &out)
	if out.Dead != 1 || len(out.DeadLetters) != 1 || out.DeadLetters[0].TurnID != "req_secret" || out.DeadLetters[0].UserID != "sarah" {
		t.Fatalf("outbox: %+v", out)
	}
	seq := out.DeadLetters[0].Seq
	a.call("POST", fmt.Sprintf("/outbox/dead/%d/retry", seq), "", http.StatusOK, nil)
	if ob.Stats().Dead != 0 || ob.Stats().Pending != 1 {
		t.Fatalf("after retry: %+v", ob.Stats())
	}
	sidecartest.Drain(w) // fails again: dead again
	a.call("DELETE", fmt.Sprintf("/outbox/dead/%d", seq), "", http.StatusOK, nil)
	if s := ob.Stats(); s.Dead != 0 || s.Pending != 0 {
		t.Errorf("after drop: %+v", s)
	}
	a.call("POST", "/outbox/dead/notanumber/retry", "", http.StatusBadRequest, nil)
}
