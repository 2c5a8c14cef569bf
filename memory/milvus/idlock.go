package milvus

import (
	"context"
	"slices"
	"sync"
)

// idLocks lock memory ids one by one, so that writes to one memory are
// serialised while writes to different memories run in parallel. A lock
// exists while someone holds or waits for it.
type idLocks struct {
	mu   sync.Mutex
	held map[string]*idLock
}

type idLock struct {
	sem  chan struct{} // holds a token while locked
	refs int           // holders and waiters
}

// lock locks ids, waiting no longer than ctx allows, and returns the
// function that unlocks them. Ids are locked in order, so that two callers
// locking overlapping sets never wait for each other.
func (l *idLocks) lock(ctx context.Context, ids ...string) (unlock func(), err error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	l.mu.Lock()
	if l.held == nil {
		l.held = make(map[string]*idLock)
	}
	locks := make([]*idLock, len(ids))
	for i, id := range ids {
		e := l.held[id]
		if e == nil {
			e = &idLock{sem: make(chan struct{}, 1)}
			l.held[id] = e
		}
		e.refs++
		locks[i] = e
	}
	l.mu.Unlock()
	release := func(taken int) {
		for _, e := range locks[:taken] {
			<-e.sem
		}
		l.mu.Lock()
		for i, e := range locks {
			if e.refs--; e.refs == 0 {
				delete(l.held, ids[i])
			}
		}
		l.mu.Unlock()
	}
	for i, e := range locks {
		select {
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			release(i)
			return nil, ctx.Err()
		}
	}
	return func() { release(len(locks)) }, nil
}
