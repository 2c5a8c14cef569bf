package backoff

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := p.Delay(200); got != time.Second {
		t.Errorf("Delay(200) = %v, want the cap", got)
	}
}

func TestJitterStaysInTheUpperHalf(t *testing.T) {
	p := Policy{Base: time.Second, Max: time.Minute, Jitter: true}
	for n := 1; n < 10; n++ {
		full := Policy{Base: p.Base, Max: p.Max}.Delay(n)
		for range 100 {
			if d := p.Delay(n); d < full/2 || d > full {
				t.Fatalf("Delay(%d) = %v, want within [%v, %v]", n, d, full/2, full)
			}
		}
	}
}

func TestRetryWaitsBetweenAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := Retry(t.Context(), Policy{Base: time.Second, Max: time.Minute}, 4, nil, func(context.Context) error {
			calls++
			if calls < 3 {
				return errors.New("not yet")
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("Retry = %v after %d calls, want nil after 3", err, calls)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("waited %v, want 1s + 2s", waited)
		}
	})
}

func TestRetryStopsOnAPermanentError(t *testing.T) {
	permanent := errors.New("permanent")
	calls := 0
	err := Retry(t.Context(), Policy{Base: time.Hour, Max: time.Hour}, 5,
		func(err error) bool { return !errors.Is(err, permanent) },
		func(context.Context) error { calls++; return permanent })
	if !errors.Is(err, permanent) || calls != 1 {
		t.Fatalf("Retry = %v after %d calls, want the permanent error after 1", err, calls)
	}
}

func TestRetryGivesUpWithTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		last := errors.New("down")
		calls := 0
		err := Retry(t.Context(), Policy{Base: time.Second, Max: time.Second}, 3, nil,
			func(context.Context) error { calls++; return last })
		if !errors.Is(err, last) || calls != 3 {
			t.Fatalf("Retry = %v after %d calls, want %v after 3", err, calls, last)
		}
	})
}

func TestRetryEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		last := errors.New("down")
		err := Retry(ctx, Policy{Base: time.Minute, Max: time.Minute}, 10, nil,
			func(context.Context) error { return last })
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, last) {
			t.Fatalf("Retry = %v, want the deadline and the last error", err)
		}
	})
}
