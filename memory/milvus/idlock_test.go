package milvus

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestIDLocks(t *testing.T) {
	var l idLocks
	ctx := context.Background()
	unlockAB, err := l.lock(ctx, "b", "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	// Another id is free.
	unlockC, err := l.lock(ctx, "c")
	if err != nil {
		t.Fatalf("locking c while a and b are held: %v", err)
	}
	unlockC()
	// A held id makes a caller wait, as long as its context allows.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := l.lock(short, "c", "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("locking a held id: %v, want the deadline", err)
	}
	// ... and c, taken on the way, was released.
	if unlock, err := l.lock(soon(t), "c"); err != nil {
		t.Fatalf("c stayed locked after a failed lock: %v", err)
	} else {
		unlock()
	}
	got := make(chan error, 1)
	go func() {
		unlock, err := l.lock(ctx, "a")
		if err == nil {
			unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("locked a held id: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	unlockAB()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if len(l.held) != 0 {
		t.Errorf("%d locks left after every holder unlocked", len(l.held))
	}
}

// soon is a context that ends in a second.
func soon(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	t.Cleanup(cancel)
	return ctx
}
