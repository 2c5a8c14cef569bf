// Package embedded is memproxy's default Store: no server, durable on local
// disk, exact cosine search within a scope.
//
// Memories are written to a bbolt file (a crash-safe B+tree: a write that
// returned survives kill -9 and power loss) and mirrored in memory, indexed
// by user and by agent, so that a search within a scope scans only that
// scope's memories, and by term within each user for BM25. Searches never
// wait on the disk.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/lexical"
)

var (
	bucketMemories = []byte("memories")
	bucketHistory  = []byte("history") // key: memory id, NUL, record id
	bucketMeta     = []byte("meta")
)

// Store is the embedded memory.Store.
type Store struct {
	db     *bolt.DB
	dims   int
	space  string
	closed atomic.Bool

	// writeMu serialises writers, so that a check and the write that
	// depends on it are atomic, without holding mu (and blocking searches)
	// while bbolt syncs the file.
	writeMu sync.Mutex

	mu      sync.RWMutex
	byID    map[string]*memory.Memory
	byUser  map[string]map[string]*memory.Memory
	byAgent map[string]map[string]*memory.Memory
	// lexical holds each user's terms for BM25, built at Open from the
	// memories (it is not persisted) and kept up to date by every write.
	// Personas are the memories of user "".
	lexical map[string]*lexical.Index
}

// Open opens (creating if needed) the store in dir for vectors of dims
// dimensions from the embedding space named space (see memory.Embedder).
// It refuses a directory written with another embedder: vectors from two
// embedders are not comparable.
func Open(dir string, dims int, space string) (*Store, error) {
	if dims <= 0 {
		return nil, fmt.Errorf("embedded store: dimension must be positive, got %d", dims)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: creating data directory: %w", err)
	}
	path := filepath.Join(dir, "memories.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("embedded store: %s is locked by another process (is another memproxy running on this data directory?)", path)
		}
		return nil, fmt.Errorf("embedded store: opening %s: %w", path, err)
	}
	s := &Store{
		db: db, dims: dims, space: space,
		byID:    make(map[string]*memory.Memory),
		byUser:  make(map[string]map[string]*memory.Memory),
		byAgent: make(map[string]map[string]*memory.Memory),
		lexical: make(map[string]*lexical.Index),
	}
	if err := s.load(path); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) load(path string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("embedded store: %w", err)
		}
		if d := meta.Get([]byte("dims")); d != nil {
			have, _ := strconv.Atoi(string(d))
			space := string(meta.Get([]byte("space")))
			if have != s.dims || space != s.space {
				return fmt.Errorf("embedded store: %s holds vectors of embedder %q with %d dimensions, but the configured embedder is %q with %d; use another data directory or the embedder it was written with (MEMPROXY_EMBEDDER: hash-v1 is hash, the default before static)",
					path, space, have, s.space, s.dims)
			}
		} else {
			if err := meta.Put([]byte("dims"), []byte(strconv.Itoa(s.dims))); err != nil {
				return err
			}
			if err := meta.Put([]byte("space"), []byte(s.space)); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucketIfNotExists(bucketHistory); err != nil {
			return fmt.Errorf("embedded store: %w", err)
		}
		b, err := tx.CreateBucketIfNotExists(bucketMemories)
		if err != nil {
			return fmt.Errorf("embedded store: %w", err)
		}
		return b.ForEach(func(k, v []byte) error {
			m, err := decode(v)
			if err != nil {
				return fmt.Errorf("embedded store: decoding memory %q: %w", k, err)
			}
			s.index(m)
			return nil
		})
	})
}

// Close closes the database file.
func (s *Store) Close() error {
	s.closed.Store(true)
	return s.db.Close()
}

// Ready reports whether the store can serve: always, until it is closed.
func (s *Store) Ready(context.Context) error {
	if s.closed.Load() {
		return errors.New("embedded store: closed")
	}
	return nil
}
