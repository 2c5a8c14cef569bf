package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memproxy/memproxy/memory"
)

// recallN records n recalls of outcome out through b, as requests would.
func recallN(t *testing.T, b *breaker, n int, out recallOutcome) {
	t.Helper()
	for i := range n {
		ok, probe := b.allow()
		if !ok || probe {
			t.Fatalf("recall %d of %d: allow = %v, probe %v; want a plain recall", i+1, n, ok, probe)
		}
		b.record(false, out)
	}
}

func wantState(t *testing.T, b *breaker, want breakerState) {
	t.Helper()
	b.mu.Lock()
	got := b.state
	b.mu.Unlock()
	if got != want {
		t.Fatalf("breaker is %v, want %v", got, want)
	}
}

var testBreaker = BreakerOptions{Window: 10 * time.Second, MinRecalls: 20, FailureRatio: 0.5, CoolDown: 5 * time.Second}

// TestBreakerOpensOnMostRecallsTimingOut checks the threshold: no fewer
// than MinRecalls in the window, and at least FailureRatio of them out of
// budget.
func TestBreakerOpensOnMostRecallsTimingOut(t *testing.T) {
	tests := []struct {
		name             string
		inTime, timedOut int
		want             breakerState
	}{
		{"too few recalls to judge", 0, 19, breakerClosed},
		{"enough, all timed out", 0, 20, breakerOpen},
		{"exactly half timed out", 10, 10, breakerOpen},
		{"under half timed out", 11, 10, breakerClosed},
		{"all in time", 100, 0, breakerClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBreaker(testBreaker, nil, nil)
				recallN(t, b, tt.inTime, recallInTime)
				recallN(t, b, tt.timedOut, recallTimedOut)
				wantState(t, b, tt.want)
				if ok, _ := b.allow(); ok != (tt.want == breakerClosed) {
					t.Errorf("allow = %v with the breaker %v", ok, tt.want)
				}
			})
		})
	}
}

// TestBreakerWindowSlides checks that timeouts older than the window are
// forgotten, and that recalls abandoned by their clients count for
// nothing.
func TestBreakerWindowSlides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(testBreaker, nil, nil)
		recallN(t, b, 15, recallTimedOut)
		time.Sleep(11 * time.Second) // the fake clock: past the window
		recallN(t, b, 15, recallTimedOut)
		wantState(t, b, breakerClosed) // 15 in the window, not 30
		recallN(t, b, 50, recallNoVerdict)
		wantState(t, b, breakerClosed)
		time.Sleep(4 * time.Second) // still within the window of the last 15
		recallN(t, b, 5, recallTimedOut)
		wantState(t, b, breakerOpen) // 20 timeouts within 10 s
	})
}

// TestBreakerCoolDownAndProbe walks open → half-open → open → half-open →
// closed: no recall during the cool-down, one probe after it, the probe's
// outcome deciding.
func TestBreakerCoolDownAndProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		b := newBreaker(testBreaker, nil, func(s breakerState) { changes = append(changes, s.String()) })
		recallN(t, b, 20, recallTimedOut)
		wantState(t, b, breakerOpen)

		time.Sleep(testBreaker.CoolDown - time.Millisecond) // fake clock, as below
		if ok, _ := b.allow(); ok {
			t.Fatal("a recall was let through during the cool-down")
		}
		time.Sleep(time.Millisecond)
		ok, probe := b.allow()
		if !ok || !probe {
			t.Fatalf("after the cool-down: allow = %v, probe %v; want the probe", ok, probe)
		}
		if ok, _ := b.allow(); ok {
			t.Fatal("a second recall was let through while the probe is out")
		}
		b.record(true, recallTimedOut) // the store is still slow
		wantState(t, b, breakerOpen)
		if ok, _ := b.allow(); ok {
			t.Fatal("a recall was let through right after a failed probe")
		}

		time.Sleep(testBreaker.CoolDown)
		_, probe = b.allow()
		b.record(probe, recallNoVerdict) // the client went away: no verdict
		wantState(t, b, breakerHalfOpen)
		ok, probe = b.allow()
		if !ok || !probe {
			t.Fatalf("after a probe without verdict: allow = %v, probe %v; want another probe", ok, probe)
		}
		b.record(true, recallInTime)
		wantState(t, b, breakerClosed)
		// The window starts anew: the old timeouts do not reopen it.
		recallN(t, b, 19, recallTimedOut)
		wantState(t, b, breakerClosed)

		want := "open half-open open half-open closed"
		if got := strings.Join(changes, " "); got != want {
			t.Errorf("changes %q, want %q", got, want)
		}
	})
}

// TestBreakerDisabled checks that a disabled breaker never skips recall.
func TestBreakerDisabled(t *testing.T) {
	o := testBreaker
	o.Disabled = true
	b := newBreaker(o, nil, nil)
	recallN(t, b, 100, recallTimedOut)
	wantState(t, b, breakerClosed)
}

// countingStore counts searches and answers them after the delay held
// in delay (nanoseconds), honouring its context.
type countingStore struct {
	memory.Store
	searches atomic.Int64
	delay    atomic.Int64
}

func (s *countingStore) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	s.searches.Add(1)
	select {
	case <-time.After(time.Duration(s.delay.Load())):
		return s.Store.Search(ctx, r)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestBreakerThroughTheProxy runs the breaker in the real sidecar in front
// of a store slower than the budget: the recalls time out until the
// breaker opens; then chats fail open at once without a store call, and
// /readyz and the metrics say so; after the cool-down one probe finds the
// store fast again and the breaker closes.
func TestBreakerThroughTheProxy(t *testing.T) {
	// Long enough that the probe, with the store fast again, answers
	// within it on a busy machine.
	const budget = time.Second
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	var store *countingStore
	h := newHarness(t, func(o *Options) {
		o.RecallTimeout = budget
		o.Now = clock.Now
		o.Metrics = NewMetrics(reg)
		o.Breaker = BreakerOptions{Window: 10 * time.Second, MinRecalls: 2, FailureRatio: 0.5, CoolDown: time.Minute}
	})
	fitcoach(h)
	store = &countingStore{Store: h.Store}
	store.delay.Store(int64(time.Hour))
	h.server.opts.Recaller = &memory.Retriever{Store: store, Embedder: h.Embedder}

	body := `{"model":"m","messages":[{"role":"user","content":"Just finished my run!"}]}`
	chat := func() string {
		t.Helper()
		resp, got := h.Do("POST", "/v1/chat/completions", body, ids("sarah", "fitcoach_v1"))
		if resp.StatusCode != 200 || !strings.Contains(got, "You said") {
			t.Fatalf("the chat call failed: %d %s", resp.StatusCode, got)
		}
		return resp.Header.Get(HeaderStatus)
	}
	readyz := func() (string, breakerReport) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.server.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		var r struct {
			Status  string        `json:"status"`
			Breaker breakerReport `json:"recall_breaker"`
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("/readyz answered %d", rec.Code)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("/readyz %q: %v", rec.Body, err)
		}
		return r.Status, r.Breaker
	}
	gauge := func(state string) float64 { return metricValue(t, reg, "memproxy_recall_breaker_state", state) }

	for i := range 2 {
		if s := chat(); s != "failed-open: timeout" {
			t.Fatalf("chat %d: %s = %q, want failed-open: timeout", i+1, HeaderStatus, s)
		}
	}
	searched := store.searches.Load()
	if searched == 0 {
		t.Fatal("the slow store was never searched")
	}
	if st, r := readyz(); st != "degraded" || r.State != "open" || r.Opened != 1 {
		t.Errorf("/readyz with the breaker open: %s, %+v", st, r)
	}
	if gauge("open") != 1 || gauge("closed") != 0 {
		t.Errorf("state gauge: open %v closed %v", gauge("open"), gauge("closed"))
	}

	for i := range 10 {
		if s := chat(); s != "failed-open: breaker" {
			t.Fatalf("chat %d with the breaker open: %s = %q", i+1, HeaderStatus, s)
		}
	}
	if n := store.searches.Load(); n != searched {
		t.Errorf("the store was searched %d times with the breaker open", n-searched)
	}

	// The store recovers; after the cool-down one probe finds it in time.
	store.delay.Store(0)
	clock.Add(time.Minute)
	if s := chat(); s != "injected" {
		t.Fatalf("the probe: %s = %q, want injected", HeaderStatus, s)
	}
	if st, r := readyz(); st != "ready" || r.State != "closed" {
		t.Errorf("/readyz after the probe: %s, %+v", st, r)
	}
	if gauge("closed") != 1 || gauge("open") != 0 {
		t.Errorf("state gauge: open %v closed %v", gauge("open"), gauge("closed"))
	}
	trips := metricValue(t, reg, "memproxy_recall_breaker_transitions_total", "open")
	skipped := metricValue(t, reg, "memproxy_recall_duration_seconds", "failed_breaker")
	if trips != 1 {
		t.Errorf("transitions to open = %v, want 1", trips)
	}
	if skipped != 10 {
		t.Errorf("recalls skipped by the breaker = %v, want 10", skipped)
	}
}

// metricValue is the value of the metric name with the one label value
// label, as reg gathers it: a gauge's or counter's value, a histogram's
// count.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				}
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
