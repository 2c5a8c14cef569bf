package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embedded"
)

// process is the memproxy binary running as a child process.
type process struct {
	t   *testing.T
	cmd *exec.Cmd
	url string
	log *syncBuffer
}

// buildBinary builds memproxy once per test into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "memproxy")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building memproxy: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startProcess(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	addr := freeAddr(t)
	p := &process{t: t, url: "http://" + addr, log: &syncBuffer{}}
	p.cmd = exec.Command(bin)
	p.cmd.Env = []string{"MEMPROXY_LISTEN=" + addr, "MEMPROXY_LOG_LEVEL=info"}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("memproxy logs:\n%s", p.log)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("memproxy did not come up: %v\n%s", err, p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *process) outbox() memory.OutboxStats {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/memproxy/outbox", nil)
	req.Header.Set("Authorization", "Token "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st memory.OutboxStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

// TestKill9WithQueuedTurns queues 1,000 turns behind a slow embedder,
// kills the sidecar with SIGKILL, restarts it, and checks that every turn
// is applied exactly once: 1,000 memories, one history record each.
func TestKill9WithQueuedTurns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const turns = 1000
	bin := buildBinary(t)
	var slow atomic.Bool
	slow.Store(true)
	up := fakeupstream.New()
	up.NoRecord = true
	up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.URL.Path == "/v1/embeddings" && slow.Load() {
			time.Sleep(200 * time.Millisecond) // the writer falls behind
		}
		return false
	}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
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
	var wg sync.WaitGroup
	var failed atomic.Int64
	work := make(chan int)
	for range 20 {
		wg.Go(func() {
			for i := range work {
				body := fmt.Sprintf(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"My locker number is %d."}]}`, i)
				req, _ := http.NewRequest("POST", p.url+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("X-Memory-User-Id", fmt.Sprint("user-", i%50))
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		})
	}
	for i := range turns {
		work <- i
	}
	close(work)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d chat calls failed", n)
	}
	// Every answered turn reaches the outbox a moment after its response.
	var queued int
	for range 100 {
		if queued = p.outbox().Pending; queued > 0 {
			time.Sleep(20 * time.Millisecond)
			if p.outbox().Pending == queued {
				break
			}
		}
	}
	if queued < turns/2 {
		t.Fatalf("only %d turns queued at the kill; the test needs the writer behind", queued)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	t.Logf("killed with %d of %d turns queued", queued, turns)

	slow.Store(false)
	p = startProcess(t, bin, env)
	deadline := time.Now().Add(2 * time.Minute)
	for st := p.outbox(); st.Pending > 0 || st.Dead > 0; st = p.outbox() {
		if st.Dead > 0 || time.Now().After(deadline) {
			t.Fatalf("after restart: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	st, err := embedded.Open(dataDir, fakeupstream.EmbeddingDims, "openai:fake-embed")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	ms, err := st.List(ctx, memory.Filter{}, memory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]int{}
	history := 0
	for _, m := range ms {
		texts[m.Text]++
		hs, err := st.History(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0].Event != memory.EventAdd {
			t.Errorf("memory %q has history %+v, want one ADD", m.Text, hs)
		}
		history += len(hs)
	}
	if len(ms) != turns || len(texts) != turns || history != turns {
		t.Errorf("after kill -9 and restart: %d memories (%d distinct), %d history records; want %d of each", len(ms), len(texts), history, turns)
	}
	for i := range turns {
		if texts[fmt.Sprintf("My locker number is %d.", i)] != 1 {
			t.Errorf("turn %d applied %d times", i, texts[fmt.Sprintf("My locker number is %d.", i)])
			break
		}
	}
}
