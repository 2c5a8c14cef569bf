package milvus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

// hookedClient is the store's real client with calls a test intercepts:
// a hook that is set runs instead of the call, and may make it (next).
type hookedClient struct {
	client
	insert func(ctx context.Context, opt milvusclient.InsertOption, next func(context.Context) error) error
	delete func(ctx context.Context, opt milvusclient.DeleteOption, next func(context.Context) error) error
	// queried, if set, sees the answer of every query.
	queried func(rs milvusclient.ResultSet)
}

func (h *hookedClient) Query(ctx context.Context, opt milvusclient.QueryOption, callOptions ...grpc.CallOption) (milvusclient.ResultSet, error) {
	rs, err := h.client.Query(ctx, opt, callOptions...)
	if err == nil && h.queried != nil {
		h.queried(rs)
	}
	return rs, err
}

func (h *hookedClient) Insert(ctx context.Context, opt milvusclient.InsertOption, callOptions ...grpc.CallOption) (milvusclient.InsertResult, error) {
	if h.insert == nil {
		return h.client.Insert(ctx, opt, callOptions...)
	}
	var res milvusclient.InsertResult
	err := h.insert(ctx, opt, func(ctx context.Context) (err error) {
		res, err = h.client.Insert(ctx, opt, callOptions...)
		return err
	})
	return res, err
}

func (h *hookedClient) Delete(ctx context.Context, opt milvusclient.DeleteOption, callOptions ...grpc.CallOption) (milvusclient.DeleteResult, error) {
	if h.delete == nil {
		return h.client.Delete(ctx, opt, callOptions...)
	}
	var res milvusclient.DeleteResult
	err := h.delete(ctx, opt, func(ctx context.Context) (err error) {
		res, err = h.client.Delete(ctx, opt, callOptions...)
		return err
	})
	return res, err
}

// hook puts h around the store's client.
func hook(t *testing.T, s *Store, h *hookedClient) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli == nil {
		t.Fatal("the store is not connected")
	}
	h.client = s.cli
	s.cli = h
}

var errInjected = errors.New("injected failure")

func testMemory(user, text string, seed uint64) memory.Memory {
	now := time.Now().UTC()
	return memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: user,
		CreatedAt: now, UpdatedAt: now, Vector: storetest.Vec(seed)}
}

// TestWritesToDifferentMemoriesRunInParallel proves that a write waiting on
// Milvus does not hold up a write to another memory: the first insert
// waits until the second one has started.
func TestWritesToDifferentMemoriesRunInParallel(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		s := openStore(t, addr, Config{})
		second := make(chan struct{})
		var once sync.Once
		var calls sync.Mutex
		n := 0
		hook(t, s, &hookedClient{insert: func(ctx context.Context, _ milvusclient.InsertOption, next func(context.Context) error) error {
			calls.Lock()
			n++
			first := n == 1
			calls.Unlock()
			if !first {
				once.Do(func() { close(second) })
				return next(ctx)
			}
			select {
			case <-second:
				return next(ctx)
			case <-time.After(10 * time.Second):
				return errors.New("the second insert did not start while the first one was under way")
			}
		}})
		ctx := context.Background()
		errs := make(chan error, 2)
		for i := range 2 {
			go func() { errs <- s.Add(ctx, testMemory(fmt.Sprintf("user-%d", i), "fact", uint64(i))) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
}

// TestWritesToOneMemoryAreSerialised proves that concurrent adds of one id
// store it once: exactly one succeeds, the others find it taken.
func TestWritesToOneMemoryAreSerialised(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		s := openStore(t, addr, Config{})
		ctx := context.Background()
		m := testMemory("u", "one fact", 1)
		const writers = 8
		errs := make(chan error, writers)
		for range writers {
			go func() { errs <- s.Add(ctx, m) }()
		}
		added := 0
		for range writers {
			switch err := <-errs; {
			case err == nil:
				added++
			case !errors.Is(err, memory.ErrExists):
				t.Errorf("concurrent add: %v", err)
			}
		}
		if added != 1 {
			t.Errorf("%d of %d concurrent adds of one id succeeded, want 1", added, writers)
		}
		// Count is native: it would count a second row of the id.
		if n, err := s.Count(ctx, memory.UserFilter("u")); err != nil || n != 1 {
			t.Errorf("Count = %d, %v; want 1", n, err)
		}
	})
}

// insertedTexts returns the texts of the rows an insert writes.
func insertedTexts(t *testing.T, s *Store, opt milvusclient.InsertOption) []string {
	req, err := opt.InsertRequest(&entity.Collection{Name: s.cfg.Collection, Schema: memorySchema(s.cfg.Collection, s.cfg.Dims)})
	if err != nil {
		t.Errorf("reading an insert: %v", err)
		return nil
	}
	for _, f := range req.GetFieldsData() {
		if f.GetFieldName() == fieldText {
			return f.GetScalars().GetStringData().GetData()
		}
	}
	t.Errorf("an insert without texts")
	return nil
}

// TestUpdateNeverLosesTheMemory proves that an update whose insert fails
// after the old row was deleted leaves a memory: the new one if the
// insert succeeds on a retry or after the caller gave up, else the old.
func TestUpdateNeverLosesTheMemory(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		for _, tc := range []struct {
			name string
			// fail says whether an insert of text fails; cancel is called
			// after the delete.
			fail     func(text string, attempt int) bool
			cancel   bool
			wantErr  bool
			wantText string
		}{
			{"the insert fails once", func(text string, attempt int) bool { return attempt == 1 }, false, false, "new"},
			{"the new row cannot be written", func(text string, _ int) bool { return text == "new" }, false, true, "old"},
			{"the caller gives up after the delete", func(string, int) bool { return false }, true, false, "new"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := openStore(t, addr, Config{})
				m := testMemory("u", "old", 1)
				if err := s.Add(context.Background(), m); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				attempts := 0
				hook(t, s, &hookedClient{
					insert: func(ictx context.Context, opt milvusclient.InsertOption, next func(context.Context) error) error {
						texts := insertedTexts(t, s, opt)
						if len(texts) == 1 && texts[0] == "new" {
							attempts++
						}
						if len(texts) == 1 && tc.fail(texts[0], attempts) {
							return errInjected
						}
						return next(ictx)
					},
					delete: func(dctx context.Context, _ milvusclient.DeleteOption, next func(context.Context) error) error {
						err := next(dctx)
						if tc.cancel {
							cancel()
						}
						return err
					},
				})
				u := m
				u.Text, u.Hash, u.Vector, u.UpdatedAt = "new", memory.Hash("new"), storetest.Vec(2), time.Now().UTC()
				err := s.Update(ctx, u)
				if (err != nil) != tc.wantErr {
					t.Errorf("Update: %v, want error %v", err, tc.wantErr)
				}
				got, err := s.Get(context.Background(), m.ID)
				if err != nil {
					t.Fatalf("after the update, Get: %v: the memory is lost", err)
				}
				if got.Text != tc.wantText {
					t.Errorf("after the update the memory says %q, want %q", got.Text, tc.wantText)
				}
				if n, err := s.Count(context.Background(), memory.UserFilter("u")); err != nil || n != 1 {
					t.Errorf("Count = %d, %v; want 1", n, err)
				}
			})
		}
	})
}

// TestRetrySchedule proves how Update's writes are retried: four tries,
// 250ms, 500ms and 1s apart, ending with the last error named after the
// write; and that a context ending during a wait ends the retries with
// an error matching both the context's and the last try's.
func TestRetrySchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Store{kick: make(chan struct{}, 1)} // connected, to a client the writes ignore
		start := time.Now()
		var tries []time.Duration
		err := s.retry(t.Context(), "writing", func(context.Context, client) error {
			tries = append(tries, time.Since(start))
			return errInjected
		})
		want := []time.Duration{0, 250 * time.Millisecond, 750 * time.Millisecond, 1750 * time.Millisecond}
		if !slices.Equal(tries, want) {
			t.Errorf("tries at %v, want %v", tries, want)
		}
		if !errors.Is(err, errInjected) || err.Error() != "milvus store: writing: injected failure" {
			t.Errorf("retry = %v, want the last try's error", err)
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err = s.retry(ctx, "writing", func(context.Context, client) error { return errInjected })
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errInjected) ||
			err.Error() != "milvus store: writing: context deadline exceeded (after milvus store: writing: injected failure)" {
			t.Errorf("retry cut short = %v, want the deadline after the last try's error", err)
		}
	})
}

func TestUpsertSound(t *testing.T) {
	for v, want := range map[string]bool{
		"v2.3.5": false, "v2.3.10": false, "v2.3.11": true, "v2.4.0": true, "v2.5.12": true, "2.6.0": true,
		"v2.2.16": false, "milvus_lite-3.2.2": true, "": false, "unknown": false, "v3.0.0": true,
	} {
		if got := upsertSound(v); got != want {
			t.Errorf("upsertSound(%q) = %v, want %v", v, got, want)
		}
	}
}
