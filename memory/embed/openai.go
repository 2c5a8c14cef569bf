package embed

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	openai "github.com/sashabaranov/go-openai"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/internal/openaiclient"
)

// OpenAIConfig configures an embedder that calls any
// OpenAI-compatible POST /embeddings endpoint.
type OpenAIConfig struct {
	BaseURL    string // e.g. "https://api.openai.com/v1" or "http://localhost:11434/v1"
	APIKey     string
	Model      string
	Dimensions int // 0: ask the server once at start-up
	// RequestDimensions sends Dimensions in each request, for models that
	// can shorten their vectors (text-embedding-3-*).
	RequestDimensions bool
	HTTPClient        *http.Client
}

// OpenAI embeds texts through an OpenAI-compatible API.
type OpenAI struct {
	client *openai.Client
	cfg    OpenAIConfig
}

// NewOpenAI returns an embedder for cfg. It makes no request:
// call Check before use.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("openai embedder: no model configured")
	}
	return &OpenAI{client: openaiclient.New(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient), cfg: cfg}, nil
}

// ErrDimensions is wrapped by Check when the model's vectors cannot have
// the configured dimension.
var ErrDimensions = errors.New("embedding dimension mismatch")

// Check embeds one text to settle the dimension, before the embedder is
// used: with none configured it learns the model's; with one configured
// that the model does not produce, it asks for it (text-embedding-3
// models shorten their vectors on request) and fails, wrapping
// ErrDimensions, if that does not work either. It is not safe to call
// while the embedder is in use.
func (e *OpenAI) Check(ctx context.Context) error {
	want := e.cfg.Dimensions
	e.cfg.Dimensions = 0 // accept whatever comes back, this once
	vs, err := e.Embed(ctx, []string{"dimension probe"})
	e.cfg.Dimensions = want
	if err != nil {
		return fmt.Errorf("openai embedder: probing %q: %w", e.cfg.Model, err)
	}
	got := len(vs[0])
	switch {
	case want == 0:
		e.cfg.Dimensions = got
		return nil
	case got == want:
		return nil
	}
	e.cfg.RequestDimensions = true
	vs, err = e.Embed(ctx, []string{"dimension probe"})
	if err == nil && len(vs[0]) == want {
		return nil
	}
	e.cfg.RequestDimensions = false
	return fmt.Errorf("openai embedder: %q returns vectors of %d dimensions, and %d were configured: %w", e.cfg.Model, got, want, ErrDimensions)
}

func (e *OpenAI) Dimensions() int { return e.cfg.Dimensions }
func (e *OpenAI) Name() string    { return "openai:" + e.cfg.Model }

func (e *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	req := openai.EmbeddingRequestStrings{Input: texts, Model: openai.EmbeddingModel(e.cfg.Model)}
	if e.cfg.RequestDimensions {
		req.Dimensions = e.cfg.Dimensions
	}
	resp, err := e.client.CreateEmbeddings(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("embedding %d texts with %s: %w", len(texts), e.cfg.Model, err)
	}
	if len(resp.Data) != len(texts) {
		return nil, fmt.Errorf("embedding %d texts with %s: got %d vectors", len(texts), e.cfg.Model, len(resp.Data))
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || d.Index >= len(out) || out[d.Index] != nil {
			return nil, fmt.Errorf("embedding with %s: bad or repeated index %d in response", e.cfg.Model, d.Index)
		}
		if e.cfg.Dimensions > 0 && len(d.Embedding) != e.cfg.Dimensions {
			return nil, fmt.Errorf("embedding with %s: got %d dimensions, want %d", e.cfg.Model, len(d.Embedding), e.cfg.Dimensions)
		}
		out[d.Index] = memory.Normalize(d.Embedding)
	}
	return out, nil
}
