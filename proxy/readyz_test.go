package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory/learn"
)

type readiness func(ctx context.Context) error

func (r readiness) Ready(ctx context.Context) error { return r(ctx) }

// TestReadyz checks /readyz for a ready store, a store that says why it is
// not, a store that does not answer in time, and no store check at all; by
// default a degraded sidecar stays ready (chat fails open), ?strict=1 says
// 503.
func TestReadyz(t *testing.T) {
	down := readiness(func(context.Context) error { return errors.New("milvus store unavailable: connection refused") })
	hung := readiness(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	tests := []struct {
		name      string
		readiness Readiness
		path      string
		code      int
		status    string
		store     string
	}{
		{"no check", nil, "/readyz", http.StatusOK, "ready", "ok"},
		{"ready", readiness(func(context.Context) error { return nil }), "/readyz?strict=1", http.StatusOK, "ready", "ok"},
		{"unavailable", down, "/readyz", http.StatusOK, "degraded", "milvus store unavailable: connection refused"},
		{"unavailable, strict", down, "/readyz?strict=1", http.StatusServiceUnavailable, "degraded", "milvus store unavailable: connection refused"},
		{"hung, strict", hung, "/readyz?strict=1", http.StatusServiceUnavailable, "degraded", "context deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{Upstream: mustURL(t, "http://127.0.0.1:1/v1"), Readiness: tc.readiness})
			start := time.Now()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if d := time.Since(start); d > readyTimeout+time.Second {
				t.Errorf("/readyz took %v", d)
			}
			var body struct{ Status, Store string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tc.code || body.Status != tc.status || body.Store != tc.store {
				t.Errorf("%s = %d %+v, want %d %q %q", tc.path, rec.Code, body, tc.code, tc.status, tc.store)
			}
		})
	}
}

type detailedReadiness struct{ details map[string]string }

func (detailedReadiness) Ready(context.Context) error       { return nil }
func (d detailedReadiness) ReadyDetails() map[string]string { return d.details }

// TestReadyzStoreDetails: a store's details (a Milvus without full-text
// search ranks by vector only) are reported without degrading the sidecar.
func TestReadyzStoreDetails(t *testing.T) {
	want := map[string]string{"retrieval": "dense only: the server (version v2.3.5-lite) has no full-text search"}
	s := New(Options{Upstream: mustURL(t, "http://127.0.0.1:1/v1"), Readiness: detailedReadiness{want}})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz?strict=1", nil))
	var body struct {
		Status       string
		StoreDetails map[string]string `json:"store_details"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if rec.Code != http.StatusOK || body.Status != "ready" || body.StoreDetails["retrieval"] != want["retrieval"] {
		t.Errorf("/readyz?strict=1 = %d %s; want 200, ready, with the store's details", rec.Code, rec.Body)
	}
}

// TestReadyzReportsTheOutbox: a full outbox is reported, and degrades.
func TestReadyzReportsTheOutbox(t *testing.T) {
	h := newHarness(t)
	resp, body := h.Do("GET", "/readyz", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"outbox":{`) || !strings.Contains(body, `"accepting":"ok"`) || !strings.Contains(body, `"limit":100`) {
		t.Errorf("/readyz = %d %s", resp.StatusCode, body)
	}
	full := fullOutbox(t)
	h2 := newHarness(t, func(o *Options) {
		o.Queue = full
		o.Learner = learn.NewWriter(&learn.Service{}, full, learn.WriterConfig{}, nil)
	})
	resp, body = h2.Do("GET", "/readyz?strict=1", "", nil)
	if resp.StatusCode != 503 || !strings.Contains(body, `"accepting":"outbox full"`) || !strings.Contains(body, `"pending":1`) {
		t.Errorf("/readyz?strict=1 with a full outbox = %d %s", resp.StatusCode, body)
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

// TestReadyzReportsADamagedOutbox: an outbox file found damaged at start
// and moved aside leaves the sidecar degraded, saying so.
func TestReadyzReportsADamagedOutbox(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "outbox.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ob, err := learn.OpenOutbox(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	s := New(Options{Upstream: mustURL(t, "http://127.0.0.1:1/v1"), Queue: ob})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var body struct {
		Status string
		Outbox struct{ Corrupt string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if body.Status != "degraded" || !strings.Contains(body.Outbox.Corrupt, "outbox.db.corrupt-") {
		t.Errorf("/readyz = %s, want degraded naming the file moved aside", rec.Body)
	}
}
