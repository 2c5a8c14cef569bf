package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
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
	"github.com/memproxy/memproxy/memory/milvus"
	"github.com/memproxy/memproxy/memory/storetest"
)

// TestManySidecarsOneMilvus runs three sidecar processes on one Milvus
// (Lite), each with its own outbox. They take 1,000 chat turns for 50
// users at once, a fifth of them sent to a second sidecar as well (a
// client retrying on another instance), and 50 API adds each sent to two
// sidecars at the same moment. One sidecar's writer is held back, then
// killed with SIGKILL while it drains, and restarted. In the end every
// fact is stored exactly once, in its user's scope, with exactly one
// history record (its ADD): no duplicate, nothing lost.
func TestManySidecarsOneMilvus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	addr, ok := storetest.MilvusServers(t)["lite"]
	if !ok {
		t.Skip("needs Milvus Lite (MEMPROXY_TEST_MILVUS_LITE)")
	}
	const turns, users, apiAdds = 1000, 50, 50
	start := time.Now()
	bin := buildBinary(t)
	shared := milvusEnv(addr) // one collection for all three
	envs := make([]map[string]string, 3)
	var release func()
	for i := range envs {
		env, _ := stallingUpstream(t) // each its own upstream and data dir
		if i == 2 {
			// The third sidecar's writer waits on its embedder until
			// released, then drains at full speed.
			env, release = gatedUpstream(t)
		}
		maps.Copy(env, shared)
		env["MEMPROXY_LEARN_WORKERS"] = "4"
		envs[i] = env
	}
	procs := make([]*process, 3)
	for i, env := range envs {
		procs[i] = startProcessWithin(t, bin, env, 3*time.Minute)
	}
	for i, p := range procs {
		if !waitFor(2*time.Minute, func() bool {
			code, _ := get(p.url + "/readyz")
			return code == http.StatusOK
		}) {
			t.Fatalf("sidecar %d not ready on Milvus", i)
		}
	}

	// The turns, and the API adds, all at once from 24 clients.
	type job struct {
		to   *process
		path string
		body string
		hdr  map[string]string
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 24 {
		wg.Go(func() {
			for j := range jobs {
				if code := post(j.to.url+j.path, j.body, j.hdr); code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	sentTo := make([]int, 3)
	go func() {
		defer close(jobs)
		for i := range turns {
			chat := job{
				path: "/v1/chat/completions",
				body: fmt.Sprintf(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"My locker number is %d."}]}`, i),
				hdr:  map[string]string{"X-Memory-User-Id": fmt.Sprint("user-", i%users), "X-Memory-Mode": "write"},
			}
			targets := []int{i % 3}
			if i%5 == 0 {
				targets = append(targets, (i+1)%3)
			}
			for _, k := range targets {
				chat.to = procs[k]
				sentTo[k]++
				jobs <- chat
			}
			if i < apiAdds {
				// Two sidecars get the same add; a pair of clients sends
				// them at the same moment. (Not the held one: an add
				// embeds before it answers.)
				add := job{
					path: "/v1/memories/",
					body: fmt.Sprintf(`{"messages":"Prefers the %d o'clock class.","user_id":"api-%d","infer":false}`, i, i%10),
					hdr:  map[string]string{"Authorization": "Token " + apiKey},
				}
				a, b := add, add
				a.to, b.to = procs[0], procs[1]
				jobs <- a
				jobs <- b
			}
		}
	}()
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d calls failed", n)
	}
	t.Logf("%d chat turns and %d API adds answered in %v (sidecars got %v turns)", turns, apiAdds, time.Since(start).Round(time.Millisecond), sentTo)

	// The third sidecar holds all its turns; released, it drains, and is
	// killed while it does.
	held := procs[2]
	if !waitFor(time.Minute, func() bool { return held.outbox().Pending == sentTo[2] }) {
		t.Fatalf("the held sidecar's outbox has %d turns, want %d", held.outbox().Pending, sentTo[2])
	}
	release()
	var pending int
	if !waitFor(time.Minute, func() bool {
		pending = held.outbox().Pending
		return held.applied() >= 20 || pending == 0
	}) || pending == 0 {
		t.Fatalf("the held sidecar drained before the kill (%d pending); the test needs it mid-drain", pending)
	}
	if err := held.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	held.cmd.Wait()
	t.Logf("killed the third sidecar with %d of its %d turns pending", pending, sentTo[2])
	procs[2] = startProcessWithin(t, bin, envs[2], 3*time.Minute)

	for i, p := range procs {
		var st = p.outbox()
		// Milvus Lite, one Python process on cores shared with the three
		// sidecars and the test, answers a strong read in tens of ms: the
		// writers take minutes for their 1,400 turns and 100 adds.
		if !waitFor(10*time.Minute, func() bool { st = p.outbox(); return st.Pending == 0 && st.InFlight == 0 || st.Dead > 0 }) || st.Dead > 0 {
			t.Fatalf("sidecar %d did not drain: %+v", i, st)
		}
	}
	t.Logf("all drained after %v", time.Since(start).Round(time.Millisecond))
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}

	ctx := context.Background()
	st, err := milvus.Open(ctx, milvus.Config{
		Address: addr, Collection: shared["MEMPROXY_MILVUS_COLLECTION"], ConnectTimeout: 30 * time.Second,
		HealthTimeout: 15 * time.Second, Dims: fakeupstream.EmbeddingDims, Space: "openai:fake-embed",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.List(ctx, memory.Filter{}, memory.Page{Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.Count(ctx, memory.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // text → user
	for i := range turns {
		want[fmt.Sprintf("My locker number is %d.", i)] = fmt.Sprint("user-", i%users)
	}
	for i := range apiAdds {
		want[fmt.Sprintf("Prefers the %d o'clock class.", i)] = fmt.Sprint("api-", i%10)
	}
	texts := map[string]int{}
	history := 0
	for _, m := range ms {
		texts[m.Text]++
		if u, ok := want[m.Text]; !ok || m.UserID != u {
			t.Errorf("memory %q of user %q: not a fact of that user", m.Text, m.UserID)
		}
		hs, err := st.History(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0].Event != memory.EventAdd {
			t.Errorf("memory %q has history %+v, want one ADD", m.Text, hs)
		}
		history += len(hs)
	}
	dups, lost := 0, 0
	for text := range want {
		switch n := texts[text]; {
		case n == 0:
			lost++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("%d memories listed, %d rows counted, %d history records; %d duplicates, %d lost; %v in all",
		len(ms), rows, history, dups, lost, time.Since(start).Round(time.Millisecond))
	if len(ms) != len(want) || rows != len(want) || history != len(want) || dups != 0 || lost != 0 {
		t.Errorf("%d memories, %d rows, %d history records, %d duplicates, %d lost; want %d, %d, %d, 0, 0",
			len(ms), rows, history, dups, lost, len(want), len(want), len(want))
	}
}

// gatedUpstream starts a fake upstream whose embeddings wait until the
// returned release is called (all of them then answer at once), and
// returns the environment of a sidecar that embeds through it, as
// stallingUpstream does.
func gatedUpstream(t *testing.T) (env map[string]string, release func()) {
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	up := fakeupstream.New()
	up.NoRecord = true
	up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.URL.Path == "/v1/embeddings" {
			select {
			case <-gate:
			case <-r.Context().Done():
			}
		}
		return false
	}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs first: srv.Close waits for the requests held
	env, _ = stallingUpstream(t)
	env["MEMPROXY_UPSTREAM_URL"] = srv.URL + "/v1"
	return env, release
}

// get returns the status of a GET of url (0 when it could not be sent).
func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends body to url with the headers hdr and returns the status (0
// when it could not be sent).
func post(url, body string, hdr map[string]string) int {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
