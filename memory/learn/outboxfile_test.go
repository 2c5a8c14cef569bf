package learn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// queued writes an outbox of n turns in dir, closed, and returns its file.
func queued(t *testing.T, dir string, n int) string {
	t.Helper()
	o, err := OpenOutbox(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		turn := Turn{ID: fmt.Sprint("req_", i), Identity: memory.Identity{UserID: fmt.Sprint("user-", i%7)},
			UserMessages: []string{fmt.Sprintf("My locker number is %d. %s", i, strings.Repeat("padding ", 200))}, Time: time.Now()}
		if err := o.Enqueue(turn); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "outbox.db")
}

// TestDamagedOutboxIsMovedAside: an empty, truncated or overwritten outbox
// file is neither opened as a new one nor a panic: it is moved aside,
// reported, and an empty outbox starts; or, when asked, start-up stops
// with one line naming the file.
func TestDamagedOutboxIsMovedAside(t *testing.T) {
	damage := map[string]func(t *testing.T, path string){
		"empty": func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		},
		"truncated": func(t *testing.T, path string) {
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()/3); err != nil {
				t.Fatal(err)
			}
		},
		"random bytes over its pages": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			for i := 2 * 4096; i < len(b); i++ { // the meta pages kept: bbolt opens it
				b[i] = byte(r.Uint32())
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"random bytes over everything": func(t *testing.T, path string) {
			b, _ := os.ReadFile(path)
			r := rand.New(rand.NewPCG(3, 4))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			os.WriteFile(path, b, 0o600)
		},
	}
	t.Run("intact", func(t *testing.T) {
		dir := t.TempDir()
		queued(t, dir, 90)
		o, err := OpenOutboxWith(dir, OutboxOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if st := o.Stats(); st.Pending != 90 || st.Corrupt != "" {
			t.Errorf("an intact outbox reopened as %+v, want 90 pending", st)
		}
	})
	for name, hurt := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := queued(t, dir, 90)
			hurt(t, path)
			was, _ := os.ReadFile(path)

			_, err := OpenOutboxWith(dir, OutboxOptions{Limit: 1000, FailOnCorrupt: true})
			var corrupt *CorruptError
			if !errors.As(err, &corrupt) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("with fail on corrupt: %v; want one line naming %s", err, path)
			}
			if b, _ := os.ReadFile(path); string(b) != string(was) {
				t.Fatal("with fail on corrupt, the damaged file was changed")
			}

			o, err := OpenOutboxWith(dir, OutboxOptions{Limit: 1000})
			if err != nil {
				t.Fatalf("a damaged outbox stopped the start: %v", err)
			}
			defer o.Close()
			st := o.Stats()
			if st.Corrupt == "" || st.Pending != 0 {
				t.Errorf("damaged outbox opened as %+v, want it reported", st)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved aside: %v, want one file", aside)
			}
			if b, _ := os.ReadFile(aside[0]); string(b) != string(was) {
				t.Error("the file moved aside is not the damaged file as it was")
			}
			if err := o.Enqueue(Turn{ID: "req_new", Identity: memory.Identity{UserID: "sarah"}, UserMessages: []string{"I keep bees."}}); err != nil {
				t.Errorf("the new outbox refuses turns: %v", err)
			}
		})
	}
}

// TestRefusalEndsWhenTheDiskTakesWritesAgain: a write the disk refuses
// makes the outbox refuse new turns (so that no answer promises one it
// cannot keep); once the disk takes writes again the refusal ends within
// a second, not ten.
func TestRefusalEndsWhenTheDiskTakesWritesAgain(t *testing.T) {
	for _, where := range []string{"write", "reserve"} {
		t.Run(where, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o, err := OpenOutbox(t.TempDir(), 100)
				if err != nil {
					t.Fatal(err)
				}
				defer o.Close()
				var full atomic.Bool
				disk := func() error {
					if full.Load() {
						return fmt.Errorf("write outbox.db: %w", syscall.ENOSPC)
					}
					return nil
				}
				if where == "write" {
					o.faults = disk
				} else {
					o.space = disk
				}
				full.Store(true)
				turn := Turn{ID: "req_1", Identity: memory.Identity{UserID: "sarah"}, UserMessages: []string{"I keep bees."}}
				err = o.Enqueue(turn)
				if where == "write" && err == nil {
					t.Fatal("the injected write failure did not fail the enqueue")
				}
				if o.Accepting() == nil {
					t.Fatal("the outbox accepts turns with its disk full")
				}
				time.Sleep(5 * time.Second) // fake time in the bubble: the disk stays full
				synctest.Wait()
				if o.Accepting() == nil {
					t.Fatal("the outbox accepts turns while its disk is still full")
				}

				full.Store(false) // space returns
				freed := time.Now()
				for o.Accepting() != nil {
					time.Sleep(10 * time.Millisecond) // fake time: the next probe
					synctest.Wait()
				}
				if d := time.Since(freed); d > time.Second {
					t.Errorf("turns refused for %v after the disk took writes again, want under 1s", d)
				}
				if err := o.Enqueue(turn); err != nil {
					t.Errorf("enqueue after the disk recovered: %v", err)
				}
			})
		})
	}
}
