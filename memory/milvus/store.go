// Package milvus is the memory.Store on a Milvus server: the production
// store, shared by many sidecars, and the way past one machine.
//
// It owns one collection of memories (created if missing, checked if
// present), a second one for history, the compilation of memory.Filter
// into Milvus boolean expressions (expr.go), listings read in pages of
// primary keys (list.go), and the connection: bounded at start, watched
// afterwards, and re-established by itself. While Milvus is unreachable
// every call fails at once with ErrUnavailable, so that chat fails open
// without waiting, and Ready says why.
//
// Consistency is chosen per call. The memory API reads its own writes
// (SearchRequest.Fresh, Page.Fresh, Get, Scan, Count, History and the
// checks behind Add and Update use Strong: Milvus waits until every write
// acknowledged before the call is visible). The chat hot path uses Bounded:
// it reads a snapshot at most a few seconds old (Milvus' graceful time,
// 5 s by default) without waiting for the newest writes of every sidecar;
// a fact learned from one turn is recalled from then on.
package milvus

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc"

	"github.com/memproxy/memproxy/memory"
)

// client is the part of *milvusclient.Client the store uses.
type client interface {
	HasCollection(ctx context.Context, opt milvusclient.HasCollectionOption, callOptions ...grpc.CallOption) (bool, error)
	CreateCollection(ctx context.Context, opt milvusclient.CreateCollectionOption, callOptions ...grpc.CallOption) error
	DescribeCollection(ctx context.Context, opt milvusclient.DescribeCollectionOption, callOptions ...grpc.CallOption) (*entity.Collection, error)
	ListIndexes(ctx context.Context, opt milvusclient.ListIndexOption, callOptions ...grpc.CallOption) ([]string, error)
	CreateIndex(ctx context.Context, opt milvusclient.CreateIndexOption, callOptions ...grpc.CallOption) (*milvusclient.CreateIndexTask, error)
	DescribeIndex(ctx context.Context, opt milvusclient.DescribeIndexOption, callOptions ...grpc.CallOption) (milvusclient.IndexDescription, error)
	LoadCollection(ctx context.Context, opt milvusclient.LoadCollectionOption, callOptions ...grpc.CallOption) (milvusclient.LoadTask, error)
	GetLoadState(ctx context.Context, opt milvusclient.GetLoadStateOption, callOptions ...grpc.CallOption) (entity.LoadState, error)
	Insert(ctx context.Context, opt milvusclient.InsertOption, callOptions ...grpc.CallOption) (milvusclient.InsertResult, error)
	Upsert(ctx context.Context, opt milvusclient.UpsertOption, callOptions ...grpc.CallOption) (milvusclient.UpsertResult, error)
	Delete(ctx context.Context, opt milvusclient.DeleteOption, callOptions ...grpc.CallOption) (milvusclient.DeleteResult, error)
	Query(ctx context.Context, opt milvusclient.QueryOption, callOptions ...grpc.CallOption) (milvusclient.ResultSet, error)
	Search(ctx context.Context, opt milvusclient.SearchOption, callOptions ...grpc.CallOption) ([]milvusclient.ResultSet, error)
	GetService() milvuspb.MilvusServiceClient
	Close(ctx context.Context) error
}

// Config says where the store lives and what it holds.
type Config struct {
	Address        string // host:port
	Token          string // "user:password" or an API key; empty: no auth
	Database       string // empty: the default database
	Collection     string // memories; history goes to Collection+"_history"
	ConnectTimeout time.Duration
	Dims           int    // the embedder's dimension
	Space          string // the embedder's name: vectors of two are not comparable
	Logger         *slog.Logger
}

// ErrUnavailable is returned while the store is not connected to Milvus.
var ErrUnavailable = errors.New("milvus store unavailable")

// maxWindow is the most rows one Milvus query or search returns
// (offset+limit of a query, topK of a search).
const maxWindow = 16384

// Store is the Milvus memory.Store.
type Store struct {
	cfg     Config
	log     *slog.Logger
	history string

	// locks serialise this sidecar's writes to one memory id, so that
	// the existence check of Add and Update and the writes that follow
	// are atomic against each other; writes to other ids go on in
	// parallel (see idLocks).
	//
	// Nothing locks an id across sidecars: Milvus has no conditional
	// insert. Ids the memory API makes are random UUIDs and never meet.
	// Ids the writer derives from a turn (Service.id) meet only when one
	// turn is written twice at once, which is rare: an outbox is locked
	// to one process, so it takes a write whose insert landed after its
	// caller gave up on it while the retry checked the id, or one
	// outbox drained by two sidecars. The id is then stored twice,
	// which costs little: queries and searches return one row per
	// primary key (Milvus 2.3 and Lite alike), Update and Delete remove
	// every row of the id, and only Count, which is native, counts both
	// until then.
	locks idLocks

	pages pageSizes // how listings read

	mu    sync.RWMutex
	cli   client // nil while disconnected
	state error  // nil when ready, else why not

	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// Open connects to Milvus within cfg.ConnectTimeout and makes sure the
// collections exist with the configured schema, their index built and
// loaded. A collection with another schema, dimension or embedder is an
// error wrapping ErrSchemaMismatch. If Milvus cannot be reached, Open
// still returns the store, unavailable, and keeps trying in the
// background; so does the store whenever Milvus goes away later.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Dims <= 0 {
		return nil, fmt.Errorf("milvus store: dimension must be positive, got %d", cfg.Dims)
	}
	if cfg.Collection == "" {
		return nil, errors.New("milvus store: collection name is empty")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		cfg: cfg, log: cfg.Logger, history: cfg.Collection + "_history", pages: defaultPages,
		state: fmt.Errorf("%w: connecting to %s", ErrUnavailable, cfg.Address),
		kick:  make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := s.connect(ctx); err != nil {
		if errors.Is(err, ErrSchemaMismatch) {
			return nil, fmt.Errorf("milvus store: %w", err)
		}
		s.log.Warn("milvus unavailable at start; memory fails open until it is back", "address", cfg.Address, "err", err)
	}
	go s.maintain()
	return s, nil
}

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
		s.setState(nil, fmt.Errorf("%w: connecting to %s: %w", ErrUnavailable, s.cfg.Address, err))
		return err
	}
	// Preparing may build an index over existing data: allow it more time.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*s.cfg.ConnectTimeout+time.Minute)
	defer pcancel()
	err = ensureCollection(pctx, c, memorySchema(s.cfg.Collection, s.cfg.Dims), index.NewHNSWIndex(entity.COSINE, 16, 200))
	if err == nil {
		err = ensureCollection(pctx, c, historySchema(s.history), index.NewFlatIndex(entity.COSINE))
	}
	if err == nil {
		err = s.checkEmbedder(pctx, c)
	}
	if err != nil {
		c.Close(context.WithoutCancel(ctx))
		s.setState(nil, fmt.Errorf("%w: %w", ErrUnavailable, err))
		return err
	}
	s.setState(c, nil)
	s.log.Info("milvus store ready", "address", s.cfg.Address, "collection", s.cfg.Collection)
	return nil
}

// embedderKey is the key of the row of the history collection that names
// the embedder of the memories' vectors: vectors of two embedders are not
// comparable. (A collection's description would do, but Milvus Lite does
// not keep it.) Other keys are 64 hex digits.
const embedderKey = "embedder"

type embedderRecord struct {
	Space string `json:"space"`
	Dims  int    `json:"dims"`
}

// checkEmbedder records the configured embedder in a new collection, and
// refuses an existing one written with another.
func (s *Store) checkEmbedder(ctx context.Context, c client) error {
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.history).WithFilter(fieldKey+" == "+quote(embedderKey)).
		WithOutputFields(fieldRecord).WithLimit(1).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return fmt.Errorf("reading the embedder of %s: %w", s.cfg.Collection, err)
	}
	want := embedderRecord{Space: s.cfg.Space, Dims: s.cfg.Dims}
	if rs.ResultCount > 0 {
		raw, err := jsonColumn(rs, fieldRecord)
		if err != nil {
			return err
		}
		var have embedderRecord
		if err := json.Unmarshal(raw[0], &have); err != nil {
			return fmt.Errorf("decoding the embedder of %s: %w", s.cfg.Collection, err)
		}
		if have != want {
			return fmt.Errorf("%w: collection %s holds vectors of embedder %q with %d dimensions, but the configured embedder is %q with %d; use another collection (MEMPROXY_MILVUS_COLLECTION) or the embedder it was written with",
				ErrSchemaMismatch, s.cfg.Collection, have.Space, have.Dims, want.Space, want.Dims)
		}
		return nil
	}
	js, err := json.Marshal(want)
	if err != nil {
		return err
	}
	_, err = c.Upsert(ctx, milvusclient.NewColumnBasedInsertOption(s.history,
		column.NewColumnVarChar(fieldKey, []string{embedderKey}),
		column.NewColumnVarChar(fieldMemoryID, []string{""}),
		column.NewColumnInt64(fieldCreatedAt, []int64{0}),
		column.NewColumnJSONBytes(fieldRecord, [][]byte{js}),
		column.NewColumnFloatVector(fieldVector, historyDims, [][]float32{{1, 0}})))
	if err != nil {
		return fmt.Errorf("recording the embedder of %s: %w", s.cfg.Collection, err)
	}
	return nil
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
	healthTimeout  = 1500 * time.Millisecond
	maxBackoff     = 2 * time.Second
	closeGrace     = 30 * time.Second
)

// maintain watches the connection until Close: while ready, it checks
// Milvus' health every healthInterval (or at once when a call failed to
// reach it); while not, it reconnects with a backoff.
func (s *Store) maintain() {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for {
		s.mu.RLock()
		c, ready := s.cli, s.state == nil
		s.mu.RUnlock()
		wait := healthInterval
		if !ready {
			wait = backoff
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
				backoff = 100 * time.Millisecond
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
			backoff = min(2*backoff, maxBackoff)
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
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
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

// Close stops reconnecting and closes the connection.
func (s *Store) Close() error {
	s.closed.Do(func() {
		close(s.stop)
		<-s.done
		s.setState(nil, errors.New("milvus store: closed"))
	})
	return nil
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

// level is the consistency of a read: Strong when the caller must see its
// own writes (the memory API), Bounded on the chat path.
func level(fresh bool) entity.ConsistencyLevel {
	if fresh {
		return entity.ClStrong
	}
	return entity.ClBounded
}

// Add inserts new memories; it fails, writing none, if any id exists.
func (s *Store) Add(ctx context.Context, ms ...memory.Memory) error {
	if len(ms) == 0 {
		return ctx.Err()
	}
	cols, err := s.columns(ms)
	if err != nil {
		return err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
		if slices.Contains(ids[:i], m.ID) {
			return fmt.Errorf("milvus store: memory %s: %w", m.ID, memory.ErrExists)
		}
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	unlock, err := s.locks.lock(ctx, ids...)
	if err != nil {
		return err
	}
	defer unlock()
	// Milvus keeps both rows of an insert of an existing id: check first.
	existing, err := s.existing(ctx, c, ids)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return fmt.Errorf("milvus store: memory %s: %w", existing[0], memory.ErrExists)
	}
	if _, err := c.Insert(ctx, milvusclient.NewColumnBasedInsertOption(s.cfg.Collection, cols...)); err != nil {
		return s.failed(ctx, fmt.Sprintf("adding %d memories", len(ms)), err)
	}
	return nil
}

// existing returns which of ids are stored, expired or not.
func (s *Store) existing(ctx context.Context, c client, ids []string) ([]string, error) {
	var found []string
	for chunk := range slices.Chunk(ids, 512) {
		expr, ok := idsIn(fieldID, chunk)
		if !ok {
			continue
		}
		rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.cfg.Collection).WithFilter(expr).
			WithOutputFields(fieldID).WithLimit(len(chunk)).WithConsistencyLevel(entity.ClStrong))
		if err != nil {
			return nil, s.failed(ctx, "checking for existing ids", err)
		}
		got, err := stringColumn(rs, fieldID)
		if err != nil {
			return nil, err
		}
		found = append(found, got...)
	}
	return found, nil
}

// idsIn returns `field in [...]` for the quotable ids; false if none is
// (an id that is not valid UTF-8 is never stored).
func idsIn(field string, ids []string) (string, bool) {
	lits := make([]string, 0, len(ids))
	for _, id := range ids {
		if quotable(id) {
			lits = append(lits, quote(id))
		}
	}
	if len(lits) == 0 {
		return "", false
	}
	return field + " in [" + strings.Join(lits, ", ") + "]", true
}

// How Update finishes once it has deleted the old row: each write is
// tried up to writeAttempts times, waiting retryBackoff, then twice as
// long, between tries, each try bounded by writeTimeout.
const (
	writeAttempts = 4
	writeTimeout  = 10 * time.Second
	retryBackoff  = 250 * time.Millisecond
)

// Update replaces the memory with m.ID.
//
// It deletes the old row and inserts the new one. Milvus has no in-place
// replacement that works here: 2.3's upsert into a collection with a
// partition key stores rows where filters on the key no longer find them;
// and the new row cannot go in first, under the same id, because a delete
// removes every row of its id. Writing the new version under an internal
// primary key of its own and deleting the old one after would close the
// gap, but the memory id is the primary key callers, history and filters
// know, and existing collections would need another schema. So a reader
// between the two calls may miss the memory, briefly; what must not happen
// is that it stays missing while the history says it was updated. Once the
// old row is deleted, Update therefore no longer depends on its caller:
// the delete and the insert run detached from the caller's cancellation,
// each retried (reconnecting if need be); an insert is retried only after
// checking that the one before did not land. If the new row still cannot
// be written, the old row is written back, and Update returns the error.
func (s *Store) Update(ctx context.Context, m memory.Memory) error {
	cols, err := s.columns([]memory.Memory{m})
	if err != nil {
		return err
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	unlock, err := s.locks.lock(ctx, m.ID)
	if err != nil {
		return err
	}
	defer unlock()
	old, found, err := s.stored(ctx, c, m.ID)
	if err != nil {
		return err
	}
	if !found {
		return memory.ErrNotFound
	}
	oldCols, err := s.columns([]memory.Memory{old})
	if err != nil {
		return fmt.Errorf("milvus store: updating memory %s: the stored row cannot be written back: %w", m.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return err // nothing written yet
	}
	detached := context.WithoutCancel(ctx)
	expr, _ := idsIn(fieldID, []string{m.ID})
	err = s.retry(detached, "updating memory "+m.ID, func(ctx context.Context, c client) error {
		_, err := c.Delete(ctx, milvusclient.NewDeleteOption(s.cfg.Collection).WithExpr(expr))
		return err
	})
	if err == nil {
		if err = s.insertOnce(detached, m.ID, cols); err == nil {
			return nil
		}
	}
	// The old row may be gone: write it back.
	if rerr := s.insertOnce(detached, m.ID, oldCols); rerr != nil {
		s.log.Error("milvus store: an update failed and the memory could not be written back; it is lost",
			"id", m.ID, "update_err", err, "err", rerr)
		return fmt.Errorf("%w; writing the old memory back failed too, it is lost: %w", err, rerr)
	}
	s.log.Warn("milvus store: an update failed; the memory was kept as it was", "id", m.ID, "err", err)
	return err
}

// insertOnce inserts the row of one memory, retrying, unless a row with
// its id is there already: a try that failed may still have written it.
func (s *Store) insertOnce(ctx context.Context, id string, cols []column.Column) error {
	first := true
	return s.retry(ctx, "updating memory "+id, func(ctx context.Context, c client) error {
		if !first {
			there, err := s.existing(ctx, c, []string{id})
			if err != nil {
				return err
			}
			if len(there) > 0 {
				return nil
			}
		}
		first = false
		_, err := c.Insert(ctx, milvusclient.NewColumnBasedInsertOption(s.cfg.Collection, cols...))
		return err
	})
}

// retry calls write up to writeAttempts times, until it succeeds, each
// time with the client then connected and within writeTimeout.
func (s *Store) retry(ctx context.Context, what string, write func(context.Context, client) error) error {
	backoff := retryBackoff
	var err error
	for attempt := range writeAttempts {
		if attempt > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return fmt.Errorf("milvus store: %s: %w (after %w)", what, ctx.Err(), err)
			}
			backoff *= 2
		}
		var c client
		if c, err = s.client(); err != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, writeTimeout)
		err = write(actx, c)
		cancel()
		if err == nil {
			return nil
		}
		err = s.failed(ctx, what, err)
	}
	return err
}

// stored returns the row of id, vector included, expired or not.
func (s *Store) stored(ctx context.Context, c client, id string) (memory.Memory, bool, error) {
	expr, ok := idsIn(fieldID, []string{id})
	if !ok {
		return memory.Memory{}, false, nil
	}
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.cfg.Collection).WithFilter(expr).
		WithOutputFields(append(outputFields(), fieldVector)...).WithLimit(1).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return memory.Memory{}, false, s.failed(ctx, "reading memory "+id, err)
	}
	ms, err := s.memories(rs)
	if err != nil || len(ms) == 0 {
		return memory.Memory{}, false, err
	}
	return ms[0], true, nil
}

// Delete removes memories by id.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	unlock, err := s.locks.lock(ctx, ids...)
	if err != nil {
		return err
	}
	defer unlock()
	for chunk := range slices.Chunk(ids, 512) {
		expr, ok := idsIn(fieldID, chunk)
		if !ok {
			continue
		}
		if _, err := c.Delete(ctx, milvusclient.NewDeleteOption(s.cfg.Collection).WithExpr(expr)); err != nil {
			return s.failed(ctx, fmt.Sprintf("deleting %d memories", len(ids)), err)
		}
	}
	return nil
}

// Get returns the memory with id.
func (s *Store) Get(ctx context.Context, id string) (memory.Memory, error) {
	c, err := s.client()
	if err != nil {
		return memory.Memory{}, err
	}
	if !quotable(id) {
		return memory.Memory{}, memory.ErrNotFound
	}
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.cfg.Collection).
		WithFilter(fieldID+" == "+quote(id)+" and "+notExpired(time.Now())).
		WithOutputFields(append(outputFields(), fieldVector)...).WithLimit(1).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return memory.Memory{}, s.failed(ctx, "getting memory "+id, err)
	}
	ms, err := s.memories(rs)
	if err != nil {
		return memory.Memory{}, err
	}
	if len(ms) == 0 {
		return memory.Memory{}, memory.ErrNotFound
	}
	return ms[0], nil
}

func notExpired(now time.Time) string {
	return fieldExpiresAt + " > " + strconv.FormatInt(now.UnixNano(), 10)
}

// query returns the plan of f restricted to unexpired memories, and false
// if it can match nothing.
func query(f memory.Filter, now time.Time) (string, plan, bool) {
	p := compile(f)
	b := and(p.upper, native(notExpired(now)))
	return b.expr, p, !b.isFalse()
}

// exprBound is the bound of an expression query or queryStored returned:
// "" selects every row.
func exprBound(expr string) bound {
	if expr == "" {
		return alwaysTrue
	}
	return native(expr)
}

// queryStored is query for every stored memory, expired ones included;
// its expression is "" when it selects every row.
func queryStored(f memory.Filter) (string, plan, bool) {
	p := compile(f)
	return p.upper.expr, p, !p.upper.isFalse()
}

// Search returns the TopK memories most similar to req.Vector among those
// matching req.Filter. Milvus ranks by cosine; when the filter is not
// exact, candidates are checked with Filter.Match, asking Milvus for more
// until TopK pass or none are left.
func (s *Store) Search(ctx context.Context, req memory.SearchRequest) ([]memory.Hit, error) {
	if len(req.Vector) != s.cfg.Dims {
		return nil, fmt.Errorf("milvus store: query vector has %d dimensions, want %d", len(req.Vector), s.cfg.Dims)
	}
	if err := req.Filter.Validate(); err != nil {
		return nil, fmt.Errorf("milvus store: filter: %w", err)
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if req.TopK <= 0 {
		return nil, nil
	}
	expr, p, possible := query(req.Filter, time.Now())
	if !possible {
		return nil, nil
	}
	k := min(req.TopK, maxWindow)
	if !p.exact {
		k = min(max(4*req.TopK, 64), maxWindow)
	}
	for {
		rss, err := c.Search(ctx, milvusclient.NewSearchOption(s.cfg.Collection, k, []entity.Vector{entity.FloatVector(req.Vector)}).
			WithANNSField(fieldVector).WithFilter(expr).WithOutputFields(outputFields()...).
			WithAnnParam(index.NewHNSWAnnParam(max(k, 64))).WithConsistencyLevel(level(req.Fresh)))
		if err != nil {
			return nil, s.failed(ctx, "searching", err)
		}
		if len(rss) != 1 {
			return nil, fmt.Errorf("milvus store: search returned %d result sets for one query", len(rss))
		}
		ms, err := s.memories(rss[0])
		if err != nil {
			return nil, err
		}
		hits := make([]memory.Hit, 0, min(len(ms), req.TopK))
		for i := range ms {
			// Milvus' COSINE score is the cosine similarity, in [-1,1];
			// clamped, it is the embedded store's score.
			score := memory.Score(float64(rss[0].Scores[i]))
			if score < req.MinScore || (!p.exact && !req.Filter.Match(&ms[i])) {
				continue
			}
			hits = append(hits, memory.Hit{Memory: ms[i], Score: score})
		}
		exhausted := len(ms) < k || (len(ms) > 0 && memory.Score(float64(rss[0].Scores[len(ms)-1])) < req.MinScore)
		if p.exact || len(hits) >= req.TopK || exhausted {
			sortHits(hits)
			return hits[:min(len(hits), req.TopK)], nil
		}
		if k == maxWindow {
			return nil, fmt.Errorf("milvus store: searching: more than %d memories pass the native part of the filter; narrow it (substring and case-insensitive tests are evaluated after Milvus)", maxWindow)
		}
		k = min(4*k, maxWindow)
	}
}

// sortHits orders hits as the embedded store does: higher score, then
// more recently updated, then id.
func sortHits(hits []memory.Hit) {
	slices.SortStableFunc(hits, func(a, b memory.Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// AddHistory records changes, replacing records with the same id.
func (s *Store) AddHistory(ctx context.Context, rs ...memory.HistoryRecord) error {
	if len(rs) == 0 {
		return ctx.Err()
	}
	keys := make([]string, len(rs))
	memIDs := make([]string, len(rs))
	created := make([]int64, len(rs))
	records := make([][]byte, len(rs))
	vectors := make([][]float32, len(rs))
	seen := map[string]int{}
	for i, r := range rs {
		if r.ID == "" || r.MemoryID == "" {
			return errors.New("milvus store: a history record needs an id and a memory id")
		}
		if len(r.MemoryID) > maxIDBytes || !quotable(r.MemoryID) {
			return fmt.Errorf("milvus store: history record %s: memory id is not UTF-8 of at most %d bytes", r.ID, maxIDBytes)
		}
		js, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("milvus store: encoding history record %s: %w", r.ID, err)
		}
		sum := sha256.Sum256([]byte(r.MemoryID + "\x00" + r.ID))
		keys[i], memIDs[i], records[i] = hex.EncodeToString(sum[:]), r.MemoryID, js
		created[i] = r.CreatedAt.UnixNano()
		vectors[i] = []float32{1, 0}
		if j, dup := seen[keys[i]]; dup {
			return fmt.Errorf("milvus store: history record %s of memory %s appears twice (at %d and %d)", r.ID, r.MemoryID, j, i)
		}
		seen[keys[i]] = i
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	// The history collection has no partition key: upsert is sound there.
	_, err = c.Upsert(ctx, milvusclient.NewColumnBasedInsertOption(s.history,
		column.NewColumnVarChar(fieldKey, keys),
		column.NewColumnVarChar(fieldMemoryID, memIDs),
		column.NewColumnInt64(fieldCreatedAt, created),
		column.NewColumnJSONBytes(fieldRecord, records),
		column.NewColumnFloatVector(fieldVector, historyDims, vectors)))
	if err != nil {
		return s.failed(ctx, "recording history", err)
	}
	return nil
}

// History returns a memory's records, oldest first.
func (s *Store) History(ctx context.Context, memoryID string) ([]memory.HistoryRecord, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if memoryID == "" || !quotable(memoryID) {
		return nil, nil // "" is the memory id of the embedder row
	}
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.history).WithFilter(fieldMemoryID+" == "+quote(memoryID)).
		WithOutputFields(fieldRecord).WithLimit(maxWindow).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return nil, s.failed(ctx, "reading history", err)
	}
	raw, err := jsonColumn(rs, fieldRecord)
	if err != nil {
		return nil, err
	}
	out := make([]memory.HistoryRecord, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("milvus store: decoding a history record of %s: %w", memoryID, err)
		}
	}
	memory.SortHistory(out)
	return out, nil
}

// DeleteHistory removes every record of the given memories.
func (s *Store) DeleteHistory(ctx context.Context, memoryIDs ...string) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	memoryIDs = slices.DeleteFunc(slices.Clone(memoryIDs), func(id string) bool { return id == "" })
	for chunk := range slices.Chunk(memoryIDs, 512) {
		expr, ok := idsIn(fieldMemoryID, chunk)
		if !ok {
			continue
		}
		if _, err := c.Delete(ctx, milvusclient.NewDeleteOption(s.history).WithExpr(expr)); err != nil {
			return s.failed(ctx, "deleting history", err)
		}
	}
	return nil
}

// outputFields are the fields read back for a memory, its vector aside.
func outputFields() []string {
	return []string{fieldID, fieldText, fieldHash, fieldUserID, fieldAgentID, fieldRunID, fieldAppID,
		fieldCreatedAt, fieldUpdatedAt, fieldExpiresAt, fieldMetadata, fieldCategories}
}

// columns lays out memories as the collection's columns, refusing what
// the schema cannot hold.
func (s *Store) columns(ms []memory.Memory) ([]column.Column, error) {
	n := len(ms)
	var (
		ids, texts, hashes, users, agents, runs, apps = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, updated, expires = make([]int64, n), make([]int64, n), make([]int64, n)
		catCounts                 = make([]int64, n)
		metas                     = make([][]byte, n)
		cats                      = make([][]string, n)
		vectors                   = make([][]float32, n)
	)
	for i := range ms {
		m := &ms[i]
		if err := s.check(m); err != nil {
			return nil, err
		}
		ids[i], texts[i], hashes[i] = m.ID, m.Text, m.Hash
		users[i], agents[i], runs[i], apps[i] = m.UserID, m.AgentID, m.RunID, m.AppID
		created[i], updated[i] = storedTime(m.CreatedAt, unsetTime), storedTime(m.UpdatedAt, unsetTime)
		expires[i] = storedTime(m.ExpiresAt, neverTime)
		meta := m.Metadata
		if meta == nil {
			meta = map[string]any{}
		}
		js, err := json.Marshal(meta)
		if err != nil {
			return nil, fmt.Errorf("milvus store: memory %s: encoding metadata: %w", m.ID, err)
		}
		metas[i] = js
		cats[i], catCounts[i] = m.Categories, int64(len(m.Categories))
		if cats[i] == nil {
			cats[i] = []string{}
		}
		vectors[i] = m.Vector
	}
	return []column.Column{
		column.NewColumnVarChar(fieldID, ids),
		column.NewColumnFloatVector(fieldVector, s.cfg.Dims, vectors),
		column.NewColumnVarChar(fieldText, texts),
		column.NewColumnVarChar(fieldHash, hashes),
		column.NewColumnVarChar(fieldUserID, users),
		column.NewColumnVarChar(fieldAgentID, agents),
		column.NewColumnVarChar(fieldRunID, runs),
		column.NewColumnVarChar(fieldAppID, apps),
		column.NewColumnInt64(fieldCreatedAt, created),
		column.NewColumnInt64(fieldUpdatedAt, updated),
		column.NewColumnInt64(fieldExpiresAt, expires),
		column.NewColumnJSONBytes(fieldMetadata, metas),
		column.NewColumnVarCharArray(fieldCategories, cats),
		column.NewColumnInt64(fieldCategoryCount, catCounts),
	}, nil
}

func storedTime(t time.Time, unset int64) int64 {
	if t.IsZero() {
		return unset
	}
	return t.UnixNano()
}

func (s *Store) check(m *memory.Memory) error {
	if m.ID == "" {
		return errors.New("milvus store: memory has no id")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("milvus store: memory %s: %s", m.ID, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"id", m.ID, maxIDBytes}, {"text", m.Text, maxTextBytes}, {"hash", m.Hash, maxHashBytes},
		{"user_id", m.UserID, maxScopeBytes}, {"agent_id", m.AgentID, maxScopeBytes},
		{"run_id", m.RunID, maxScopeBytes}, {"app_id", m.AppID, maxScopeBytes},
	} {
		if len(f.value) > f.max {
			return fail("%s is %d bytes, the Milvus store keeps at most %d", f.name, len(f.value), f.max)
		}
		if !quotable(f.value) {
			return fail("%s is not valid UTF-8 text (or holds NUL)", f.name)
		}
	}
	if len(m.Categories) > maxCategories {
		return fail("%d categories, the Milvus store keeps at most %d", len(m.Categories), maxCategories)
	}
	for _, c := range m.Categories {
		if len(c) > maxCategoryBytes || !quotable(c) {
			return fail("category %q is not UTF-8 text of at most %d bytes", c, maxCategoryBytes)
		}
	}
	for name, t := range map[string]time.Time{"created_at": m.CreatedAt, "updated_at": m.UpdatedAt, "expires_at": m.ExpiresAt} {
		if !t.IsZero() && !representable(t) {
			return fail("%s %v is outside the years 1678 to 2262 the Milvus store can keep", name, t)
		}
	}
	if len(m.Vector) != s.cfg.Dims {
		return fail("vector of %d dimensions, want %d", len(m.Vector), s.cfg.Dims)
	}
	for _, x := range m.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fail("non-finite vector component")
		}
	}
	return nil
}

// memories decodes the rows of a result set.
func (s *Store) memories(rs milvusclient.ResultSet) ([]memory.Memory, error) {
	n := rs.ResultCount
	if n == 0 {
		return nil, nil
	}
	str := func(name string) ([]string, error) { return stringColumn(rs, name) }
	ids, err := str(fieldID)
	if err != nil {
		return nil, err
	}
	var cols [6][]string
	for i, name := range []string{fieldText, fieldHash, fieldUserID, fieldAgentID, fieldRunID, fieldAppID} {
		if cols[i], err = str(name); err != nil {
			return nil, err
		}
	}
	var times [3][]int64
	for i, name := range []string{fieldCreatedAt, fieldUpdatedAt, fieldExpiresAt} {
		if times[i], err = int64Column(rs, name); err != nil {
			return nil, err
		}
	}
	metas, err := jsonColumn(rs, fieldMetadata)
	if err != nil {
		return nil, err
	}
	catCol, ok := rs.GetColumn(fieldCategories).(*column.ColumnVarCharArray)
	if !ok {
		return nil, errors.New("milvus store: the answer lacks the categories")
	}
	var vectors []entity.FloatVector
	if v := rs.GetColumn(fieldVector); v != nil {
		fv, ok := v.(*column.ColumnFloatVector)
		if !ok {
			return nil, fmt.Errorf("milvus store: vector column is %T", v)
		}
		vectors = fv.Data()
	}
	out := make([]memory.Memory, n)
	for i := range n {
		m := memory.Memory{
			ID: ids[i], Text: cols[0][i], Hash: cols[1][i],
			UserID: cols[2][i], AgentID: cols[3][i], RunID: cols[4][i], AppID: cols[5][i],
			CreatedAt: loadedTime(times[0][i], unsetTime), UpdatedAt: loadedTime(times[1][i], unsetTime),
			ExpiresAt: loadedTime(times[2][i], neverTime),
		}
		if err := json.Unmarshal(metas[i], &m.Metadata); err != nil {
			return nil, fmt.Errorf("milvus store: memory %s: decoding metadata: %w", m.ID, err)
		}
		if len(m.Metadata) == 0 {
			m.Metadata = nil
		}
		cats, err := catCol.Value(i)
		if err != nil {
			return nil, fmt.Errorf("milvus store: memory %s: categories: %w", m.ID, err)
		}
		if len(cats) > 0 {
			m.Categories = cats
		}
		if vectors != nil {
			m.Vector = []float32(vectors[i])
		}
		out[i] = m
	}
	return out, nil
}

func loadedTime(n, unset int64) time.Time {
	if n == unset {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func stringColumn(rs milvusclient.ResultSet, name string) ([]string, error) {
	c, ok := rs.GetColumn(name).(*column.ColumnVarChar)
	if !ok || c.Len() != rs.ResultCount {
		return nil, fmt.Errorf("milvus store: the answer lacks %s", name)
	}
	return c.Data(), nil
}

func int64Column(rs milvusclient.ResultSet, name string) ([]int64, error) {
	c, ok := rs.GetColumn(name).(*column.ColumnInt64)
	if !ok || c.Len() != rs.ResultCount {
		return nil, fmt.Errorf("milvus store: the answer lacks %s", name)
	}
	return c.Data(), nil
}

func jsonColumn(rs milvusclient.ResultSet, name string) ([][]byte, error) {
	c, ok := rs.GetColumn(name).(*column.ColumnJSONBytes)
	if !ok || c.Len() != rs.ResultCount {
		return nil, fmt.Errorf("milvus store: the answer lacks %s", name)
	}
	return c.Data(), nil
}
