// Package sidecar assembles memproxy from a Config and serves until its
// context ends: the embedder, the store, the policies, the outbox and its
// writer, the proxy, and the listeners, stopped in order on the way out.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/internal/requestid"
	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/internal/version"
	"github.com/memproxy/memproxy/memapi"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/memory/milvus"
	"github.com/memproxy/memproxy/policies"
	"github.com/memproxy/memproxy/proxy"
)

// shutdownTimeout is how long open streams may run on after a stop signal.
const shutdownTimeout = 30 * time.Second

// handoffTimeout is how long the answers of the last requests may take to
// reach the outbox after the server has stopped.
const handoffTimeout = 5 * time.Second

// tracingShutdownTimeout bounds the export of the last spans at exit.
const tracingShutdownTimeout = 5 * time.Second

// expirySweep is how often expired memories are deleted from the store
// (they are invisible from the moment they expire).
const expirySweep = time.Hour

// Run loads the configuration through getenv, assembles the sidecar and
// serves until ctx is done, then finishes open requests, hands their turns
// to the outbox and stops the writer. Logs go to logOut. onListen, if set,
// learns the address served once the port is open (tests listen on port 0).
func Run(ctx context.Context, getenv func(string) string, logOut io.Writer, onListen func(addr string)) error {
	return run(ctx, getenv, nil, logOut, onListen)
}

// RunEnviron is Run with the environment as os.Environ lists it, which lets
// it also warn about MEMPROXY_* variables it does not read: a misspelt
// setting is otherwise silently ignored.
func RunEnviron(ctx context.Context, environ []string, logOut io.Writer, onListen func(addr string)) error {
	return run(ctx, config.Getenv(environ), config.Unknown(environ), logOut, onListen)
}

func run(ctx context.Context, getenv func(string) string, unknown []config.UnknownVariable, logOut io.Writer, onListen func(addr string)) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		// A misspelt name may be why: say so before the error.
		warnUnknown(NewLogger(config.Default().Log, logOut), unknown)
		return err
	}
	log := NewLogger(cfg.Log, logOut)
	warnUnknown(log, unknown)
	gin.SetMode(gin.ReleaseMode)

	embedder, err := NewEmbedder(ctx, cfg, log)
	if err != nil {
		return err
	}
	store, err := OpenStore(ctx, cfg, embedder, log)
	if err != nil {
		return err
	}
	defer store.Close()

	pols, err := LoadPolicies(ctx, cfg, log)
	if err != nil {
		return err
	}
	llm, err := learn.NewLLMExtractor(learn.LLMConfig{
		BaseURL: cfg.Learn.Extraction.URL, APIKey: cfg.Learn.Extraction.APIKey, Model: cfg.Learn.Extraction.Model,
	})
	if err != nil {
		return fmt.Errorf("learn.extraction (MEMPROXY_EXTRACTION_MODEL): %w", err)
	}
	// The persona cache sees every write made here: both services write
	// through the store that invalidates it.
	var personas *memory.PersonaCache
	var writes memory.Store = store
	if pc := cfg.Recall.PersonaCache; pc.TTL > 0 {
		personas = memory.NewPersonaCache(store, memory.PersonaCacheOptions{
			TTL: time.Duration(pc.TTL), MaxAgents: pc.MaxAgents, MaxMemories: pc.MaxMemories,
		})
		writes = &memory.InvalidatingStore{Store: store, Personas: personas}
	}
	learning := &learn.Service{
		Store: writes, Embedder: embedder, LLM: llm, Policies: pols,
		MinChars: 8, DupThreshold: cfg.Learn.DupThreshold, SimilarTopK: 5,
	}
	managing := &memory.Service{Store: writes, Embedder: embedder, Adder: learning}
	outbox, err := learn.OpenOutboxWith(cfg.DataDir, learn.OutboxOptions{
		Limit: cfg.Learn.QueueSize, FailOnCorrupt: cfg.Learn.OutboxOnCorrupt == "fail", Log: log,
	})
	if err != nil {
		return fmt.Errorf("data_dir (MEMPROXY_DATA_DIR=%s): %w", cfg.DataDir, err)
	}
	defer outbox.Close()
	tracing, err := telemetry.New(ctx, cfg.Tracing, version.String())
	if err != nil {
		return fmt.Errorf("tracing (OTEL_*): %w", err)
	}
	defer func() {
		// Buffered spans are sent within a bound: a collector that is down
		// must not hold the exit.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tracingShutdownTimeout)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			log.Warn("tracing: spans not exported at exit", "err", err)
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Which build is running, the Prometheus way: a gauge of 1 with labels.
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "memproxy_build_info", Help: "Always 1; its labels say which memproxy is running.",
		ConstLabels: prometheus.Labels{"version": version.String(), "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo)
	learn.RegisterOutbox(reg, outbox)
	writer := learn.NewWriter(learning, outbox, learn.WriterConfig{
		Workers: cfg.Learn.Workers, MaxAttempts: cfg.Learn.MaxAttempts, Debounce: time.Duration(cfg.Learn.Debounce),
		Metrics: learn.NewMetrics(reg), Tracer: tracing.Tracer,
	}, log)
	var learner proxy.Learner
	if cfg.Learn.Enabled {
		learner = writer
	}
	upstream, err := url.Parse(cfg.Upstream.URL)
	if err != nil {
		return fmt.Errorf("upstream.url: %w", err) // Validate has checked it
	}
	recaller := &memory.Retriever{Store: store, Embedder: embedder, Personas: personas, ShortLayers: memory.NewShortLayers(0)}
	// The default encoding's vocabulary takes a few hundred milliseconds to
	// build: built now, not on the first request's time.
	go injector.LoadEncoding(injector.O200kBase)
	api := memapi.New(memapi.Options{
		Memories: managing, Queue: outbox, APIKeys: cfg.APIKeys, Policies: pols, Recaller: recaller,
		MaxBodyBytes: cfg.Limits.MaxBodyBytes, Logger: log,
	})
	handler := proxy.New(proxy.Options{
		Upstream:       upstream,
		UpstreamAPIKey: cfg.Upstream.APIKey,
		Identity: proxy.IdentityOptions{
			UserHeaders: cfg.Identity.UserHeaders, AgentHeaders: cfg.Identity.AgentHeaders,
			RunHeaders: cfg.Identity.RunHeaders, ModeHeaders: cfg.Identity.ModeHeaders,
			FromBody: cfg.Identity.FromBody,
		},
		Policies:             pols,
		Recaller:             recaller,
		Learner:              learner,
		Queue:                outbox,
		API:                  api,
		Readiness:            store,
		ClientKeys:           cfg.Auth.ClientKeys,
		IdentitySecret:       []byte(cfg.Auth.IdentitySecret),
		MaxConcurrentPerUser: cfg.Limits.MaxConcurrentPerUser,
		RecallTimeout:        time.Duration(cfg.Recall.Timeout),
		Breaker: proxy.BreakerOptions{
			Disabled:     !cfg.Recall.Breaker.Enabled,
			Window:       time.Duration(cfg.Recall.Breaker.Window),
			MinRecalls:   cfg.Recall.Breaker.MinRecalls,
			FailureRatio: cfg.Recall.Breaker.FailureRatio,
			CoolDown:     time.Duration(cfg.Recall.Breaker.CoolDown),
		},
		Metrics:        proxy.NewMetrics(reg),
		Tracer:         tracing.Tracer,
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		MaxBodyBytes:   cfg.Limits.MaxBodyBytes,
		Logger:         log,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen (MEMPROXY_LISTEN): %w", err)
	}
	var opsLn net.Listener
	if cfg.OpsListen != "" {
		if opsLn, err = net.Listen("tcp", cfg.OpsListen); err != nil {
			ln.Close()
			return fmt.Errorf("ops_listen (MEMPROXY_OPS_LISTEN): %w", err)
		}
	}
	srv := &http.Server{
		Handler: handler,
		// No WriteTimeout: it would cut long streams. Slow clients are bounded
		// by ReadHeaderTimeout; idle keep-alive connections by IdleTimeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { writer.Run(writerCtx, time.Duration(cfg.Learn.DrainTimeout)) })
	sweepCtx, stopSweep := context.WithCancel(ctx)
	wg.Go(func() { managing.SweepExpired(sweepCtx, expirySweep, log) })

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	if opsLn != nil {
		ops := &http.Server{Handler: handler.OpsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- ops.Serve(opsLn) }()
		defer ops.Close()
		log.Info("operational endpoints listening", "addr", opsLn.Addr().String())
	}
	log.Info("memproxy listening", "version", version.String(), "addr", ln.Addr().String(), "upstream", cfg.Upstream.URL,
		"store", cfg.Store, "embedder", embedder.Name(), "memory_api", len(cfg.APIKeys) > 0, "tracing", cfg.Tracing.Enabled)
	if onListen != nil {
		onListen(ln.Addr().String())
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down: finishing open requests", "timeout", shutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		if err != nil {
			// Streams still open after the grace period are cut: their
			// clients see the connection close, their answers are not learned.
			log.Warn("shutdown: closing connections still open", "err", err)
			srv.Close()
			err = nil
		}
	}
	// The answers of the last requests are handed to the writer; then it
	// applies what is queued and stops. Each step is bounded, so a stuck
	// store or model cannot keep the process from exiting; what is not
	// applied stays in the outbox for the next start.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handoffTimeout)
	if herr := handler.WaitHandoffs(hctx); herr != nil {
		log.Warn("shutdown: stopped waiting for answers", "err", herr)
	}
	cancel()
	stopWriter()
	stopSweep()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("memproxy stopped")
	return err
}

func warnUnknown(log *slog.Logger, unknown []config.UnknownVariable) {
	for _, u := range unknown {
		log.Warn(u.String(), "variable", u.Name)
	}
}

// BasePolicy is the default policy with the configuration's learning
// settings, under which a policy file's defaults are laid.
func BasePolicy(cfg config.Config) policies.Policy {
	p := policies.Default()
	p.Learn.Mode = cfg.Learn.Mode
	p.Learn.Instructions = cfg.Learn.Extraction.Instructions
	return p
}

// LoadPolicies reads the policy file, if any, and keeps it up to date: a
// file that fails to parse at start stops the sidecar; one that fails on
// reload is reported, with its line, and the last good rules stay.
func LoadPolicies(ctx context.Context, cfg config.Config, log *slog.Logger) (policies.Source, error) {
	base := BasePolicy(cfg)
	if cfg.PolicyFile == "" {
		return policies.Static(base), nil
	}
	data, err := os.ReadFile(cfg.PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("policy_file (MEMPROXY_POLICY_FILE): %w", err)
	}
	set, err := policies.Parse(data, base)
	if err != nil {
		return nil, fmt.Errorf("policy file %s: %w", cfg.PolicyFile, err)
	}
	live := policies.NewLive(set)
	log.Info("policies loaded", "file", cfg.PolicyFile, "rules", len(set.Patterns()))
	if interval := time.Duration(cfg.PolicyReload); interval > 0 {
		go config.WatchFile(ctx, cfg.PolicyFile, interval, data, func(data []byte) {
			set, err := policies.Parse(data, base)
			if err != nil {
				log.Error("policy file not reloaded: keeping the last good rules", "file", cfg.PolicyFile, "err", err)
				return
			}
			live.Store(set)
			log.Info("policies reloaded", "file", cfg.PolicyFile, "rules", len(set.Patterns()))
		}, func(err error) {
			log.Error("policy file not reloaded: keeping the last good rules", "err", err)
		})
	}
	return live, nil
}

// NewLogger is the sidecar's logger: text or JSON, at the configured level.
func NewLogger(c config.Log, out io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // Validate has checked it
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(out, opts)
	}
	return slog.New(requestid.NewHandler(h))
}

// NewEmbedder is the configured embedder: one of the built-in ones
// (static, the default, or hash), or an OpenAI-compatible server, probed
// once at start and cached if so set.
func NewEmbedder(ctx context.Context, cfg config.Config, log *slog.Logger) (memory.Embedder, error) {
	switch cfg.Embedder {
	case "static":
		return embed.NewStatic(), nil
	case "hash":
		return embed.NewHash(cfg.Embedding.Dimensions), nil
	}
	e, err := embed.NewOpenAI(embed.OpenAIConfig{
		BaseURL: cfg.Embedding.URL, APIKey: cfg.Embedding.APIKey, Model: cfg.Embedding.Model,
		Dimensions: cfg.Embedding.Dimensions,
	})
	if err != nil {
		return nil, fmt.Errorf("embedder (MEMPROXY_EMBEDDER=openai): %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.Check(pctx); err != nil {
		// Without a configured dimension the store cannot be opened; with
		// one, an embedder that is down at start is memory failing open.
		if cfg.Embedding.Dimensions == 0 || errors.Is(err, embed.ErrDimensions) {
			return nil, fmt.Errorf("embedder (MEMPROXY_EMBEDDER=openai, MEMPROXY_EMBEDDING_DIMENSIONS=%d): %w", cfg.Embedding.Dimensions, err)
		}
		log.Warn("the embedding server did not answer at start; memory fails open until it does", "err", err)
	}
	if cfg.Embedding.CacheSize > 0 {
		return embed.NewCached(e, cfg.Embedding.CacheSize), nil
	}
	return e, nil
}

// A Store is a memory.Store that can say whether it serves.
type Store interface {
	memory.Store
	proxy.Readiness
}

// The Milvus store says in /readyz whether it ranks by vector only.
var _ proxy.ReadinessDetails = (*milvus.Store)(nil)

// MilvusConfig is the configuration of the Milvus store for the
// embedder's vectors.
func MilvusConfig(cfg config.Config, e memory.Embedder, log *slog.Logger) milvus.Config {
	return milvus.Config{
		Address: cfg.Milvus.Address, Token: cfg.Milvus.Token, Database: cfg.Milvus.Database,
		Collection: cfg.Milvus.Collection, ConnectTimeout: time.Duration(cfg.Milvus.ConnectTimeout),
		HealthTimeout: time.Duration(cfg.Milvus.HealthTimeout),
		Dims:          e.Dimensions(), Space: e.Name(), Logger: log,
	}
}

// OpenStore opens the configured store (embedded, or Milvus) for the
// embedder's vectors.
func OpenStore(ctx context.Context, cfg config.Config, e memory.Embedder, log *slog.Logger) (Store, error) {
	switch cfg.Store {
	case "milvus":
		s, err := milvus.Open(ctx, MilvusConfig(cfg, e, log))
		if err != nil {
			return nil, fmt.Errorf("store (MEMPROXY_STORE=milvus, MEMPROXY_MILVUS_ADDRESS=%s): %w", cfg.Milvus.Address, err)
		}
		return s, nil
	default:
		s, err := embedded.Open(cfg.DataDir, e.Dimensions(), e.Name())
		if err != nil {
			return nil, fmt.Errorf("store (MEMPROXY_DATA_DIR=%s): %w", cfg.DataDir, err)
		}
		return s, nil
	}
}
