package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/memproxy/memproxy/memory/learn"
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
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	if err != nil {
		t.Fatalf("building memproxy: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	return startProcessWithin(t, bin, env, 20*time.Second)
}

// startProcessWithin is startProcess for a sidecar that may take up to
// limit to listen (one that first prepares its Milvus collection).
func startProcessWithin(t *testing.T, bin string, env map[string]string, limit time.Duration) *process {
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
	var err error
	if !waitFor(limit, func() bool {
		var resp *http.Response
		if resp, err = http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
		}
		return err == nil
	}) {
		t.Fatalf("memproxy did not come up: %v\n%s", err, p.log)
	}
	return p
}

func (p *process) outbox() learn.OutboxStats {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.url+"/memproxy/outbox", nil)
	req.Header.Set("Authorization", "Token "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st learn.OutboxStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

// applied is the count of turns the writer has applied, from /metrics.
func (p *process) applied() float64 {
	p.t.Helper()
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	const series = `memproxy_writer_turns_total{result="applied"}`
	if !strings.Contains(string(b), "\n"+series+" ") {
		return 0 // a counter not yet seen is zero
	}
	return metric(p.t, string(b), series)
}

// chatTurns sends the chat turns numbered from to to, from 20 clients at
// once, and fails the test unless every call succeeded.
func (p *process) chatTurns(from, to int) {
	p.t.Helper()
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
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	for i := from; i < to; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		p.t.Fatalf("%d chat calls failed", n)
	}
}

// TestKill9WithQueuedTurns has the sidecar apply 100 turns, then queues
// 900 more behind a stalled embedder, kills the sidecar with SIGKILL,
// restarts it, and checks that every turn is applied exactly once: 1,000
// memories, one history record each.
func TestKill9WithQueuedTurns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const turns, first = 1000, 100
	bin := buildBinary(t)
	env, stalled := stallingUpstream(t)

	p := startProcess(t, bin, env)
	p.chatTurns(0, first)
	// The first turns are applied and gone from the outbox (each is
	// handed to it a moment after its answer: wait for the count).
	if !waitFor(time.Minute, func() bool { return p.applied() >= first && p.outbox().Pending == 0 }) {
		t.Fatalf("the first %d turns were not applied: %v applied, outbox %+v", first, p.applied(), p.outbox())
	}
	stalled.Store(true)
	p.chatTurns(first, turns)
	var queued int
	if !waitFor(time.Minute, func() bool { queued = p.outbox().Pending; return queued == turns-first }) {
		t.Fatalf("%d of the %d turns answered reached the outbox", queued, turns-first)
	}
	if queued < turns/2 {
		t.Fatalf("only %d turns queued at the kill; the test needs the writer behind", queued)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	t.Logf("killed with %d of %d turns queued", queued, turns)

	stalled.Store(false)
	texts, history := restartAndRead(t, bin, env)
	memories := 0
	for _, n := range texts {
		memories += n
	}
	if memories != turns || len(texts) != turns || history != turns {
		t.Errorf("after kill -9 and restart: %d memories (%d distinct), %d history records; want %d of each", memories, len(texts), history, turns)
	}
	for i := range turns {
		if texts[fmt.Sprintf("My locker number is %d.", i)] != 1 {
			t.Errorf("turn %d applied %d times", i, texts[fmt.Sprintf("My locker number is %d.", i)])
			break
		}
	}
}

// stallingUpstream starts a fake upstream whose embeddings answer no one
// while stalled is set, and returns the environment of a sidecar that
// embeds through it. While stalled, the writer cannot apply a turn, so the
// outbox holds every turn answered meanwhile; recalls give up on the
// embedder within their budget (50 ms), which ends their request.
func stallingUpstream(t *testing.T) (env map[string]string, stalled *atomic.Bool) {
	stalled = new(atomic.Bool)
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
	t.Cleanup(upSrv.Close)
	t.Cleanup(func() { close(release) }) // runs first: upSrv.Close waits for the requests stalled
	return map[string]string{
		"MEMPROXY_UPSTREAM_URL":         upSrv.URL + "/v1",
		"MEMPROXY_DATA_DIR":             t.TempDir(),
		"MEMPROXY_API_KEYS":             apiKey,
		"MEMPROXY_EMBEDDER":             "openai",
		"MEMPROXY_EMBEDDING_MODEL":      "fake-embed",
		"MEMPROXY_EMBEDDING_DIMENSIONS": fmt.Sprint(fakeupstream.EmbeddingDims),
		"MEMPROXY_RECALL_TIMEOUT":       "50ms",
		"MEMPROXY_LEARN_WORKERS":        "1",
	}, stalled
}

// restartAndRead starts the sidecar again on env, waits until its outbox is
// drained (no dead letters), stops it, and reads what its store holds: how
// many memories have each text, and how many history records they have.
// Every memory must have one history record, its ADD.
func restartAndRead(t *testing.T, bin string, env map[string]string) (texts map[string]int, history int) {
	t.Helper()
	p := startProcess(t, bin, env)
	var stats learn.OutboxStats
	if !waitFor(2*time.Minute, func() bool {
		stats = p.outbox()
		return stats.Dead > 0 || stats.Pending == 0
	}) || stats.Dead > 0 {
		t.Fatalf("after restart: %+v", stats)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	st, err := embedded.Open(env["MEMPROXY_DATA_DIR"], fakeupstream.EmbeddingDims, "openai:fake-embed")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	ms, err := st.List(ctx, memory.Filter{}, memory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	texts = map[string]int{}
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
	return texts, history
}
