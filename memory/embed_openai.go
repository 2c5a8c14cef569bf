package memory

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	openai "github.com/sashabaranov/go-openai"
)

// OpenAIEmbedderConfig configures an embedder that calls any
// OpenAI-compatible POST /embeddings endpoint.
type OpenAIEmbedderConfig struct {
	BaseURL    string // e.g. "https://api.openai.com/v1" or "http://localhost:11434/v1"
	APIKey     string
	Model      string
	Dimensions int // 0: ask the server once at start-up
	// RequestDimensions sends Dimensions in each request, for models that
	// can shorten their vectors (text-embedding-3-*).
	RequestDimensions bool
	HTTPClient        *http.Client
}

// OpenAIEmbedder embeds texts through an OpenAI-compatible API.
type OpenAIEmbedder struct {
	client *openai.Client
	cfg    OpenAIEmbedderConfig
}

// NewOpenAIEmbedder returns an embedder for cfg. It makes no request:
// call Check before use.
func NewOpenAIEmbedder(cfg OpenAIEmbedderConfig) (*OpenAIEmbedder, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("openai embedder: no model configured")
	}
	return &OpenAIEmbedder{client: newOpenAIClient(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient), cfg: cfg}, nil
}

// newOpenAIClient returns a go-openai client for an OpenAI-compatible API
// at baseURL (the OpenAI API when empty).
func newOpenAIClient(baseURL, apiKey string, hc *http.Client) *openai.Client {
	oc := openai.DefaultConfig(apiKey)
	if baseURL != "" {
		oc.BaseURL = baseURL
	}
	if hc != nil {
		oc.HTTPClient = hc
	}
	return openai.NewClientWithConfig(oc)
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
func (e *OpenAIEmbedder) Check(ctx context.Context) error {
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

func (e *OpenAIEmbedder) Dimensions() int { return e.cfg.Dimensions }
func (e *OpenAIEmbedder) Name() string    { return "openai:" + e.cfg.Model }

func (e *OpenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
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
		out[d.Index] = Normalize(d.Embedding)
	}
	return out, nil
}

// CachedEmbedder remembers the vectors of the most recently embedded texts.
// The chat path embeds the user's latest message, which repeats across
// retries and regenerations; the cache saves that round trip.
type CachedEmbedder struct {
	Embedder
	size int

	mu    sync.Mutex
	order *list.List // of *cacheEntry, most recent first
	items map[string]*list.Element
}

type cacheEntry struct {
	text string
	vec  []float32
}

// NewCachedEmbedder wraps e with an LRU cache of size entries.
func NewCachedEmbedder(e Embedder, size int) *CachedEmbedder {
	return &CachedEmbedder{Embedder: e, size: size, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *CachedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	var missing []string
	var missingAt []int
	c.mu.Lock()
	for i, t := range texts {
		if el, ok := c.items[t]; ok {
			c.order.MoveToFront(el)
			out[i] = el.Value.(*cacheEntry).vec
			continue
		}
		missing = append(missing, t)
		missingAt = append(missingAt, i)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	vs, err := c.Embedder.Embed(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for j, v := range vs {
		out[missingAt[j]] = v
		t := missing[j]
		if el, ok := c.items[t]; ok {
			c.order.MoveToFront(el)
			continue
		}
		c.items[t] = c.order.PushFront(&cacheEntry{text: t, vec: v})
		if c.order.Len() > c.size {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.items, last.Value.(*cacheEntry).text)
		}
	}
	return out, nil
}
