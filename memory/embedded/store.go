// Package embedded is memproxy's default Store: no server, durable on local
// disk, exact cosine search within a scope.
//
// Memories are written to a bbolt file (a crash-safe B+tree: a write that
// returned survives kill -9 and power loss) and mirrored in memory, indexed
// by user and by agent, so that a search within a scope scans only that
// scope's memories. Searches never wait on the disk.
package embedded

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/memproxy/memproxy/memory"
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
				return fmt.Errorf("embedded store: %s holds vectors of embedder %q with %d dimensions, but the configured embedder is %q with %d; use another data directory or the embedder it was written with",
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

// Add inserts new memories; it fails, writing none, if any id exists.
func (s *Store) Add(ctx context.Context, ms ...memory.Memory) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	seen := make(map[string]bool, len(ms))
	recs := make([][]byte, len(ms))
	for i := range ms {
		m := &ms[i]
		if err := s.check(m); err != nil {
			return err
		}
		s.mu.RLock()
		_, exists := s.byID[m.ID]
		s.mu.RUnlock()
		if exists || seen[m.ID] {
			return fmt.Errorf("embedded store: memory %s: %w", m.ID, memory.ErrExists)
		}
		seen[m.ID] = true
		rec, err := encode(m)
		if err != nil {
			return err
		}
		recs[i] = rec
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMemories)
		for i := range ms {
			if err := b.Put([]byte(ms[i].ID), recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("embedded store: adding %d memories: %w", len(ms), err)
	}
	s.mu.Lock()
	for i := range ms {
		s.index(clone(&ms[i], true))
	}
	s.mu.Unlock()
	return nil
}

// Update replaces the memory with m.ID.
func (s *Store) Update(ctx context.Context, m memory.Memory) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.check(&m); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	_, exists := s.byID[m.ID]
	s.mu.RUnlock()
	if !exists {
		return memory.ErrNotFound
	}
	rec, err := encode(&m)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMemories).Put([]byte(m.ID), rec)
	}); err != nil {
		return fmt.Errorf("embedded store: updating memory %s: %w", m.ID, err)
	}
	s.mu.Lock()
	s.unindex(m.ID)
	s.index(clone(&m, true))
	s.mu.Unlock()
	return nil
}

// Delete removes memories by id.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMemories)
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("embedded store: deleting %d memories: %w", len(ids), err)
	}
	s.mu.Lock()
	for _, id := range ids {
		s.unindex(id)
	}
	s.mu.Unlock()
	return nil
}

// Get returns the memory with id.
func (s *Store) Get(ctx context.Context, id string) (memory.Memory, error) {
	if err := ctx.Err(); err != nil {
		return memory.Memory{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.byID[id]
	if !ok || m.Expired(time.Now()) {
		return memory.Memory{}, memory.ErrNotFound
	}
	return *clone(m, true), nil
}

// Search scans the memories the filter can reach and keeps the TopK most
// similar. The scan is exact: no approximation, no missed neighbour.
func (s *Store) Search(ctx context.Context, req memory.SearchRequest) ([]memory.Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(req.Vector) != s.dims {
		return nil, fmt.Errorf("embedded store: query vector has %d dimensions, want %d", len(req.Vector), s.dims)
	}
	if req.TopK <= 0 {
		return nil, nil
	}
	now := time.Now()
	h := &hitHeap{}
	s.mu.RLock()
	s.scan(req.Filter, func(m *memory.Memory) {
		if m.Expired(now) || !req.Filter.Match(m) {
			return
		}
		score := memory.Score(memory.Cosine(req.Vector, m.Vector))
		if score < req.MinScore {
			return
		}
		if h.Len() < req.TopK {
			heap.Push(h, scored{m, score})
		} else if better(scored{m, score}, (*h)[0]) {
			(*h)[0] = scored{m, score}
			heap.Fix(h, 0)
		}
	})
	hits := make([]memory.Hit, h.Len())
	for i := len(hits) - 1; i >= 0; i-- {
		sc := heap.Pop(h).(scored)
		hits[i] = memory.Hit{Memory: *clone(sc.m, false), Score: sc.score}
	}
	s.mu.RUnlock()
	return hits, nil
}

// List returns matching memories newest first.
func (s *Store) List(ctx context.Context, f memory.Filter, page memory.Page) ([]memory.Memory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	var found []*memory.Memory
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.scan(f, func(m *memory.Memory) {
		if !m.Expired(now) && f.Match(m) {
			found = append(found, m)
		}
	})
	slices.SortFunc(found, func(a, b *memory.Memory) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	start := min(max(page.Offset, 0), len(found))
	end := len(found)
	if page.Limit > 0 {
		end = min(start+page.Limit, end)
	}
	out := make([]memory.Memory, 0, end-start)
	for _, m := range found[start:end] {
		out = append(out, *clone(m, false))
	}
	return out, nil
}

// Scan returns matching memories in id order, after the id after, expired
// ones included.
func (s *Store) Scan(ctx context.Context, f memory.Filter, after string, limit int) ([]memory.Memory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, fmt.Errorf("embedded store: scan limit %d, want at least 1", limit)
	}
	var found []*memory.Memory
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.scan(f, func(m *memory.Memory) {
		if m.ID > after && f.Match(m) {
			found = append(found, m)
		}
	})
	slices.SortFunc(found, func(a, b *memory.Memory) int { return cmp.Compare(a.ID, b.ID) })
	out := make([]memory.Memory, 0, min(limit, len(found)))
	for _, m := range found[:min(limit, len(found))] {
		out = append(out, *clone(m, false))
	}
	return out, nil
}

// Count returns how many memories match f.
func (s *Store) Count(ctx context.Context, f memory.Filter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := time.Now()
	n := 0
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.scan(f, func(m *memory.Memory) {
		if !m.Expired(now) && f.Match(m) {
			n++
		}
	})
	return n, nil
}

// AddHistory records changes, replacing records with the same id.
func (s *Store) AddHistory(ctx context.Context, rs ...memory.HistoryRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.ID == "" || r.MemoryID == "" {
			return errors.New("embedded store: a history record needs an id and a memory id")
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistory)
		for _, r := range rs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put(historyKey(r.MemoryID, r.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("embedded store: recording history: %w", err)
	}
	return nil
}

// History returns a memory's records, oldest first.
func (s *Store) History(ctx context.Context, memoryID string) ([]memory.HistoryRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []memory.HistoryRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHistory).Cursor()
		prefix := historyKey(memoryID, "")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r memory.HistoryRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decoding history record %q: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: reading history: %w", err)
	}
	memory.SortHistory(out)
	return out, nil
}

// DeleteHistory removes every record of the given memories.
func (s *Store) DeleteHistory(ctx context.Context, memoryIDs ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistory)
		for _, id := range memoryIDs {
			prefix := historyKey(id, "")
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("embedded store: deleting history: %w", err)
	}
	return nil
}

func historyKey(memoryID, recordID string) []byte {
	return []byte(memoryID + "\x00" + recordID)
}

func (s *Store) check(m *memory.Memory) error {
	if m.ID == "" {
		return errors.New("embedded store: memory has no id")
	}
	if len(m.Vector) != s.dims {
		return fmt.Errorf("embedded store: memory %s has a vector of %d dimensions, want %d", m.ID, len(m.Vector), s.dims)
	}
	for _, x := range m.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("embedded store: memory %s has a non-finite vector component", m.ID)
		}
	}
	return nil
}

// index adds m to the maps; the caller holds mu (or is loading).
func (s *Store) index(m *memory.Memory) {
	s.byID[m.ID] = m
	addTo(s.byUser, m.UserID, m)
	addTo(s.byAgent, m.AgentID, m)
}

func (s *Store) unindex(id string) {
	m, ok := s.byID[id]
	if !ok {
		return
	}
	delete(s.byID, id)
	removeFrom(s.byUser, m.UserID, id)
	removeFrom(s.byAgent, m.AgentID, id)
}

func addTo(idx map[string]map[string]*memory.Memory, key string, m *memory.Memory) {
	set := idx[key]
	if set == nil {
		set = make(map[string]*memory.Memory)
		idx[key] = set
	}
	set[m.ID] = m
}

func removeFrom(idx map[string]map[string]*memory.Memory, key, id string) {
	if set := idx[key]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(idx, key)
		}
	}
}

// scan calls fn for every memory that f might match, using the user and
// agent indexes where f pins those fields, and every memory otherwise.
// fn must still apply f itself. The caller holds mu.
func (s *Store) scan(f memory.Filter, fn func(*memory.Memory)) {
	sets, ok := s.plan(f)
	if !ok {
		for _, m := range s.byID {
			fn(m)
		}
		return
	}
	if len(sets) == 1 {
		for _, m := range sets[0] {
			fn(m)
		}
		return
	}
	seen := make(map[string]bool)
	for _, set := range sets {
		for id, m := range set {
			if !seen[id] {
				seen[id] = true
				fn(m)
			}
		}
	}
}

// plan returns index sets whose union holds every memory f can match, or
// false when f pins no indexed field and the whole store must be scanned.
func (s *Store) plan(f memory.Filter) ([]map[string]*memory.Memory, bool) {
	switch f.Op {
	case memory.OpEq:
		v, isString := f.Value.(string)
		if f.Meta || !isString {
			return nil, false
		}
		switch f.Field {
		case memory.FieldUserID:
			return []map[string]*memory.Memory{s.byUser[v]}, true
		case memory.FieldAgentID:
			return []map[string]*memory.Memory{s.byAgent[v]}, true
		case memory.FieldID:
			if m, ok := s.byID[v]; ok {
				return []map[string]*memory.Memory{{v: m}}, true
			}
			return nil, true
		}
	case memory.OpIn:
		if f.Meta || (f.Field != memory.FieldUserID && f.Field != memory.FieldAgentID) {
			return nil, false
		}
		var sets []map[string]*memory.Memory
		idx := s.byUser
		if f.Field == memory.FieldAgentID {
			idx = s.byAgent
		}
		for _, v := range f.Value.([]any) {
			if str, ok := v.(string); ok {
				sets = append(sets, idx[str])
			}
		}
		return sets, true
	case memory.OpAnd:
		// Any pinned argument bounds the whole conjunction: take the smallest.
		var best []map[string]*memory.Memory
		found := false
		for _, a := range f.Args {
			if sets, ok := s.plan(a); ok && (!found || size(sets) < size(best)) {
				best, found = sets, true
			}
		}
		return best, found
	case memory.OpOr:
		var all []map[string]*memory.Memory
		for _, a := range f.Args {
			sets, ok := s.plan(a)
			if !ok {
				return nil, false
			}
			all = append(all, sets...)
		}
		return all, true
	}
	return nil, false
}

func size(sets []map[string]*memory.Memory) int {
	n := 0
	for _, s := range sets {
		n += len(s)
	}
	return n
}

type scored struct {
	m     *memory.Memory
	score float64
}

// better orders hits: higher score, then more recently updated, then id.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if c := a.m.UpdatedAt.Compare(b.m.UpdatedAt); c != 0 {
		return c > 0
	}
	return a.m.ID < b.m.ID
}

// hitHeap is a min-heap by better: the root is the worst hit kept.
type hitHeap []scored

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(scored)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// clone copies m so that callers can neither see later writes nor change
// the stored memory. The vector is copied only when asked for.
func clone(m *memory.Memory, withVector bool) *memory.Memory {
	c := *m
	c.Metadata = cloneJSON(m.Metadata).(map[string]any)
	c.Categories = slices.Clone(m.Categories)
	c.Vector = nil
	if withVector {
		c.Vector = slices.Clone(m.Vector)
	}
	return &c
}

func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneJSON(e)
		}
		return out
	}
	return v
}

// record is the stored form of a Memory, apart from its vector.
type record struct {
	ID         string         `json:"id"`
	Text       string         `json:"text"`
	Hash       string         `json:"hash"`
	UserID     string         `json:"user_id,omitempty"`
	AgentID    string         `json:"agent_id,omitempty"`
	RunID      string         `json:"run_id,omitempty"`
	AppID      string         `json:"app_id,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Categories []string       `json:"categories,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ExpiresAt  time.Time      `json:"expires_at,omitzero"`
}

// encode lays out a memory as: format version (1 byte), length of the JSON
// record (uint32), the JSON record, then the vector as little-endian float32.
func encode(m *memory.Memory) ([]byte, error) {
	js, err := json.Marshal(record{
		ID: m.ID, Text: m.Text, Hash: m.Hash, UserID: m.UserID, AgentID: m.AgentID,
		RunID: m.RunID, AppID: m.AppID, Metadata: m.Metadata, Categories: m.Categories,
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt, ExpiresAt: m.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: encoding memory %s: %w", m.ID, err)
	}
	buf := make([]byte, 0, 5+len(js)+4*len(m.Vector))
	buf = append(buf, 1)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(js)))
	buf = append(buf, js...)
	for _, x := range m.Vector {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	return buf, nil
}

func decode(b []byte) (*memory.Memory, error) {
	if len(b) < 5 || b[0] != 1 {
		return nil, errors.New("unknown record format")
	}
	n := int(binary.LittleEndian.Uint32(b[1:5]))
	if 5+n > len(b) || (len(b)-5-n)%4 != 0 {
		return nil, errors.New("truncated record")
	}
	var r record
	if err := json.Unmarshal(b[5:5+n], &r); err != nil {
		return nil, err
	}
	vec := make([]float32, (len(b)-5-n)/4)
	for i := range vec {
		vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[5+n+4*i:]))
	}
	return &memory.Memory{
		ID: r.ID, Text: r.Text, Hash: r.Hash, UserID: r.UserID, AgentID: r.AgentID,
		RunID: r.RunID, AppID: r.AppID, Metadata: r.Metadata, Categories: r.Categories,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, ExpiresAt: r.ExpiresAt, Vector: vec,
	}, nil
}
