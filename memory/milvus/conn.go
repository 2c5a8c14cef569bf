package milvus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/internal/backoff"
)

// connect dials Milvus and prepares the collections; on success the
// store is ready.
func (s *Store) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	// milvusclient.New blocks until it reaches the server or ctx ends.
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{
		Address: s.cfg.Address, APIKey: s.cfg.Token, DBName: s.cfg.Database,
	})
	if err != nil {
		err = dialError(ctx, s.cfg.Address, err)
		s.setState(nil, fmt.Errorf("%w: connecting to %s: %w", ErrUnavailable, s.cfg.Address, err))
		return err
	}
	// Preparing may build an index over existing data: allow it more time.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*s.cfg.ConnectTimeout+time.Minute)
	defer pcancel()
	version, err := c.GetServerVersion(pctx, milvusclient.NewGetServerVersionOption())
	if err != nil {
		err = fmt.Errorf("asking the version of %s: %w", s.cfg.Address, err)
	}
	var want *entity.Schema
	var denseOnly error
	if err == nil {
		want, denseOnly, err = s.planMemories(pctx, c, version)
	}
	if err == nil {
		indexes := []vectorIndex{{fieldVector, index.NewHNSWIndex(entity.COSINE, 16, 200), entity.COSINE}}
		if denseOnly == nil {
			indexes = append(indexes, vectorIndex{fieldSparse, bm25Index(), entity.BM25})
		}
		err = ensureCollection(pctx, c, want, indexes...)
	}
	if err == nil {
		err = ensureCollection(pctx, c, historySchema(s.history), vectorIndex{fieldVector, index.NewFlatIndex(entity.COSINE), entity.COSINE})
	}
	if err == nil {
		err = s.checkEmbedder(pctx, c)
	}
	if err != nil {
		c.Close(context.WithoutCancel(ctx))
		s.setState(nil, fmt.Errorf("%w: %w", ErrUnavailable, err))
		return err
	}
	s.setRetrieval(denseOnly, rangeInHybrid(version))
	s.upsertAdds.Store(upsertSound(version))
	s.setState(c, nil)
	s.log.Info("milvus store ready", "address", s.cfg.Address, "collection", s.cfg.Collection, "hybrid", denseOnly == nil,
		"server_version", version, "upsert_adds", s.upsertAdds.Load())
	return nil
}

// dialError explains a connection attempt that ran out of time: the
// client only says its deadline passed, so one plain TCP dial tells what
// an operator needs to know ("connection refused", "no such host").
func dialError(ctx context.Context, address string, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	host := address
	if u, perr := url.Parse(address); perr == nil && u.Host != "" {
		host = u.Host // http://host:port, as the client also accepts
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	conn, derr := (&net.Dialer{}).DialContext(dctx, "tcp", host)
	if derr != nil {
		return fmt.Errorf("%w (%w)", err, derr)
	}
	conn.Close()
	return fmt.Errorf("%w (the address accepts TCP connections; no Milvus answered there in time)", err)
}

// setRetrieval records how searches with text rank, and says so when that
// is new: once at start, and again only if a reconnection changes it.
func (s *Store) setRetrieval(denseOnly error, rangeInHybrid bool) {
	s.mu.Lock()
	changed := !s.connected || fmt.Sprint(s.denseOnly) != fmt.Sprint(denseOnly)
	s.denseOnly, s.rangeInHybrid, s.connected = denseOnly, rangeInHybrid, true
	s.mu.Unlock()
	if changed && denseOnly != nil {
		s.log.Warn("milvus: no hybrid search; searches rank by vector only", "collection", s.cfg.Collection, "reason", denseOnly.Error())
	}
}

// setState installs a client (nil: none) and the store's state, closing
// the client it replaces.
func (s *Store) setState(c client, state error) {
	s.mu.Lock()
	old := s.cli
	s.cli, s.state = c, state
	s.mu.Unlock()
	if old != nil && old != c {
		// Calls under way on the old client end by themselves first.
		go func() {
			select {
			case <-time.After(closeGrace):
			case <-s.stop:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			old.Close(ctx)
			cancel()
		}()
	}
}

// Health checks and reconnection.
const (
	healthInterval = 2 * time.Second
	// defaultHealthTimeout is Config.HealthTimeout's default.
	defaultHealthTimeout = 1500 * time.Millisecond
	closeGrace           = 30 * time.Second
)

// reconnectWait is the wait before each attempt to reconnect: 100ms once
// Milvus went away, doubling with each failed attempt up to 2s, so that a
// short outage is bridged quickly and a long one is not hammered.
var reconnectWait = backoff.Policy{Base: 100 * time.Millisecond, Max: 2 * time.Second}

// maintain watches the connection until Close: while ready, it checks
// Milvus' health every healthInterval (or at once when a call failed to
// reach it); while not, it reconnects with a backoff.
func (s *Store) maintain() {
	defer close(s.done)
	failures := 0 // attempts to reconnect since Milvus went away
	for {
		s.mu.RLock()
		c, ready := s.cli, s.state == nil
		s.mu.RUnlock()
		wait := healthInterval
		if !ready {
			wait = reconnectWait.Delay(failures + 1)
		}
		select {
		case <-s.stop:
			return
		case <-s.kick:
		case <-time.After(wait):
		}
		if ready {
			// Two failed checks in a row: one may be a busy server.
			err := s.checkHealth(c)
			if err != nil {
				err = s.checkHealth(c)
			}
			if err != nil {
				s.log.Warn("milvus unreachable; memory fails open until it is back", "address", s.cfg.Address, "err", err)
				s.markUnavailable(c, fmt.Errorf("%w: %w", ErrUnavailable, err))
				failures = 0
			}
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.connect(ctx); err != nil {
			if errors.Is(err, ErrSchemaMismatch) {
				s.log.Error("milvus collection does not match the configuration", "err", err)
			}
			failures++
		}
		cancel()
	}
}

// markUnavailable fails calls at once from now on. The client c stays
// open until a new connection replaces it, so that calls under way end
// by themselves.
func (s *Store) markUnavailable(c client, state error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli == c && s.state == nil {
		s.state = state
	}
}

// checkHealth asks Milvus whether it is healthy and whether both
// collections are loaded: a restarted server may have released them, and
// reconnecting loads them again.
func (s *Store) checkHealth(c client) error {
	timeout := s.cfg.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := c.GetService().CheckHealth(ctx, &milvuspb.CheckHealthRequest{})
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if !resp.GetIsHealthy() {
		return fmt.Errorf("milvus reports itself unhealthy: %s", strings.Join(resp.GetReasons(), "; "))
	}
	for _, coll := range []string{s.cfg.Collection, s.history} {
		state, err := c.GetLoadState(ctx, milvusclient.NewGetLoadStateOption(coll))
		if err != nil {
			return fmt.Errorf("health check: load state of %s: %w", coll, err)
		}
		if state.State != entity.LoadStateLoaded {
			return fmt.Errorf("health check: collection %s is not loaded", coll)
		}
	}
	return nil
}

// Ready reports whether the store can serve: nil, or why not.
func (s *Store) Ready(ctx context.Context) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- s.checkHealth(c) }()
	select {
	case err := <-done:
		if err != nil {
			s.poke()
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: health check: %w", ErrUnavailable, ctx.Err())
	}
}

// client returns the connected client, or why there is none.
func (s *Store) client() (client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.state != nil {
		return nil, s.state
	}
	return s.cli, nil
}

// poke asks the maintainer to check the connection now.
func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// failed wraps an error of a Milvus call; one that is not the caller's
// own deadline or cancellation may mean Milvus is gone, so the connection
// is checked at once.
func (s *Store) failed(ctx context.Context, what string, err error) error {
	if ctx.Err() == nil {
		s.poke()
	}
	return fmt.Errorf("milvus store: %s: %w", what, err)
}
