package memapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// TestFail: every error a handler returns is answered in one place.
func TestFail(t *testing.T) {
	a := New(Options{})
	tests := []struct {
		name   string
		err    error
		status int
		kind   string
		detail string
	}{
		{"chosen", &httpError{http.StatusTeapot, "teapot", "short and stout"}, http.StatusTeapot, "teapot", "short and stout"},
		{"invalid", invalid(errors.New("top_k must be positive")), 400, "invalid_request", "top_k must be positive"},
		{"invalid from Memories", failed("updating the memory", fmt.Errorf("%w: text is empty", memory.ErrInvalid)), 400, "invalid_request", "text is empty"},
		{"no scope", failed("storing memories", memory.ErrNoScope), 400, "invalid_request", memory.ErrNoScope.Error()},
		{"not found", failed("reading the memory", fmt.Errorf("memory nope: %w", memory.ErrNotFound)), 404, "not_found", "memory nope: " + memory.ErrNotFound.Error()},
		{"store down", failed("searching memories", errors.New("connection refused")), 503, "unavailable", "searching memories failed: connection refused"},
		{"anything else", errors.New("disk on fire"), 500, "internal", "disk on fire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest("GET", "/v1/memories/x/", nil)
			a.handle(func(*API, *gin.Context) error { return tc.err })(c)
			var body apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if rec.Code != tc.status || body.Error != tc.kind || body.Detail != tc.detail || !c.IsAborted() {
				t.Errorf("%d %+v, want %d {%s %s}", rec.Code, body, tc.status, tc.detail, tc.kind)
			}
		})
	}
	// A client that went away gets nothing; 499 is for the access log.
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Request = httptest.NewRequest("GET", "/v1/memories/x/", nil).WithContext(ctx)
	a.handle(func(*API, *gin.Context) error { return failed("reading the memory", context.Canceled) })(c)
	if rec.Code != 499 || rec.Body.Len() != 0 {
		t.Errorf("client gone: %d %q, want 499 and no body", rec.Code, rec.Body)
	}
}
