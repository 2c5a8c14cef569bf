package learn

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// TestOutboxStateSurvivesADiskError makes ack and fail meet a disk error
// (the file closed under them): the turns must not stay marked in flight,
// or their conversation would never be claimed again.
func TestOutboxStateSurvivesADiskError(t *testing.T) {
	for _, name := range []string{"ack", "fail"} {
		t.Run(name, func(t *testing.T) {
			o, err := OpenOutbox(t.TempDir(), 10)
			if err != nil {
				t.Fatal(err)
			}
			turn := Turn{ID: "req_1", Identity: memory.Identity{UserID: "sarah"}, UserMessages: []string{"I keep bees."}, Time: time.Now()}
			if err := o.Enqueue(turn); err != nil {
				t.Fatal(err)
			}
			batches, _, err := o.claim(time.Now(), 0, 1)
			if err != nil || len(batches) != 1 {
				t.Fatalf("claim = %v, %v", batches, err)
			}
			if st := o.Stats(); st.InFlight != 1 {
				t.Fatalf("claimed turn not in flight: %+v", st)
			}
			o.db.Close() // every transaction now fails
			if name == "ack" {
				err = o.ack(batches[0])
			} else {
				err = o.fail(batches[0], errors.New("boom"), time.Now(), false)
			}
			if err == nil {
				t.Fatalf("%s on a closed file succeeded", name)
			}
			if st := o.Stats(); st.InFlight != 0 || st.Pending != 1 {
				t.Errorf("after a failed %s: %+v, want the turn pending and not in flight", name, st)
			}
		})
	}
}

// TestOutboxLimitHoldsUnderConcurrentEnqueues sends many turns at once into
// a small outbox: exactly limit are taken.
func TestOutboxLimitHoldsUnderConcurrentEnqueues(t *testing.T) {
	o, err := OpenOutbox(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken, full := 0, 0
	for i := range 100 {
		wg.Go(func() {
			err := o.Enqueue(Turn{ID: string(rune('a' + i%26)), Identity: memory.Identity{UserID: "u"}, Time: time.Now()})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				taken++
			case errors.Is(err, ErrQueueFull):
				full++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if taken != 10 || full != 90 || o.Stats().Pending != 10 {
		t.Errorf("100 concurrent enqueues into an outbox of 10: %d taken, %d refused, %d pending", taken, full, o.Stats().Pending)
	}
}

// TestOutboxFormat checks that an entry is stored with explicit names and
// its format, read back as it was, and that a format from a newer sidecar
// is refused rather than guessed at.
func TestOutboxFormat(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	e := Entry{
		Seq: 7, Attempts: 2, NextTry: at.Add(time.Minute), LastError: "boom", Queued: at,
		Turn: Turn{ID: "req_1", Identity: memory.Identity{UserID: "u", AgentID: "a", RunID: "r"},
			UserMessages: []string{"one", "two"}, Assistant: "reply", Time: at,
			RequestID: "client-1", Context: []string{"earlier", "reply before"},
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	v, err := encodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"v":1`, `"user_id":"u"`, `"agent_id":"a"`, `"run_id":"r"`, `"user_messages":["one","two"]`, `"assistant":"reply"`, `"request_id":"client-1"`, `"context":["earlier","reply before"]`, `"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`} {
		if !strings.Contains(string(v), name) {
			t.Errorf("stored entry %s lacks %s", v, name)
		}
	}
	got, err := decodeEntry(v)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != e.Seq || got.Attempts != e.Attempts || !got.NextTry.Equal(e.NextTry) || got.LastError != e.LastError ||
		!got.Queued.Equal(e.Queued) || got.Turn.ID != e.Turn.ID || got.Turn.Identity != e.Turn.Identity ||
		!slices.Equal(got.Turn.UserMessages, e.Turn.UserMessages) || got.Turn.Assistant != e.Turn.Assistant || !got.Turn.Time.Equal(e.Turn.Time) ||
		got.Turn.RequestID != e.Turn.RequestID || !slices.Equal(got.Turn.Context, e.Turn.Context) || got.Turn.TraceParent != e.Turn.TraceParent {
		t.Errorf("read back %+v, want %+v", got, e)
	}
	// A request named by the turn's own id, and no context: nothing more
	// is stored than before these fields existed.
	e.Turn.RequestID, e.Turn.Context, e.Turn.TraceParent = e.Turn.ID, nil, ""
	if v, err = encodeEntry(e); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(v), "request_id") || strings.Contains(string(v), "context") || strings.Contains(string(v), "traceparent") {
		t.Errorf("stored entry %s names its request twice, or an empty context", v)
	}
	// A format-1 entry written before traceparent existed reads as a turn
	// without one; the field is optional within format 1.
	old := `{"v":1,"seq":3,"turn":{"id":"t","user_id":"u","user_messages":["hi there"],"time":"2025-03-14T09:26:53Z"},"attempts":0,"next_try":"0001-01-01T00:00:00Z","queued":"2025-03-14T09:26:53Z"}`
	if got, err := decodeEntry([]byte(old)); err != nil || got.Turn.ID != "t" || got.Turn.TraceParent != "" {
		t.Errorf("an entry from before traceparent: %+v, %v", got, err)
	}
	if _, err := decodeEntry([]byte(`{"v":2,"seq":1,"turn":{}}`)); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("a format-2 entry: %v, want an error saying it is newer", err)
	}
}
