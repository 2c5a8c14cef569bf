package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, storetest.Dims, "test-space")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) memory.Store {
		s := open(t, t.TempDir())
		t.Cleanup(func() { s.Close() })
		return s
	}, storetest.Options{})
}

func TestSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	m := memory.Memory{ID: memory.NewID(), Text: "durable", UserID: "u", Metadata: map[string]any{"n": 1.0},
		CreatedAt: time.Now(), UpdatedAt: time.Now(), Vector: storetest.Vec(1)}
	if err := s.Add(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	got, err := s.Get(context.Background(), m.ID)
	if err != nil || got.Text != "durable" || got.Metadata["n"] != 1.0 {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	hits, err := s.Search(context.Background(), memory.SearchRequest{Vector: storetest.Vec(1), Filter: memory.UserFilter("u"), TopK: 1})
	if err != nil || len(hits) != 1 || hits[0].Score < 0.999 {
		t.Fatalf("search after reopening: %+v, %v", hits, err)
	}
}

func TestRefusesAnotherEmbedder(t *testing.T) {
	dir := t.TempDir()
	open(t, dir).Close()
	for _, tc := range []struct {
		dims  int
		space string
	}{{storetest.Dims + 1, "test-space"}, {storetest.Dims, "other-space"}} {
		if s, err := Open(dir, tc.dims, tc.space); err == nil {
			s.Close()
			t.Errorf("Open(%d, %q) on a store of (%d, test-space) succeeded", tc.dims, tc.space, storetest.Dims)
		} else if !strings.Contains(err.Error(), "test-space") {
			t.Errorf("error does not name the embedder the store was written with: %v", err)
		}
	}
}

func TestRefusesASecondProcess(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	start := time.Now()
	if s2, err := Open(dir, storetest.Dims, "test-space"); err == nil {
		s2.Close()
		t.Fatal("a second Open of a locked store succeeded")
	} else if !strings.Contains(err.Error(), "locked") {
		t.Errorf("error = %v, want one saying the store is locked", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waited %v for the lock", d)
	}
}

// TestKill9MidWrite kills a process that is writing memories as fast as it
// can, then checks that every write it acknowledged survived and that the
// file is usable.
func TestKill9MidWrite(t *testing.T) {
	if dir := os.Getenv("MEMPROXY_TEST_KILL_CHILD"); dir != "" {
		writeForever(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9MidWrite$")
	cmd.Env = append(os.Environ(), "MEMPROXY_TEST_KILL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.After(30 * time.Second)
	for len(acked) < 300 {
		line := make(chan string)
		go func() {
			if sc.Scan() {
				line <- sc.Text()
			}
			close(line)
		}()
		select {
		case l, ok := <-line:
			if !ok {
				t.Fatalf("the writer stopped after %d writes", len(acked))
			}
			if id, ok := strings.CutPrefix(l, "acked "); ok {
				acked = append(acked, id)
			}
		case <-deadline:
			t.Fatalf("the writer acknowledged only %d writes in 30s", len(acked))
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no flush
		t.Fatal(err)
	}
	cmd.Wait()

	s := open(t, dir)
	defer s.Close()
	for _, id := range acked {
		if _, err := s.Get(context.Background(), id); err != nil {
			t.Fatalf("acknowledged memory %s lost after kill -9: %v", id, err)
		}
	}
	n, _ := s.Count(context.Background(), memory.Filter{})
	t.Logf("%d writes acknowledged before kill -9, %d memories after", len(acked), n)
	if n < len(acked) {
		t.Errorf("%d memories after restart, fewer than the %d acknowledged", n, len(acked))
	}
	if err := s.Add(context.Background(), memory.Memory{ID: memory.NewID(), Text: "after", UserID: "u", Vector: storetest.Vec(1)}); err != nil {
		t.Errorf("writing after recovery: %v", err)
	}
}

func writeForever(dir string) {
	s, err := Open(dir, storetest.Dims, "test-space")
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		m := memory.Memory{ID: memory.NewID(), Text: fmt.Sprintf("fact %d", i), UserID: "u",
			CreatedAt: time.Now(), UpdatedAt: time.Now(), Vector: storetest.Vec(uint64(i))}
		if err := s.Add(context.Background(), m); err != nil {
			fmt.Println("add:", err)
			os.Exit(1)
		}
		fmt.Println("acked", m.ID) // only after Add returned
	}
}

func TestReadyUntilClosed(t *testing.T) {
	s := open(t, t.TempDir())
	if err := s.Ready(context.Background()); err != nil {
		t.Errorf("Ready of an open store: %v", err)
	}
	s.Close()
	if err := s.Ready(context.Background()); err == nil {
		t.Error("Ready of a closed store is nil")
	}
}
