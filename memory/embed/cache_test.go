package embed_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

type countingEmbedder struct {
	memory.Embedder
	calls atomic.Int64
	texts atomic.Int64
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.calls.Add(1)
	c.texts.Add(int64(len(texts)))
	return c.Embedder.Embed(ctx, texts)
}

func TestCached(t *testing.T) {
	inner := &countingEmbedder{Embedder: embed.NewHash(32)}
	c := embed.NewCached(inner, 2)
	ctx := context.Background()
	first, _ := c.Embed(ctx, []string{"apple", "banana"})
	got, _ := c.Embed(ctx, []string{"banana", "apple"})
	if inner.texts.Load() != 2 {
		t.Errorf("cached texts were embedded again: %d texts sent", inner.texts.Load())
	}
	if memory.Cosine(got[0], first[1]) < 0.9999 || memory.Cosine(got[1], first[0]) < 0.9999 {
		t.Errorf("cache returned vectors out of order")
	}
	c.Embed(ctx, []string{"cherry"})          // evicts the least recently used, "banana"
	c.Embed(ctx, []string{"apple", "banana"}) // "apple" cached, "banana" not
	if inner.texts.Load() != 4 {
		t.Errorf("after eviction %d texts sent, want 4", inner.texts.Load())
	}
}

// blockingEmbedder counts its calls and answers none until released.
type blockingEmbedder struct {
	memory.Embedder
	calls   atomic.Int64
	release chan struct{}
}

func (b *blockingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	b.calls.Add(1)
	<-b.release
	return b.Embedder.Embed(ctx, texts)
}

// TestCachedAsksOnceForConcurrentMisses has many callers miss the cache
// for one text at once, the embedder holding its answer until every one
// of them has asked: the embedder must have been asked once, and each
// caller given its vector.
func TestCachedAsksOnceForConcurrentMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &blockingEmbedder{Embedder: embed.NewHash(32), release: make(chan struct{})}
		c := embed.NewCached(inner, 8)
		const callers = 16
		got := make([][][]float32, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { got[i], errs[i] = c.Embed(context.Background(), []string{"I run 5K"}) })
		}
		synctest.Wait() // every caller has asked and is blocked
		asked := inner.calls.Load()
		close(inner.release)
		wg.Wait()
		if asked != 1 {
			t.Fatalf("%d callers missing one text asked the embedder %d times, want 1", callers, asked)
		}
		want, _ := embed.NewHash(32).Embed(context.Background(), []string{"I run 5K"})
		for i := range callers {
			if errs[i] != nil || len(got[i]) != 1 || memory.Cosine(got[i][0], want[0]) < 0.9999 {
				t.Fatalf("caller %d got %v, %v", i, got[i], errs[i])
			}
		}
		if n := inner.calls.Load(); n != 1 {
			t.Errorf("the embedder was asked %d times, want 1", n)
		}
	})
}

// TestCachedCallerGivingUpDoesNotFailTheOthers cancels the caller whose
// miss started the call: a caller still waiting for the same text gets
// its vector from a call of its own.
func TestCachedCallerGivingUpDoesNotFailTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &cancellableEmbedder{Embedder: embed.NewHash(32), started: make(chan struct{}, 2)}
		c := embed.NewCached(inner, 8)
		ctx, cancel := context.WithCancel(context.Background())
		var firstErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, firstErr = c.Embed(ctx, []string{"x"}) })
		<-inner.started
		var second [][]float32
		var secondErr error
		wg.Go(func() { second, secondErr = c.Embed(context.Background(), []string{"x"}) })
		synctest.Wait()
		cancel()
		wg.Wait()
		if firstErr == nil {
			t.Errorf("the cancelled caller got no error")
		}
		if secondErr != nil || len(second) != 1 {
			t.Errorf("the waiting caller got %v, %v", second, secondErr)
		}
	})
}

// cancellableEmbedder answers the first call only when its context ends
// (with the context's error), and every later call at once.
type cancellableEmbedder struct {
	memory.Embedder
	started chan struct{}
	calls   atomic.Int64
}

func (e *cancellableEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.started <- struct{}{}
	if e.calls.Add(1) == 1 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return e.Embedder.Embed(ctx, texts)
}
