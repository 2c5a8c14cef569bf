package learn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The outbox is the durable queue between a completed response and the
// writer: a turn is on disk before it is learned from, so that a crash, a
// kill -9 or a store outage loses nothing. It lives on local disk whatever
// the store, in its own bbolt file.

var (
	bucketPending = []byte("pending")
	bucketDead    = []byte("dead")
)

// ErrOutboxClosed is returned by Enqueue after Close.
var ErrOutboxClosed = errors.New("outbox is closed")

// An Entry is a turn in the outbox with its delivery state. Its json tags
// are how operators see it (the queue endpoints); on disk it is stored in
// the versioned form of outboxformat.go.
type Entry struct {
	Seq       uint64    `json:"seq"`
	Turn      Turn      `json:"turn"`
	Attempts  int       `json:"attempts"`
	NextTry   time.Time `json:"next_try"`
	LastError string    `json:"last_error,omitempty"`
	Queued    time.Time `json:"queued"`
}

// pending is what the outbox keeps in memory about a queued turn: enough
// to schedule it without reading the disk.
type pending struct {
	seq      uint64
	conv     convKey
	turnTime time.Time
	nextTry  time.Time
	inFlight bool
}

// convKey names one conversation: turns of one key are applied in order.
type convKey struct{ user, agent, run string }

func keyOf(t Turn) convKey { return convKey{t.Identity.UserID, t.Identity.AgentID, t.Identity.RunID} }

// Outbox is a bounded, durable FIFO of turns, ordered per conversation.
type Outbox struct {
	db    *bolt.DB
	limit int

	mu       sync.Mutex
	pending  []*pending // by seq
	reserved int        // places held by enqueues being written
	dead     int
	closed   bool
	failedAt time.Time // the last enqueue the disk refused
	failure  error
	wake     chan struct{} // signalled on Enqueue and on state changes
}

// OpenOutbox opens (creating) the outbox in dir, holding at most limit
// pending turns.
func OpenOutbox(dir string, limit int) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: creating data directory: %w", err)
	}
	path := filepath.Join(dir, "outbox.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("outbox: %s is locked by another process (is another memproxy running on this data directory?)", path)
		}
		return nil, fmt.Errorf("outbox: opening %s: %w", path, err)
	}
	o := &Outbox{db: db, limit: limit, wake: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		p, err := tx.CreateBucketIfNotExists(bucketPending)
		if err != nil {
			return err
		}
		d, err := tx.CreateBucketIfNotExists(bucketDead)
		if err != nil {
			return err
		}
		o.dead = d.Stats().KeyN
		return p.ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("decoding queued turn %x: %w", k, err)
			}
			o.pending = append(o.pending, &pending{seq: e.Seq, conv: keyOf(e.Turn), turnTime: e.Turn.Time, nextTry: e.NextTry})
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: loading %s: %w", path, err)
	}
	return o, nil
}

// Close closes the outbox file; queued turns stay for the next start.
func (o *Outbox) Close() error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	return o.db.Close()
}

// Enqueue writes a turn durably. It refuses, without blocking for long,
// when the outbox is full or the disk will not take it; the caller logs
// and carries on, since learning must never hold up a chat call.
func (o *Outbox) Enqueue(t Turn) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrOutboxClosed
	}
	if len(o.pending)+o.reserved >= o.limit {
		o.mu.Unlock()
		return ErrQueueFull
	}
	// The place is held while the write is on its way, so that a burst of
	// concurrent turns cannot overshoot the limit.
	o.reserved++
	o.mu.Unlock()

	e := Entry{Turn: t, Queued: time.Now()}
	// Batch coalesces concurrent enqueues into one transaction and one
	// fsync, so that a burst of finished turns costs one disk sync.
	err := o.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPending)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.Seq = seq
		v, err := encodeEntry(e)
		if err != nil {
			return err
		}
		return b.Put(seqKey(seq), v)
	})
	if err != nil {
		err = fmt.Errorf("outbox: queueing turn %s: %w", t.ID, err)
		o.mu.Lock()
		o.reserved--
		o.failedAt, o.failure = time.Now(), err
		o.mu.Unlock()
		return err
	}
	o.mu.Lock()
	o.reserved--
	// Sequences are allocated in commit order, but Batch may hand them
	// back out of order: keep the index sorted.
	p := &pending{seq: e.Seq, conv: keyOf(t), turnTime: t.Time}
	i, _ := slices.BinarySearchFunc(o.pending, e.Seq, func(p *pending, s uint64) int {
		return cmpUint(p.seq, s)
	})
	o.pending = slices.Insert(o.pending, i, p)
	o.mu.Unlock()
	o.signal()
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// failureMemory is how long a refused write keeps the outbox reported as
// failing: a full disk does not heal between two requests.
const failureMemory = 10 * time.Second

// Accepting reports why a turn enqueued now would be refused: the outbox
// is closed, full, or its disk refused a write lately. Nil means it would
// be taken.
func (o *Outbox) Accepting() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return ErrOutboxClosed
	case len(o.pending) >= o.limit:
		return ErrQueueFull
	case o.failure != nil && time.Since(o.failedAt) < failureMemory:
		return o.failure
	}
	return nil
}

// claim returns the turns ready to be applied now, as batches: all due
// turns of one conversation whose earlier turns are neither in flight nor
// waiting to be retried, with none younger than debounce (so that a
// conversation still in progress is extracted in one go). Claimed turns
// are in flight until ack or fail. It also returns when to look again.
func (o *Outbox) claim(now time.Time, debounce time.Duration, max int) ([][]Entry, time.Time, error) {
	o.mu.Lock()
	// First, the conversations that must wait: one of their turns is being
	// applied or waits to be retried (wherever it sits in the queue: turns
	// queued in one batch may have taken their sequence numbers out of
	// order), or they are still in progress (debounce).
	blocked := map[convKey]bool{}
	latest := map[convKey]time.Time{}
	next := now.Add(time.Hour)
	for _, p := range o.pending {
		if p.turnTime.After(latest[p.conv]) {
			latest[p.conv] = p.turnTime
		}
		switch {
		case p.inFlight:
			blocked[p.conv] = true
		case p.nextTry.After(now):
			blocked[p.conv] = true
			if p.nextTry.Before(next) {
				next = p.nextTry
			}
		}
	}
	for conv, t := range latest {
		if quiet := t.Add(debounce); !blocked[conv] && quiet.After(now) {
			blocked[conv] = true
			if quiet.Before(next) {
				next = quiet
			}
		}
	}
	// Then one batch per free conversation, its turns in queue order.
	groups := map[convKey][]*pending{}
	var order []convKey
	for _, p := range o.pending {
		if blocked[p.conv] {
			continue
		}
		if _, ok := groups[p.conv]; !ok {
			if len(order) == max {
				continue
			}
			order = append(order, p.conv)
		}
		groups[p.conv] = append(groups[p.conv], p)
	}
	for _, k := range order {
		for _, p := range groups[k] {
			p.inFlight = true
		}
	}
	o.mu.Unlock()

	batches := make([][]Entry, 0, len(order))
	err := o.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPending)
		for _, k := range order {
			var batch []Entry
			for _, p := range groups[k] {
				e, err := decodeEntry(b.Get(seqKey(p.seq)))
				if err != nil {
					return fmt.Errorf("decoding queued turn %d: %w", p.seq, err)
				}
				batch = append(batch, e)
			}
			batches = append(batches, batch)
		}
		return nil
	})
	if err != nil {
		o.release(order, groups)
		return nil, next, fmt.Errorf("outbox: reading queued turns: %w", err)
	}
	return batches, next, nil
}

func (o *Outbox) release(order []convKey, groups map[convKey][]*pending) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, k := range order {
		for _, p := range groups[k] {
			p.inFlight = false
		}
	}
}

// ack removes applied turns.
func (o *Outbox) ack(batch []Entry) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPending)
		for _, e := range batch {
			if err := b.Delete(seqKey(e.Seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Still queued: a replay in a while writes nothing new.
		o.unclaim(batch, time.Now().Add(ackRetry))
		return fmt.Errorf("outbox: removing applied turns: %w", err)
	}
	o.remove(batch)
	return nil
}

// ackRetry is how soon turns are tried again when the outbox could not
// record what became of them.
const ackRetry = 5 * time.Second

// unclaim puts turns back, no longer in flight, to be tried at next (now,
// when next is zero). It changes nothing on disk.
func (o *Outbox) unclaim(batch []Entry, next time.Time) {
	o.mu.Lock()
	for _, e := range batch {
		if i, ok := o.find(e.Seq); ok {
			o.pending[i].inFlight = false
			o.pending[i].nextTry = next
		}
	}
	o.mu.Unlock()
	o.signal()
}

// fail records a failed attempt: the turns wait until retry, or move to
// the dead letters when dead is set.
func (o *Outbox) fail(batch []Entry, cause error, retry time.Time, dead bool) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		p, d := tx.Bucket(bucketPending), tx.Bucket(bucketDead)
		for _, e := range batch {
			e.Attempts++
			e.LastError = cause.Error()
			e.NextTry = retry
			v, err := encodeEntry(e)
			if err != nil {
				return err
			}
			dst := p
			if dead {
				dst = d
				if err := p.Delete(seqKey(e.Seq)); err != nil {
					return err
				}
			}
			if err := dst.Put(seqKey(e.Seq), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Nothing recorded: the turns stay pending as they were, to be
		// tried again.
		next := time.Now().Add(ackRetry)
		if retry.After(next) {
			next = retry
		}
		o.unclaim(batch, next)
		return fmt.Errorf("outbox: recording a failed attempt: %w", err)
	}
	if dead {
		o.remove(batch)
		o.mu.Lock()
		o.dead += len(batch)
		o.mu.Unlock()
		return nil
	}
	o.unclaim(batch, retry)
	return nil
}

func (o *Outbox) remove(batch []Entry) {
	o.mu.Lock()
	for _, e := range batch {
		if i, ok := o.find(e.Seq); ok {
			o.pending = slices.Delete(o.pending, i, i+1)
		}
	}
	o.mu.Unlock()
	o.signal()
}

func (o *Outbox) find(seq uint64) (int, bool) {
	return slices.BinarySearchFunc(o.pending, seq, func(p *pending, s uint64) int { return cmpUint(p.seq, s) })
}

// OutboxStats describes the outbox.
type OutboxStats struct {
	Pending  int       `json:"pending"`
	InFlight int       `json:"in_flight"`
	Dead     int       `json:"dead"`
	Limit    int       `json:"limit"`
	Oldest   time.Time `json:"oldest,omitzero"` // the oldest pending turn's time
}

// Stats reports the outbox's state.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := OutboxStats{Pending: len(o.pending), Dead: o.dead, Limit: o.limit}
	for _, p := range o.pending {
		if p.inFlight {
			s.InFlight++
		}
		if !p.turnTime.IsZero() && (s.Oldest.IsZero() || p.turnTime.Before(s.Oldest)) {
			s.Oldest = p.turnTime
		}
	}
	return s
}

// DeadLetters returns the turns that failed every attempt, oldest first.
func (o *Outbox) DeadLetters() ([]Entry, error) {
	var out []Entry
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(_, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return fmt.Errorf("decoding dead letter: %w", err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: reading dead letters: %w", err)
	}
	return out, nil
}

// ErrNoDeadLetter is returned for a dead letter that does not exist.
var ErrNoDeadLetter = errors.New("no such dead letter")

// Retry moves a dead letter back to the queue, with its attempts reset.
func (o *Outbox) Retry(seq uint64) error {
	var e Entry
	err := o.db.Update(func(tx *bolt.Tx) error {
		d, p := tx.Bucket(bucketDead), tx.Bucket(bucketPending)
		v := d.Get(seqKey(seq))
		if v == nil {
			return ErrNoDeadLetter
		}
		var err error
		if e, err = decodeEntry(v); err != nil {
			return err
		}
		e.Attempts, e.NextTry = 0, time.Time{}
		nv, err := encodeEntry(e)
		if err != nil {
			return err
		}
		if err := d.Delete(seqKey(seq)); err != nil {
			return err
		}
		return p.Put(seqKey(seq), nv)
	})
	if err != nil {
		return fmt.Errorf("outbox: retrying dead letter %d: %w", seq, err)
	}
	o.mu.Lock()
	o.dead--
	i, _ := o.find(seq)
	o.pending = slices.Insert(o.pending, i, &pending{seq: seq, conv: keyOf(e.Turn), turnTime: e.Turn.Time})
	o.mu.Unlock()
	o.signal()
	return nil
}

// Discard deletes a dead letter for good.
func (o *Outbox) Discard(seq uint64) error {
	err := o.db.Update(func(tx *bolt.Tx) error {
		d := tx.Bucket(bucketDead)
		if d.Get(seqKey(seq)) == nil {
			return ErrNoDeadLetter
		}
		return d.Delete(seqKey(seq))
	})
	if err != nil {
		return fmt.Errorf("outbox: discarding dead letter %d: %w", seq, err)
	}
	o.mu.Lock()
	o.dead--
	o.mu.Unlock()
	return nil
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}
