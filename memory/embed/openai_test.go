package embed_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
)

func TestOpenAI(t *testing.T) {
	up := fakeupstream.New()
	srv := httptest.NewServer(up)
	defer srv.Close()
	ctx := context.Background()

	e, err := embed.NewOpenAI(embed.OpenAIConfig{BaseURL: srv.URL + "/v1", APIKey: "k", Model: "text-embedding-3-small"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if e.Dimensions() != fakeupstream.EmbeddingDims {
		t.Errorf("probed %d dimensions, want %d", e.Dimensions(), fakeupstream.EmbeddingDims)
	}
	vs, err := e.Embed(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := fakeupstream.Embedding("b", fakeupstream.EmbeddingDims)
	if memory.Cosine(vs[1], want) < 0.9999 {
		t.Errorf("vectors out of order or altered")
	}
	req, _ := up.Last("/v1/embeddings")
	if req.Header.Get("Authorization") != "Bearer k" {
		t.Errorf("Authorization = %q", req.Header.Get("Authorization"))
	}

	// Unreachable: Check says so.
	e, _ = embed.NewOpenAI(embed.OpenAIConfig{BaseURL: "http://127.0.0.1:1/v1", Model: "m", Dimensions: 8})
	if err := e.Check(ctx); err == nil || errors.Is(err, embed.ErrDimensions) {
		t.Errorf("Check against nothing: %v", err)
	}
	// A configured dimension the model does not produce natively is asked
	// for (the fake shortens vectors on request, as text-embedding-3 does).
	e, _ = embed.NewOpenAI(embed.OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Dimensions: 8})
	if err := e.Check(ctx); err != nil {
		t.Fatalf("Check with 8 dimensions configured: %v", err)
	}
	if vs, err := e.Embed(ctx, []string{"x"}); err != nil || len(vs[0]) != 8 {
		t.Errorf("embedding with 8 dimensions: %v", err)
	}
	// A model that cannot produce the configured dimension fails Check.
	up.Hook = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.URL.Path != "/v1/embeddings" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],"model":"m"}`)
		return true
	}
	e, _ = embed.NewOpenAI(embed.OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Dimensions: 8})
	if err := e.Check(ctx); !errors.Is(err, embed.ErrDimensions) {
		t.Errorf("Check of a fixed-size model: %v, want ErrDimensions", err)
	}
	if _, err := e.Embed(ctx, []string{"x"}); err == nil || !strings.Contains(err.Error(), "dimensions") {
		t.Errorf("a vector of the wrong dimension was accepted: %v", err)
	}
	// An error from the server surfaces.
	up.Hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.WriteHeader(503)
		w.Write([]byte(`{"error":{"message":"overloaded","type":"server_error"}}`))
		return true
	}
	if _, err := e.Embed(ctx, []string{"x"}); err == nil {
		t.Errorf("a 503 from the embedding server was not an error")
	}
}
