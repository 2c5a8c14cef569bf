package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
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
	// every turn in the outbox.
	env, stalled := stallingUpstream(t)
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
	learned, _ := restartAndRead(t, bin, env)
	lost := 0
	for i := range turns {
		if learned[fmt.Sprintf("My locker number is %d.", i)] == 0 {
			lost++
		}
	}
	t.Logf("%d of %d turns answered X-Memory-Learning: on were lost to kill -9", lost, turns)
	if lost > 0 {
		t.Errorf("%d of %d turns promised to be learned were lost", lost, turns)
	}
}
