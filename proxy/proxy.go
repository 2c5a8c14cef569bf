// Package proxy owns memproxy's chat proxy: who a request is for (identity
// headers, client keys, limits), the memory round trip of the chat routes
// (recall, inject, forward, tee the answer for learning), the reverse proxy
// for every other OpenAI path, the operational endpoints, and the routing
// of them all.
//
// It knows memories only through the small interfaces below; it does not
// know how they are embedded or stored. The memory API plugs in as an API
// (package memapi).
package proxy

import (
	lru "github.com/hashicorp/golang-lru/v2"
	"go.opentelemetry.io/otel/trace"

	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/injector"
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

// Queue is the learning queue, as /readyz reports it.
type Queue interface {
	Stats() learn.OutboxStats
}

// An API is a set of routes the sidecar serves itself beside the chat
// routes: the memory API (package memapi). The sidecar's own paths (see
// ownPath) are never forwarded upstream, served or not.
type API interface {
	// Register adds the API's routes to r.
	Register(r gin.IRouter)
	// Unserved answers a request to one of the sidecar's own paths that
	// no route serves.
	Unserved(c *gin.Context)
	// Refuse answers a request to one of the sidecar's own paths with an
	// error of the API's shape.
	Refuse(c *gin.Context, status int, code, msg string)
	// Keys are the API's keys. A header carrying one is removed from
	// every request forwarded upstream.
	Keys() []string
}

// Readiness reports whether the memory store can serve: nil, or why not.
type Readiness interface {
	Ready(ctx context.Context) error
}

// ReadinessDetails is a Readiness with more to say in /readyz than ready
// or not: facts an operator should know that do not degrade the sidecar,
// such as a store that ranks by vector only. They appear as
// "store_details".
type ReadinessDetails interface {
	ReadyDetails() map[string]string
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
	// Queue may be nil: /readyz does not report it.
	Queue Queue
	// API may be nil: the sidecar's own paths other than the chat and
	// operational routes answer 404.
	API API
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
	// Tracer, when set, traces chat requests (see trace.go); nil: tracing
	// is off and costs nothing.
	Tracer trace.Tracer

	// RecallTimeout is the latency budget of recall.
	RecallTimeout time.Duration
	// Breaker configures the recall breaker; its zero value is the
	// documented defaults.
	Breaker BreakerOptions
	// MaxBodyBytes bounds the body of a chat request.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Server is the sidecar's HTTP handler.
type Server struct {
	opts     Options
	log      *slog.Logger
	identity *identityReader
	// memoryKeys are the API's keys, removed from forwarded requests.
	memoryKeys keyHolder
	limits     *limiter
	proxy      *httputil.ReverseProxy
	engine     *gin.Engine
	// handoffs counts the turns of requests in progress and of answers
	// being handed to the Learner; WaitHandoffs waits for them.
	handoffs counter
	// flags remembers which memory texts read like instructions: the same
	// memories are injected into request after request.
	flags *lru.Cache[string, bool]
	// tokens remembers the token counts of memory texts, by encoding: the
	// tokenizer costs microseconds per line, a look-up nanoseconds.
	tokens *lru.Cache[tokenKey, int]
	// breaker skips recall while the store cannot answer in time.
	breaker *breaker
}

// A tokenKey is a text counted in an encoding.
type tokenKey struct{ encoding, text string }

// countTokens returns the tokens text costs in encoding (see
// injector.Count), remembering the answer.
func (s *Server) countTokens(encoding, text string) int {
	k := tokenKey{encoding, text}
	if n, ok := s.tokens.Get(k); ok {
		return n
	}
	n := injector.Count(encoding, text)
	s.tokens.Add(k, n)
	return n
}

// flagCacheSize is how many memory texts' flags the sidecar remembers.
const flagCacheSize = 16384

// flag reports whether a memory reads like an instruction (see
// injector.Suspicious), remembering the answer.
func (s *Server) flag(text string) bool {
	if f, ok := s.flags.Get(text); ok {
		return f
	}
	f := injector.Suspicious(text)
	s.flags.Add(text, f)
	return f
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
	s.flags, _ = lru.New[string, bool](flagCacheSize) // fails only for a size <= 0
	s.tokens, _ = lru.New[tokenKey, int](flagCacheSize)
	s.breaker = newBreaker(opts.Breaker, opts.Now, opts.Metrics.breakerChanged)
	opts.Metrics.breakerIs(breakerClosed)
	if opts.API != nil {
		s.memoryKeys = newKeyHolder(opts.API.Keys())
	}
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

// Routes lists the routes the sidecar serves itself, with their methods;
// every other request is forwarded to the upstream.
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

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

	if s.opts.API != nil {
		s.opts.API.Register(e)
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
	body := gin.H{"status": "ready", "store": "ok"}
	degraded := false
	if s.opts.Readiness != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Readiness.Ready(ctx); err != nil {
			body["store"], degraded = err.Error(), true
		}
		if d, ok := s.opts.Readiness.(ReadinessDetails); ok {
			if details := d.ReadyDetails(); len(details) > 0 {
				body["store_details"] = details
			}
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
		outbox := gin.H{"pending": st.Pending, "in_flight": st.InFlight, "dead": st.Dead, "limit": st.Limit, "accepting": accepting}
		if st.Corrupt != "" {
			// Reported until the next start: the turns in the file moved
			// aside are not learned unless an operator recovers them.
			outbox["corrupt"], degraded = st.Corrupt, true
		}
		body["outbox"] = outbox
	}
	if !s.opts.Breaker.Disabled {
		body["recall_breaker"] = s.breaker.report()
		if !s.breaker.isClosed() {
			// Chat is answered without memories while it is open.
			degraded = true
		}
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
