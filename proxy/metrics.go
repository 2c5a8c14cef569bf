package proxy

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP side's Prometheus metrics. A nil *Metrics records
// nothing. Labels name routes and outcomes, never ids or text.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	added    *prometheus.HistogramVec
	upstream *prometheus.HistogramVec
	recall   *prometheus.HistogramVec
	injected prometheus.Histogram
	tokens   prometheus.Histogram
	learning *prometheus.CounterVec
	statuses *prometheus.CounterVec
	usage    *prometheus.CounterVec
	breaker  *prometheus.GaugeVec
	trips    *prometheus.CounterVec
}

// Latency buckets from 100µs to 60s: the sidecar's own work is sub-ms, an
// LLM's answer can take a minute.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.0001, 60, 24)

// NewMetrics registers the HTTP side's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_requests_total", Help: "Requests served, by route and HTTP status.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "memproxy_request_duration_seconds", Help: "Time from a request's arrival to the end of its response (streams included).",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		added: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "memproxy_added_latency_seconds", Help: "Time the sidecar adds before a request goes upstream: reading, recall, injection.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "memproxy_upstream_ttfb_seconds", Help: "Time from sending a request upstream to the upstream's response headers.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		recall: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "memproxy_recall_duration_seconds", Help: "Time spent recalling memories, by outcome (injected, none, failed_<reason>).",
			Buckets: latencyBuckets,
		}, []string{"outcome"}),
		injected: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "memproxy_memories_injected", Help: "Memories injected into a request.",
			Buckets: []float64{0, 1, 2, 3, 5, 8, 13, 21, 34, 55},
		}),
		tokens: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "memproxy_injected_tokens", Help: "Estimated tokens of an injected memory block.",
			Buckets: prometheus.ExponentialBuckets(16, 2, 10),
		}),
		learning: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_learning_total", Help: "Chat requests by learning outcome (on, off, failed_open), and turns answered on that could not be queued (lost).",
		}, []string{"outcome"}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_upstream_responses_total", Help: "Responses from the upstream, by route and HTTP status.",
		}, []string{"route", "code"}),
		usage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_token_usage_total", Help: "Tokens the upstream counted in chat answers (usage), by the model that answered and type (input, output).",
		}, []string{"model", "type"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "memproxy_recall_breaker_state", Help: "The recall breaker's state: 1 for the state it is in (closed, open, half-open), 0 for the others.",
		}, []string{"state"}),
		trips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memproxy_recall_breaker_transitions_total", Help: "Changes of the recall breaker's state, by the state entered.",
		}, []string{"to"}),
	}
	reg.MustRegister(m.requests, m.duration, m.added, m.upstream, m.recall, m.injected, m.tokens, m.learning, m.statuses, m.usage, m.breaker, m.trips)
	return m
}

func (m *Metrics) request(route string, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, code).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) sent(route string, added time.Duration) {
	if m != nil {
		m.added.WithLabelValues(route).Observe(added.Seconds())
	}
}

func (m *Metrics) answered(route string, ttfb time.Duration, code int) {
	if m != nil {
		m.upstream.WithLabelValues(route).Observe(ttfb.Seconds())
		m.statuses.WithLabelValues(route, codeLabel(code)).Inc()
	}
}

// codeLabels are the labels of the HTTP status codes, made once: a
// passthrough request must not pay an allocation to be counted.
var codeLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func codeLabel(code int) string {
	if code >= 0 && code < len(codeLabels) {
		return codeLabels[code]
	}
	return strconv.Itoa(code)
}

// used counts the tokens of a chat answer that reported its usage.
func (m *Metrics) used(c *chatCall) {
	if m == nil || !c.hasUsage {
		return
	}
	model := c.model()
	m.usage.WithLabelValues(model, "input").Add(float64(c.inputTokens))
	m.usage.WithLabelValues(model, "output").Add(float64(c.outputTokens))
}

func (m *Metrics) recalled(outcome string, d time.Duration, injected, tokens int) {
	if m == nil {
		return
	}
	m.recall.WithLabelValues(outcome).Observe(d.Seconds())
	if outcome == "injected" {
		m.injected.Observe(float64(injected))
		m.tokens.Observe(float64(tokens))
	}
}

func (m *Metrics) learned(outcome string) {
	if m != nil {
		m.learning.WithLabelValues(outcome).Inc()
	}
}

// breakerChanged records the recall breaker's change to state s.
func (m *Metrics) breakerChanged(s breakerState) {
	if m == nil {
		return
	}
	m.breakerIs(s)
	m.trips.WithLabelValues(s.String()).Inc()
}

// breakerIs sets the recall breaker's state gauge to s.
func (m *Metrics) breakerIs(s breakerState) {
	if m == nil {
		return
	}
	for _, o := range []breakerState{breakerClosed, breakerOpen, breakerHalfOpen} {
		v := 0.0
		if o == s {
			v = 1
		}
		m.breaker.WithLabelValues(o.String()).Set(v)
	}
}
