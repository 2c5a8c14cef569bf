package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memproxy/memproxy/memory"
)

type noRecall struct{}

func (noRecall) Recall(context.Context, memory.RecallRequest) (memory.Recalled, error) {
	return memory.Recalled{}, nil
}

// roundTripFunc answers in memory, so that the benchmark measures the
// sidecar and not loopback networking.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkPassthrough is the cost of the sidecar on a request it only
// forwards (GET /v1/models), with metrics on and tracing off: what every
// request without memory pays.
func BenchmarkPassthrough(b *testing.B) {
	up, _ := url.Parse("http://upstream.invalid/v1")
	const answer = `{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]}`
	srv := New(Options{
		Upstream: up,
		Recaller: noRecall{},
		Metrics:  NewMetrics(prometheus.NewRegistry()),
		Logger:   slog.New(slog.DiscardHandler),
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(answer)), Request: r}, nil
		}),
	})
	b.ReportAllocs()
	for b.Loop() {
		w := recorder{httptest.NewRecorder()}
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/v1/models", nil))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
