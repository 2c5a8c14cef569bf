package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embedded"
	"github.com/memproxy/memproxy/memory/learn"
)

// TestKill9RightAfterAnswers sends 200 chats at once, half of them
// streamed, each answered with X-Memory-Learning: on and read to its end;
// the moment the last client has its answer the sidecar is killed with
// SIGKILL. A turn whose answer the client received is in the outbox before
// the answer's last bytes left: after a restart every one is learned.
func TestKill9RightAfterAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const turns = 200
	bin := buildBinary(t)
	// The writer must not get ahead of the kill: a stalled embedder keeps
	// every turn in the outbox (recall gives up on it within its budget).
	var stalled atomic.Bool
	release := make(chan struct{})
	up := fakeupstream.New()
	up.NoRecord = true
	up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.URL.Path == "/v1/embeddings" && stalled.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	defer close(release)
	dataDir := t.TempDir()
	env := map[string]string{
		"MEMPROXY_UPSTREAM_URL":         upSrv.URL + "/v1",
		"MEMPROXY_DATA_DIR":             dataDir,
		"MEMPROXY_API_KEYS":             apiKey,
		"MEMPROXY_EMBEDDER":             "openai",
		"MEMPROXY_EMBEDDING_MODEL":      "fake-embed",
		"MEMPROXY_EMBEDDING_DIMENSIONS": fmt.Sprint(fakeupstream.EmbeddingDims),
		"MEMPROXY_RECALL_TIMEOUT":       "50ms",
		"MEMPROXY_LEARN_WORKERS":        "1",
	}
	p := startProcess(t, bin, env)
	stalled.Store(true) // after start-up, which checks the embedder

	var wg sync.WaitGroup
	var promised, failed atomic.Int64
	start := make(chan struct{})
	for i := range turns {
		wg.Go(func() {
			<-start
			stream := i%2 == 1
			body := fmt.Sprintf(`{"model":"gpt-4o-mini","stream":%v,"messages":[{"role":"user","content":"My locker number is %d."}]}`, stream, i)
			req, _ := http.NewRequest("POST", p.url+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("X-Memory-User-Id", fmt.Sprint("user-", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || stream && !strings.Contains(string(b), "[DONE]") {
				failed.Add(1)
				return
			}
			if resp.Header.Get("X-Memory-Learning") == "on" {
				promised.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	if failed.Load() > 0 || promised.Load() != turns {
		t.Fatalf("%d chats failed, %d of %d answered X-Memory-Learning: on", failed.Load(), promised.Load(), turns)
	}

	stalled.Store(false)
	p = startProcess(t, bin, env)
	var stats learn.OutboxStats
	if !waitFor(2*time.Minute, func() bool {
		stats = p.outbox()
		return stats.Dead > 0 || stats.Pending == 0
	}) || stats.Dead > 0 {
		t.Fatalf("after restart: %+v", stats)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	st, err := embedded.Open(dataDir, fakeupstream.EmbeddingDims, "openai:fake-embed")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.List(context.Background(), memory.Filter{}, memory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	learned := map[string]bool{}
	for _, m := range ms {
		learned[m.Text] = true
	}
	lost := 0
	for i := range turns {
		if !learned[fmt.Sprintf("My locker number is %d.", i)] {
			lost++
		}
	}
	t.Logf("%d of %d turns answered X-Memory-Learning: on were lost to kill -9", lost, turns)
	if lost > 0 {
		t.Errorf("%d of %d turns promised to be learned were lost", lost, turns)
	}
}
