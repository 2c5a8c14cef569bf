package proxy

import (
	"sync"
	"time"
)

// BreakerOptions configure the recall breaker: when at least FailureRatio
// of at least MinRecalls recalls within Window ran out of their latency
// budget, recall is skipped for CoolDown (the request fails open at once,
// without calling the store); then one request probes the store, and a
// probe answered within the budget closes the breaker again.
type BreakerOptions struct {
	// Disabled turns the breaker off: every request recalls.
	Disabled     bool
	Window       time.Duration
	MinRecalls   int
	FailureRatio float64
	CoolDown     time.Duration
}

// The breaker's defaults, as config documents them.
const (
	DefaultBreakerWindow       = 10 * time.Second
	DefaultBreakerMinRecalls   = 20
	DefaultBreakerFailureRatio = 0.5
	DefaultBreakerCoolDown     = 5 * time.Second
)

// withDefaults fills the zero fields of o.
func (o BreakerOptions) withDefaults() BreakerOptions {
	if o.Window <= 0 {
		o.Window = DefaultBreakerWindow
	}
	if o.MinRecalls <= 0 {
		o.MinRecalls = DefaultBreakerMinRecalls
	}
	if o.FailureRatio <= 0 {
		o.FailureRatio = DefaultBreakerFailureRatio
	}
	if o.CoolDown <= 0 {
		o.CoolDown = DefaultBreakerCoolDown
	}
	return o
}

// breakerState is where the breaker stands.
type breakerState int

const (
	breakerClosed   breakerState = iota // recall as usual
	breakerOpen                         // skip recall until the cool-down ends
	breakerHalfOpen                     // one probe is recalling; the rest skip
)

func (s breakerState) String() string {
	return [...]string{"closed", "open", "half-open"}[s]
}

// recallOutcome is what a recall says about the store's health.
type recallOutcome int

const (
	recallInTime    recallOutcome = iota // answered (or failed) within the budget
	recallTimedOut                       // ran out of the budget
	recallNoVerdict                      // says nothing of the store: the client went away
)

// breakerBuckets is how many slices the window is counted in: the window
// slides by a tenth of itself.
const breakerBuckets = 10

type breakerBucket struct {
	start             time.Time
	recalls, timeouts int
}

// A breaker counts recalls in a sliding window and skips recall while
// the store cannot answer within the budget. Safe for concurrent use.
type breaker struct {
	opts BreakerOptions
	now  func() time.Time
	// onChange, when set, is told of every change of state (for metrics),
	// under the breaker's lock.
	onChange func(breakerState)

	mu       sync.Mutex
	state    breakerState
	since    time.Time // when the state began
	epoch    time.Time // the origin of the buckets' grid
	buckets  [breakerBuckets]breakerBucket
	probing  bool // a half-open probe is out
	opened   int  // times the breaker opened, for /readyz
	lastOpen time.Time
}

func newBreaker(o BreakerOptions, now func() time.Time, onChange func(breakerState)) *breaker {
	if now == nil {
		now = time.Now
	}
	t := now()
	return &breaker{opts: o.withDefaults(), now: now, onChange: onChange, since: t, epoch: t}
}

// allow reports whether a request may recall, and whether its recall is
// the half-open probe whose outcome decides the breaker's state.
func (b *breaker) allow() (ok, probe bool) {
	if b == nil || b.opts.Disabled {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerOpen:
		if b.now().Sub(b.since) < b.opts.CoolDown {
			return false, false
		}
		b.set(breakerHalfOpen)
		b.probing = true
		return true, true
	case breakerHalfOpen:
		if b.probing {
			return false, false
		}
		b.probing = true
		return true, true
	}
	return true, false
}

// record counts a recall's outcome; probe says whether allow made it the
// probe.
func (b *breaker) record(probe bool, out recallOutcome) {
	if b == nil || b.opts.Disabled {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		switch out {
		case recallInTime:
			b.clear()
			b.set(breakerClosed)
		case recallTimedOut:
			b.trip()
		}
		// No verdict: stay half-open; the next request probes.
		return
	}
	if b.state != breakerClosed || out == recallNoVerdict {
		// A recall that began before the breaker opened says nothing new.
		return
	}
	bk := b.bucket(b.now())
	bk.recalls++
	if out == recallTimedOut {
		bk.timeouts++
	}
	n, t := b.counts()
	if n >= b.opts.MinRecalls && float64(t) >= b.opts.FailureRatio*float64(n) {
		b.trip()
	}
}

// trip opens the breaker for a cool-down.
func (b *breaker) trip() {
	b.clear()
	b.opened++
	b.lastOpen = b.now()
	b.set(breakerOpen)
}

func (b *breaker) set(s breakerState) {
	b.state, b.since = s, b.now()
	if b.onChange != nil {
		b.onChange(s)
	}
}

// clear forgets the window: after a cool-down, the store is judged anew.
func (b *breaker) clear() { b.buckets = [breakerBuckets]breakerBucket{} }

// width is the length of one bucket.
func (b *breaker) width() time.Duration {
	return max(b.opts.Window/breakerBuckets, time.Nanosecond)
}

// bucket returns the bucket of time t, emptied if it last counted an
// older slice of the window.
func (b *breaker) bucket(t time.Time) *breakerBucket {
	k := t.Sub(b.epoch) / b.width()
	start := b.epoch.Add(k * b.width())
	bk := &b.buckets[int(k)%breakerBuckets]
	if !bk.start.Equal(start) {
		*bk = breakerBucket{start: start}
	}
	return bk
}

// counts sums the buckets within the window ending now.
func (b *breaker) counts() (recalls, timeouts int) {
	from := b.now().Add(-b.opts.Window)
	for _, bk := range b.buckets {
		if bk.start.After(from) {
			recalls += bk.recalls
			timeouts += bk.timeouts
		}
	}
	return recalls, timeouts
}

// breakerReport is the breaker's state as /readyz shows it.
type breakerReport struct {
	State          string  `json:"state"`
	Since          string  `json:"since"`
	Recalls        int     `json:"window_recalls"`
	Timeouts       int     `json:"window_timeouts"`
	Window         string  `json:"window"`
	MinRecalls     int     `json:"min_recalls"`
	FailureRatio   float64 `json:"failure_ratio"`
	CoolDown       string  `json:"cool_down"`
	Opened         int     `json:"times_opened"`
	LastOpened     string  `json:"last_opened,omitempty"`
	CoolDownEndsIn string  `json:"cool_down_ends_in,omitempty"`
}

// report describes the breaker now.
func (b *breaker) report() breakerReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, t := b.counts()
	r := breakerReport{
		State: b.state.String(), Since: b.since.UTC().Format(time.RFC3339),
		Recalls: n, Timeouts: t,
		Window: b.opts.Window.String(), MinRecalls: b.opts.MinRecalls, FailureRatio: b.opts.FailureRatio,
		CoolDown: b.opts.CoolDown.String(), Opened: b.opened,
	}
	if b.opened > 0 {
		r.LastOpened = b.lastOpen.UTC().Format(time.RFC3339)
	}
	if b.state == breakerOpen {
		r.CoolDownEndsIn = max(0, b.opts.CoolDown-b.now().Sub(b.since)).String()
	}
	return r
}

// isClosed reports whether recall runs as usual.
func (b *breaker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state == breakerClosed
}
