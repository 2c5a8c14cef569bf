// Package proxy owns memproxy's HTTP side: the routes, who a request is for
// (identity headers), the memory round trip of the chat routes (recall,
// inject, forward, tee the answer for learning), the reverse proxy for every
// other OpenAI path, error mapping, and the handlers of the memory API.
//
// It knows memories only through the small interfaces below; it does not
// know how they are embedded or stored.
package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/policies"
)

// A Recaller finds the memories relevant to a request.
type Recaller interface {
	Recall(ctx context.Context, req memory.RecallRequest) (memory.Recalled, error)
}

// A Learner takes completed turns to learn from, without blocking.
type Learner interface {
	Enqueue(t memory.Turn) error
}

// Memories is what the memory API does.
type Memories interface {
	Add(ctx context.Context, req memory.AddRequest) ([]memory.Event, error)
}

// Readiness reports whether the memory store can serve: nil, or why not.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Options configure a Server. Upstream and Recaller are required.
type Options struct {
	// Upstream is the base URL an OpenAI SDK would use, such as
	// https://api.openai.com/v1. The sidecar's /v1/X is forwarded to
	// Upstream/X; paths outside /v1 keep their path on Upstream's host.
	Upstream *url.URL
	// UpstreamAPIKey, when set, replaces the client's Authorization.
	UpstreamAPIKey string
	// Transport sends requests upstream; nil means a tuned http.Transport.
	Transport http.RoundTripper

	Identity IdentityOptions
	Policies policies.Source
	Recaller Recaller
	// Learner may be nil: nothing is learned.
	Learner Learner
	// Memories may be nil: the memory API answers 503.
	Memories Memories
	// APIKeys open the memory API.
	APIKeys []string
	// Readiness answers /readyz; nil: always ready.
	Readiness Readiness

	// RecallTimeout is the latency budget of recall.
	RecallTimeout time.Duration
	// MaxBodyBytes bounds the body of a chat request.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Server is the sidecar's HTTP handler.
type Server struct {
	opts     Options
	log      *slog.Logger
	identity *identityReader
	proxy    *httputil.ReverseProxy
	engine   *gin.Engine
	// handoffs counts answers being parsed into turns after their
	// response ended; WaitHandoffs waits for them.
	handoffs sync.WaitGroup
}

// New returns a Server for opts.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Policies == nil {
		opts.Policies = policies.Static(policies.Default())
	}
	if opts.RecallTimeout <= 0 {
		opts.RecallTimeout = 150 * time.Millisecond
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport()
	}
	s := &Server{opts: opts, log: opts.Logger, identity: newIdentityReader(opts.Identity)}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      opts.Transport,
		ModifyResponse: s.modifyResponse,
		ErrorHandler:   s.upstreamError,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		// Flush every write: LLM responses are streams even when they do
		// not say so (a missing Content-Length), and the stdlib only flushes
		// immediately for text/event-stream or unknown lengths.
		FlushInterval: -1,
	}
	s.engine = s.routes()
	return s
}

// WaitHandoffs waits until every completed answer has been handed to the
// Learner. Call it after http.Server.Shutdown, before stopping the Learner.
func (s *Server) WaitHandoffs() { s.handoffs.Wait() }

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

func (s *Server) routes() *gin.Engine {
	e := gin.New()
	// The sidecar must not redirect or rewrite paths it does not own: they
	// belong to the upstream.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ContextWithFallback = true
	e.Use(s.requestID, s.recovery, s.accessLog)

	e.POST("/v1/chat/completions", s.chatRoute(chatCompletions))
	e.POST("/v1/responses", s.chatRoute(responses))

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)

	api := e.Group("", s.apiAuth)
	for _, p := range []string{"/v1/ping/", "/v1/ping"} {
		api.GET(p, s.ping)
	}
	for _, p := range []string{"/v1/memories/", "/v1/memories", "/v3/memories/add/", "/v3/memories/add"} {
		api.POST(p, s.addMemories)
	}

	e.NoRoute(s.passthrough)
	return e
}

// NewTransport returns the transport used for the upstream: keep-alive
// pools sized for a busy sidecar, HTTP/2 where the upstream offers it, and
// no response timeout, since a model may think for minutes; the client's
// going away is what cancels a request.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 512
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// readyTimeout bounds the store's readiness check.
const readyTimeout = 2 * time.Second

// readyz says whether the memory store can serve. Chat works either way
// (memory fails open); a load balancer may still prefer a ready sidecar.
func (s *Server) readyz(c *gin.Context) {
	if s.opts.Readiness != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Readiness.Ready(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "store": err.Error()})
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
