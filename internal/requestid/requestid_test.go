package requestid

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"req_0123456789abcdef01234567", true},
		{"3f2c1b7e-8a9d-4c1e-9f0a-123456789abc", true},
		{"01HZX3K8Q9V7W6T5S4R3P2N1M0", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"gateway.eu:1234", true},
		{strings.Repeat("a", MaxLen), true},
		{"", false},
		{strings.Repeat("a", MaxLen+1), false},
		{"two words", false},
		{"quote\"d", false},
		{"line\nbreak", false},
		{"tab\t", false},
		{"slash/", false},
		{"é", false},
		{"nul\x00", false},
	} {
		if got := Valid(tc.id); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestFromHeader(t *testing.T) {
	for _, tc := range []struct {
		name       string
		values     []string
		fromClient bool
	}{
		{"none", nil, false},
		{"sane", []string{"abc-123"}, true},
		{"insane", []string{"abc 123"}, false},
		{"too long", []string{strings.Repeat("x", MaxLen+1)}, false},
		{"sent twice", []string{"a", "b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{Header: tc.values}
			id, fromClient := FromHeader(h)
			if fromClient != tc.fromClient || !Valid(id) {
				t.Fatalf("FromHeader = %q, %v; want fromClient %v and a valid id", id, fromClient, tc.fromClient)
			}
			if fromClient && id != tc.values[0] {
				t.Errorf("id %q, want the client's %q", id, tc.values[0])
			}
			if !fromClient && !strings.HasPrefix(id, "req_") {
				t.Errorf("id %q is not one of the sidecar's", id)
			}
		})
	}
	if a, b := New(), New(); a == b {
		t.Errorf("New returned %q twice", a)
	}
}

func TestContext(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Errorf("empty context: %q", got)
	}
	ctx := NewContext(context.Background(), "req_1")
	if got := FromContext(ctx); got != "req_1" {
		t.Errorf("FromContext = %q", got)
	}
	// A string key of the same text is another key.
	type other string
	if got := FromContext(context.WithValue(context.Background(), other("requestid"), "x")); got != "" {
		t.Errorf("an untyped key was read: %q", got)
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))
	ctx := NewContext(context.Background(), "req_42")
	log.InfoContext(ctx, "with", "k", 1)
	log.Info("without")
	log.With("a", "b").WarnContext(ctx, "derived")
	want := "level=INFO msg=with k=1 request_id=req_42\n" +
		"level=INFO msg=without\n" +
		"level=WARN msg=derived a=b request_id=req_42\n"
	if buf.String() != want {
		t.Errorf("logged\n%s\nwant\n%s", buf.String(), want)
	}
	if !log.Handler().Enabled(ctx, slog.LevelInfo) || log.Handler().Enabled(ctx, slog.LevelDebug) {
		t.Error("Enabled is not the wrapped handler's")
	}
}
