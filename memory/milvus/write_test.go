package milvus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

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
