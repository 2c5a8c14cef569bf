// Command memproxy is an OpenAI-compatible sidecar that gives any app
// long-term memory: point the app's OpenAI SDK at it and send
// X-Memory-User-Id / X-Memory-Agent-Id headers.
//
// This file only wires the packages together; see ARCHITECTURE in the
// README for what each one owns.
package main

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
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embedded"
	"github.com/memproxy/memproxy/memory/milvus"
	"github.com/memproxy/memproxy/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "memproxy:", err)
		os.Exit(1)
	}
}

// shutdownTimeout is how long open streams may run on after a stop signal.
const shutdownTimeout = 30 * time.Second

// run serves until ctx is done. onListen, if set, learns the address
// served once the port is open (tests listen on port 0).
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, onListen func(addr string)) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, logOut)
	gin.SetMode(gin.ReleaseMode)

	embedder, err := newEmbedder(ctx, cfg)
	if err != nil {
		return err
	}
	store, err := newStore(ctx, cfg, embedder, log)
	if err != nil {
		return err
	}
	defer store.Close()

	svc := &memory.Service{Store: store, Embedder: embedder, MinChars: 8}
	writer := memory.NewWriter(svc, cfg.Learn.QueueSize, log)
	var learner proxy.Learner
	if cfg.Learn.Enabled {
		learner = writer
	}
	upstream, err := url.Parse(cfg.Upstream.URL)
	if err != nil {
		return fmt.Errorf("upstream.url: %w", err) // Validate has checked it
	}
	handler := proxy.New(proxy.Options{
		Upstream:       upstream,
		UpstreamAPIKey: cfg.Upstream.APIKey,
		Identity: proxy.IdentityOptions{
			UserHeaders: cfg.Identity.UserHeaders, AgentHeaders: cfg.Identity.AgentHeaders,
			RunHeaders: cfg.Identity.RunHeaders, ModeHeaders: cfg.Identity.ModeHeaders,
			FromBody: cfg.Identity.FromBody,
		},
		Recaller:      &memory.Retriever{Store: store, Embedder: embedder},
		Learner:       learner,
		Memories:      svc,
		APIKeys:       cfg.APIKeys,
		Readiness:     store,
		RecallTimeout: time.Duration(cfg.Recall.Timeout),
		MaxBodyBytes:  cfg.Limits.MaxBodyBytes,
		Logger:        log,
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen (MEMPROXY_LISTEN): %w", err)
	}
	srv := &http.Server{
		Handler: handler,
		// No WriteTimeout: it would cut long streams. Slow clients are bounded
		// by ReadHeaderTimeout; idle keep-alive connections by IdleTimeout.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { writer.Run(writerCtx) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("memproxy listening", "addr", ln.Addr().String(), "upstream", cfg.Upstream.URL,
		"store", cfg.Store, "embedder", embedder.Name(), "memory_api", len(cfg.APIKeys) > 0)
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
	}
	// The answers of the last requests are handed to the writer; then it
	// applies what is queued and stops.
	handler.WaitHandoffs()
	stopWriter()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("memproxy stopped")
	return err
}

func newLogger(c config.Log, out io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // Validate has checked it
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

func newEmbedder(ctx context.Context, cfg config.Config) (memory.Embedder, error) {
	switch cfg.Embedder {
	case "openai":
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		e, err := memory.NewOpenAIEmbedder(pctx, memory.OpenAIEmbedderConfig{
			BaseURL: cfg.Embedding.URL, APIKey: cfg.Embedding.APIKey, Model: cfg.Embedding.Model,
			Dimensions: cfg.Embedding.Dimensions,
		})
		if err != nil {
			return nil, fmt.Errorf("embedder (MEMPROXY_EMBEDDER=openai): %w", err)
		}
		if cfg.Embedding.CacheSize > 0 {
			return memory.NewCachedEmbedder(e, cfg.Embedding.CacheSize), nil
		}
		return e, nil
	default:
		return memory.NewHashEmbedder(cfg.Embedding.Dimensions), nil
	}
}

// A readyStore is a memory.Store that can say whether it serves.
type readyStore interface {
	memory.Store
	proxy.Readiness
}

func newStore(ctx context.Context, cfg config.Config, e memory.Embedder, log *slog.Logger) (readyStore, error) {
	switch cfg.Store {
	case "milvus":
		s, err := milvus.Open(ctx, milvus.Config{
			Address: cfg.Milvus.Address, Token: cfg.Milvus.Token, Database: cfg.Milvus.Database,
			Collection: cfg.Milvus.Collection, ConnectTimeout: time.Duration(cfg.Milvus.ConnectTimeout),
			Dims: e.Dimensions(), Space: e.Name(), Logger: log,
		})
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
