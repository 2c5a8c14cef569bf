package learn

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit writes to a bbolt file with one transaction, and so one
// fsync, for all the writes that arrive while the previous one commits.
// Unlike bbolt's Batch it adds no delay waiting for company: a lone write
// commits at once, and a burst shares the commits as they come. A
// finished answer's end waits for its turn's write, so the wait is what
// the client sees.
type groupCommit struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []*writeReq
	running bool // a goroutine is committing the queue
}

type writeReq struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// maxGroup bounds the writes of one transaction.
const maxGroup = 1000

// write runs fn in a read-write transaction shared with concurrent
// writes, and returns once it is committed, or failed. A write whose fn
// fails is retried alone, so one bad write does not fail the others.
func (g *groupCommit) write(fn func(*bolt.Tx) error) error {
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, req)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		// This goroutine commits what is queued, its own write first; the
		// writes queued meanwhile get a committer of their own, so that a
		// steady stream of turns does not keep this answer waiting.
		if g.commitNext() {
			go g.drain()
		}
	}
	return <-req.done
}

// drain commits until the queue is empty.
func (g *groupCommit) drain() {
	for g.commitNext() {
	}
}

// commitNext commits the queued writes (up to maxGroup) and reports
// whether more are waiting; when none is, no goroutine is committing.
func (g *groupCommit) commitNext() bool {
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	failed := -1
	err := g.db.Update(func(tx *bolt.Tx) error {
		for i, r := range group {
			if err := r.fn(tx); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil || failed < 0 || len(group) == 1:
		// Committed, or the commit itself failed: the same for all.
		for _, r := range group {
			r.done <- err
		}
	default:
		for _, r := range group {
			r.done <- g.db.Update(r.fn)
		}
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.running = false
		g.queue = nil
		return false
	}
	return true
}
