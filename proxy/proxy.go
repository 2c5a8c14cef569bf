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
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
)

// A Recaller finds the memories relevant to a request.
type Recaller interface {
	Recall(ctx context.Context, req memory.RecallRequest) (memory.Recalled, error)
}

// A Learner takes completed turns to learn from, without blocking.
type Learner interface {
	Enqueue(t learn.Turn) error
}

// Memories is what the memory API does (memory.Service does it).
type Memories interface {
	Add(ctx context.Context, req memory.AddRequest) ([]memory.Event, error)
	Get(ctx context.Context, id string) (memory.Memory, error)
	Search(ctx context.Context, q memory.Query) ([]memory.Hit, error)
	List(ctx context.Context, f memory.Filter, page memory.Page) ([]memory.Memory, int, error)
	Update(ctx context.Context, requestID string, changes ...memory.Change) ([]memory.Memory, error)
	Delete(ctx context.Context, ids ...string) error
	DeleteMatching(ctx context.Context, f memory.Filter) (int, error)
	History(ctx context.Context, id string) ([]memory.HistoryRecord, error)
	Entities(ctx context.Context) ([]memory.Entity, error)
	DeleteEntity(ctx context.Context, kind, name string) (int, error)
}

// Queue is the learning queue, as operators see it.
type Queue interface {
	Stats() learn.OutboxStats
	DeadLetters() ([]learn.Entry, error)
	Retry(seq uint64) error
	Discard(seq uint64) error
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
	// Queue may be nil: the queue endpoints answer 503.
	Queue Queue
	// APIKeys open the memory API.
	APIKeys []string
	// ClientKeys, when set, are required of every chat and forwarded
	// request (see HeaderKey).
	ClientKeys []string
	// IdentitySecret, when set, makes the sidecar accept only identities
	// signed with it (see SignIdentity).
	IdentitySecret []byte
	// MaxConcurrentPerUser bounds the chat requests one user has in
	// flight (0: no bound).
	MaxConcurrentPerUser int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics, when set, records Prometheus metrics; MetricsHandler, when
	// set, serves them at /metrics.
	Metrics        *Metrics
	MetricsHandler http.Handler
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
	limits   *limiter
	proxy    *httputil.ReverseProxy
	engine   *gin.Engine
	// events are the recent adds, for GET /v1/event/{id}/.
	events eventLog
	// handoffs counts the turns of requests in progress and of answers
	// being handed to the Learner; WaitHandoffs waits for them.
	handoffs counter
}

// counter counts work in progress. Unlike a WaitGroup it may be waited
// on while work starts: tests wait between requests of their own.
type counter struct {
	mu   sync.Mutex
	n    int
	zero sync.Cond
}

func (c *counter) add() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *counter) done() {
	c.mu.Lock()
	c.n--
	if c.n == 0 && c.zero.L != nil {
		c.zero.Broadcast()
	}
	c.mu.Unlock()
}

// wait waits until no work is in progress or ctx is done.
func (c *counter) wait(ctx context.Context) error {
	// A done ctx wakes the waiter; Broadcast needs no lock of its own, but
	// taking c.mu orders it after the waiter's check of ctx.
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.zero.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zero.L == nil {
		c.zero.L = &c.mu
	}
	for c.n > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%d answers not handed to the writer: %w", c.n, err)
		}
		c.zero.Wait()
	}
	return nil
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
	s := &Server{opts: opts, log: opts.Logger, identity: newIdentityReader(opts.Identity), limits: newLimiter(opts.MaxConcurrentPerUser)}
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
		// Without a pool the reverse proxy allocates a 32 KiB copy buffer
		// per response: three quarters of what a passthrough allocates.
		BufferPool: &copyBuffers{},
	}
	s.engine = s.routes()
	return s
}

// copyBuffers recycles the reverse proxy's copy buffers (the size it
// would allocate itself), as an httputil.BufferPool.
type copyBuffers struct{ pool sync.Pool }

const copyBufferSize = 32 << 10

func (p *copyBuffers) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, copyBufferSize)
}

func (p *copyBuffers) Put(b []byte) {
	if cap(b) == copyBufferSize {
		b = b[:copyBufferSize]
		p.pool.Put(&b)
	}
}

// WaitHandoffs waits until every completed answer has been handed to the
// Learner, or ctx is done. Call it after http.Server.Shutdown, before
// stopping the Learner.
func (s *Server) WaitHandoffs(ctx context.Context) error { return s.handoffs.wait(ctx) }

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// OpsHandler serves the operational endpoints only (/healthz, /readyz,
// /metrics), for a listener of their own: the sidecar's API can stay on
// loopback while a kubelet or a Prometheus reaches these from outside.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		mux.Handle("GET "+p, s.engine)
	}
	return mux
}

func (s *Server) routes() *gin.Engine {
	e := gin.New()
	// The sidecar must not redirect or rewrite paths it does not own: they
	// belong to the upstream.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ContextWithFallback = true
	e.Use(s.requestID, s.recovery, s.accessLog)

	e.POST("/v1/chat/completions", s.clientKey, s.chatRoute(chatCompletions))
	e.POST("/v1/responses", s.clientKey, s.chatRoute(responses))

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	if s.opts.MetricsHandler != nil {
		e.GET("/metrics", gin.WrapH(s.opts.MetricsHandler))
	}

	e.GET("/memproxy/openapi.json", s.openAPI)

	api := e.Group("", s.apiAuth)
	for _, p := range []string{"/v1/ping/", "/v1/ping"} {
		api.GET(p, s.ping)
	}
	mem := api.Group("", s.needMemories)
	for _, r := range memoryRoutes {
		for _, p := range []string{r.path, strings.TrimSuffix(r.path, "/")} {
			mem.Handle(r.method, p, func(c *gin.Context) { r.handle(s, c) })
		}
	}
	// memproxy's own operator endpoints, outside /v1 so that they can
	// never shadow an upstream path.
	api.GET("/memproxy/outbox", s.outbox)
	api.POST("/memproxy/outbox/dead/:seq/retry", s.retryDead)
	api.DELETE("/memproxy/outbox/dead/:seq", s.discardDead)
	api.GET("/memproxy/explain", s.explain)

	e.NoRoute(s.passthrough)
	return e
}

// memoryRoutes are the Mem0 endpoints the sidecar serves, each also
// without its trailing slash. The OpenAPI document describes every one
// (a test checks).
var memoryRoutes = []struct {
	method, path string
	handle       func(*Server, *gin.Context)
}{
	{"POST", "/v1/memories/", (*Server).addMemories},
	{"POST", "/v3/memories/add/", (*Server).addMemories},
	{"DELETE", "/v1/memories/", (*Server).deleteMemories},
	{"GET", "/v1/memories/:id/", (*Server).getMemory},
	{"PUT", "/v1/memories/:id/", (*Server).updateMemory},
	{"DELETE", "/v1/memories/:id/", (*Server).deleteMemory},
	{"GET", "/v1/memories/:id/history/", (*Server).memoryHistory},
	{"POST", "/v2/memories/search/", (*Server).searchMemories},
	{"POST", "/v3/memories/search/", (*Server).searchMemories},
	{"POST", "/v2/memories/", (*Server).listMemories},
	{"POST", "/v3/memories/", (*Server).listMemories},
	{"PUT", "/v1/batch/", (*Server).batchUpdate},
	{"DELETE", "/v1/batch/", (*Server).batchDelete},
	{"GET", "/v1/entities/", (*Server).listEntities},
	{"DELETE", "/v2/entities/:type/:name/", (*Server).deleteEntity},
	{"DELETE", "/v1/entities/:type/:name/", (*Server).deleteEntity},
	{"GET", "/v1/event/:id/", (*Server).getEvent},
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
	body := gin.H{"status": "ready", "store": "ok"}
	degraded := false
	if s.opts.Readiness != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Readiness.Ready(ctx); err != nil {
			body["store"], degraded = err.Error(), true
		}
	}
	if s.opts.Queue != nil {
		st := s.opts.Queue.Stats()
		accepting := "ok"
		if acc, ok := s.opts.Learner.(accepter); ok {
			if err := acc.Accepting(); err != nil {
				accepting, degraded = learnReason(err), true
			}
		}
		body["outbox"] = gin.H{"pending": st.Pending, "in_flight": st.InFlight, "dead": st.Dead, "limit": st.Limit, "accepting": accepting}
	}
	code := http.StatusOK
	if degraded {
		body["status"] = "degraded"
		// Chat still works when memory is down (it fails open), so a sidecar
		// stays ready: in a pod, an unready sidecar would take its app's
		// traffic away. ?strict=1 answers 503 instead, for deployments that
		// would rather route around a degraded instance.
		if c.Query("strict") != "" && c.Query("strict") != "0" {
			code = http.StatusServiceUnavailable
		}
	}
	c.JSON(code, body)
}
