package learn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The outbox is the durable queue between a completed response and the
// writer: a turn is on disk before it is learned from, so that a crash, a
// kill -9 or a store outage loses nothing. It lives on local disk whatever
// the store, in its own bbolt file.

var (
	bucketPending = []byte("pending")
	bucketDead    = []byte("dead")
	bucketProbe   = []byte("probe") // written to test the disk after a refusal
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
	db      *bolt.DB
	limit   int
	log     *slog.Logger
	corrupt string // the damaged file moved aside at open, if any

	// The disk reserve (see renewReserve); space is renewReserve but for
	// tests, and faults, when set, fails the outbox's writes.
	file       *os.File
	reserve    int64
	spaceMu    sync.Mutex
	reservedTo int64
	space      func() error
	faults     func() error
	commits    groupCommit

	mu       sync.Mutex
	pending  []*pending // by seq
	reserved int        // places held by enqueues being written
	dead     int
	closed   bool
	failure  error // why the disk refuses turns, until a probe succeeds
	probing  bool
	quit     chan struct{} // closed by Close: stops the probe
	wake     chan struct{} // signalled on Enqueue and on state changes
}

// OpenOutbox opens (creating) the outbox in dir, holding at most limit
// pending turns, with the default options.
func OpenOutbox(dir string, limit int) (*Outbox, error) {
	return OpenOutboxWith(dir, OutboxOptions{Limit: limit})
}

// Close closes the outbox file; queued turns stay for the next start.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		if o.quit != nil {
			close(o.quit)
		}
	}
	o.mu.Unlock()
	err := o.db.Close()
	if o.file != nil {
		o.file.Close()
	}
	return err
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
	// The answer's end waits for this write: concurrent turns share one
	// transaction and one fsync (see groupCommit).
	err := o.commits.write(func(tx *bolt.Tx) error {
		if o.faults != nil {
			if err := o.faults(); err != nil {
				return err
			}
		}
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
		o.mu.Unlock()
		o.refuse(err)
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
	o.checkSpace()
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

// Accepting reports why a turn enqueued now would be refused: the outbox
// is closed, full, or its disk refuses writes (or could not renew its
// reserve). Nil means it would be taken. A refusal for the disk ends
// within probeEvery of the disk taking writes again.
func (o *Outbox) Accepting() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return ErrOutboxClosed
	case len(o.pending) >= o.limit:
		return ErrQueueFull
	case o.failure != nil:
		return o.failure
	}
	return nil
}

// probeEvery is how often a refusing outbox tries its disk again.
const probeEvery = 100 * time.Millisecond

// checkSpace renews the disk reserve, refusing new turns when it cannot.
func (o *Outbox) checkSpace() {
	o.spaceMu.Lock()
	err := o.space()
	o.spaceMu.Unlock()
	if err != nil {
		o.refuse(err)
	}
}

// refuse makes Accepting report err until a probe of the disk succeeds.
func (o *Outbox) refuse(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	if o.failure == nil {
		o.log.Error("the outbox's disk refuses writes: new turns are not learned until it takes them again", "err", err)
	}
	o.failure = err
	if !o.probing {
		o.probing = true
		if o.quit == nil {
			o.quit = make(chan struct{})
		}
		go o.probe(o.quit)
	}
}

// probe tries the disk every probeEvery until it renews the reserve and
// takes a write, then lets the outbox accept turns again.
func (o *Outbox) probe(quit chan struct{}) {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		o.spaceMu.Lock()
		err := o.space()
		o.spaceMu.Unlock()
		if err == nil {
			err = o.db.Update(func(tx *bolt.Tx) error {
				if o.faults != nil {
					if err := o.faults(); err != nil {
						return err
					}
				}
				b, err := tx.CreateBucketIfNotExists(bucketProbe)
				if err != nil {
					return err
				}
				return b.Put([]byte("probe"), []byte(time.Now().UTC().Format(time.RFC3339Nano)))
			})
		}
		o.mu.Lock()
		if err != nil {
			o.failure = fmt.Errorf("outbox: the disk still refuses writes: %w", err)
			o.mu.Unlock()
			continue
		}
		o.failure, o.probing = nil, false
		o.mu.Unlock()
		o.log.Info("the outbox's disk takes writes again: learning resumes")
		return
	}
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
	// Corrupt says what became of a damaged outbox file found at start.
	Corrupt string `json:"corrupt,omitempty"`
}

// Stats reports the outbox's state.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := OutboxStats{Pending: len(o.pending), Dead: o.dead, Limit: o.limit, Corrupt: o.corrupt}
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
