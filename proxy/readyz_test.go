package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

type readiness func(ctx context.Context) error

func (r readiness) Ready(ctx context.Context) error { return r(ctx) }

// TestReadyz checks /readyz for a ready store, a store that says why it is
// not, a store that does not answer in time, and no store check at all.
func TestReadyz(t *testing.T) {
	tests := []struct {
		name      string
		readiness Readiness
		code      int
		status    string
		store     string
	}{
		{"no check", nil, http.StatusOK, "ready", ""},
		{"ready", readiness(func(context.Context) error { return nil }), http.StatusOK, "ready", ""},
		{"unavailable", readiness(func(context.Context) error { return errors.New("milvus store unavailable: connection refused") }),
			http.StatusServiceUnavailable, "unavailable", "milvus store unavailable: connection refused"},
		{"hung", readiness(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }),
			http.StatusServiceUnavailable, "unavailable", "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Upstream: mustURL(t, "http://127.0.0.1:1/v1"), Readiness: tc.readiness})
			start := time.Now()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if d := time.Since(start); d > readyTimeout+time.Second {
				t.Errorf("/readyz took %v", d)
			}
			var body struct{ Status, Store string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tc.code || body.Status != tc.status || body.Store != tc.store {
				t.Errorf("/readyz = %d %+v, want %d %q %q", rec.Code, body, tc.code, tc.status, tc.store)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
