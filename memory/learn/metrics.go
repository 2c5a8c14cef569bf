package learn

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memproxy/memproxy/memory"
)

// Metrics are the writer's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	turns  *prometheus.CounterVec
	events *prometheus.CounterVec
	apply  prometheus.Histogram
}

// NewMetrics registers the writer's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_writer_turns_total", Help: "Turns the writer handled, by result (applied, retried, dead).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_writer_events_total", Help: "Memory changes the writer made, by event (ADD, UPDATE, DELETE, NONE).",
		}, []string{"event"}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "memproxy_writer_apply_seconds", Help: "Time to apply one batch of turns (extraction, embedding, store).",
			Buckets: prometheus.ExponentialBucketsRange(0.0005, 120, 20),
		}),
	}
	reg.MustRegister(m.turns, m.events, m.apply)
	return m
}

func (m *Metrics) applied(turns int, events []memory.Event, d time.Duration) {
	if m == nil {
		return
	}
	m.turns.WithLabelValues("applied").Add(float64(turns))
	for _, e := range events {
		m.events.WithLabelValues(e.Kind).Inc()
	}
	m.apply.Observe(d.Seconds())
}

func (m *Metrics) failed(turns int, dead bool) {
	if m == nil {
		return
	}
	result := "retried"
	if dead {
		result = "dead"
	}
	m.turns.WithLabelValues(result).Add(float64(turns))
}

// RegisterOutbox registers gauges that read the outbox's state when
// scraped: pending, in flight, dead letters, its limit, and the age of the
// oldest pending turn.
func RegisterOutbox(reg prometheus.Registerer, o *Outbox) {
	gauge := func(name, help string, f func(OutboxStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(o.Stats()) })
	}
	reg.MustRegister(
		gauge("memproxy_outbox_pending", "Turns waiting to be learned (in flight included).", func(s OutboxStats) float64 { return float64(s.Pending) }),
		gauge("memproxy_outbox_in_flight", "Turns being learned now.", func(s OutboxStats) float64 { return float64(s.InFlight) }),
		gauge("memproxy_outbox_dead", "Turns that failed every attempt.", func(s OutboxStats) float64 { return float64(s.Dead) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "memproxy_outbox_corrupt_total", Help: "Damaged outbox files moved aside at start.",
		}, func() float64 {
			if o.Stats().Corrupt != "" {
				return 1
			}
			return 0
		}),
		gauge("memproxy_outbox_limit", "Turns the outbox holds at most.", func(s OutboxStats) float64 { return float64(s.Limit) }),
		gauge("memproxy_outbox_oldest_seconds", "Age of the oldest pending turn (0 when none).", func(s OutboxStats) float64 {
			if s.Oldest.IsZero() {
				return 0
			}
			return time.Since(s.Oldest).Seconds()
		}),
	)
}
