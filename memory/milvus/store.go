// Package milvus is the memory.Store on a Milvus server: the production
// store, shared by many sidecars, and the way past one machine.
//
// It owns one collection of memories (created if missing, checked if
// present, schema.go; with a BM25 field where the server has full-text
// search, fulltext.go), a second one for history (history.go), the
// compilation of memory.Filter into Milvus boolean expressions (expr.go),
// searches and reads (search.go; hybrid ones in hybrid.go), listings read in pages of primary keys
// (list.go), writes (write.go), the conversion of memories to and from
// columns (rows.go), and the connection (conn.go): bounded at start,
// watched afterwards, and re-established by itself. While Milvus is
// unreachable every call fails at once with ErrUnavailable, so that chat
// fails open without waiting, and Ready says why.
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
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc"
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
	HybridSearch(ctx context.Context, opt milvusclient.HybridSearchOption, callOptions ...grpc.CallOption) ([]milvusclient.ResultSet, error)
	GetServerVersion(ctx context.Context, opt milvusclient.GetServerVersionOption, callOptions ...grpc.CallOption) (string, error)
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
	// HealthTimeout bounds each health check; two failed checks in a row
	// make the store unavailable until it reconnects. Zero: 1.5 s, which
	// tells a dead server quickly; a server that shares starved cores
	// with other work may need more.
	HealthTimeout time.Duration
	Dims          int    // the embedder's dimension
	Space         string // the embedder's name: vectors of two are not comparable
	Logger        *slog.Logger
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
	// Nothing locks an id across sidecars: Milvus has no transactions and
	// no conditional insert. Sidecars meet on an id when they add the same
	// fact to the same scope at once, since memory ids are functions of
	// scope and content (memory.ContentID); both then passed the check of
	// existing ids. Where the server's upsert is sound (upsertAdds), Add
	// upserts: the two writes of the same row leave one row, whichever
	// lands last, on one server or a cluster alike (rows of one primary
	// key go to one shard, in timestamp order). Where it is not (Milvus
	// before 2.3.11 routes an upsert by the wrong partition key), Add
	// inserts, and the id is then stored twice, which costs little:
	// queries and searches return one row per primary key (Milvus 2.3 and
	// Lite alike), Update and Delete remove every row of the id, and only
	// Count, which is native, counts both until then.
	locks idLocks

	pages pageSizes // how listings read

	// upsertAdds says whether Add upserts (see locks); set at connect
	// from the server's version.
	upsertAdds atomic.Bool

	mu    sync.RWMutex
	cli   client // nil while disconnected
	state error  // nil when ready, else why not
	// denseOnly says why searches with text rank by vector only, or is
	// nil when they are hybrid (fulltext.go); connected is whether that is
	// known yet; rangeInHybrid whether the server applies a radius in a
	// hybrid search.
	denseOnly     error
	rangeInHybrid bool
	connected     bool

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

// Close stops reconnecting and closes the connection.
func (s *Store) Close() error {
	s.closed.Do(func() {
		close(s.stop)
		<-s.done
		s.setState(nil, errors.New("milvus store: closed"))
	})
	return nil
}
