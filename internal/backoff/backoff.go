// Package backoff owns the waits between retries: one policy of doubling
// delays, capped and optionally jittered, for every retry loop in memproxy.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes how long to wait before each retry: Base before the
// first, doubling with each attempt up to Max.
type Policy struct {
	Base time.Duration
	Max  time.Duration
	// Jitter spreads each delay uniformly over [d/2, d] ("equal jitter"),
	// so that many clients retrying against a recovering server do not
	// arrive together.
	Jitter bool
}

// Delay is the wait after the given number of failed attempts (1 for the
// wait after the first failure).
func (p Policy) Delay(failures int) time.Duration {
	d := p.Max
	if failures < 1 {
		failures = 1
	}
	if failures < 32 {
		d = min(p.Base<<(failures-1), p.Max)
	}
	if p.Jitter && d > 0 {
		return d/2 + rand.N(d/2+1)
	}
	return d
}

// Wait sleeps for d, or until ctx is done, whichever comes first; it
// returns ctx's error in the second case.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retry calls fn up to attempts times, waiting p.Delay between calls,
// until it returns nil or an error for which retryable (if set) is false.
// It returns fn's last error; if ctx ends while waiting, ctx's error joined
// with that last one.
func Retry(ctx context.Context, p Policy, attempts int, retryable func(error) bool, fn func(context.Context) error) error {
	var err error
	for attempt := range attempts {
		if attempt > 0 {
			if werr := Wait(ctx, p.Delay(attempt)); werr != nil {
				return &waitError{ctx: werr, last: err}
			}
		}
		if err = fn(ctx); err == nil || (retryable != nil && !retryable(err)) {
			return err
		}
	}
	return err
}

// waitError is a retry cut short by its context: it matches both the
// context's error and the last attempt's.
type waitError struct{ ctx, last error }

func (e *waitError) Error() string { return e.ctx.Error() + " (after " + e.last.Error() + ")" }

func (e *waitError) Unwrap() []error { return []error{e.ctx, e.last} }
