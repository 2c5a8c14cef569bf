package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/memproxy/memproxy/memory/lexical"
)

// PersonaCacheOptions bound a PersonaCache.
type PersonaCacheOptions struct {
	// TTL is how long a loaded persona is used before it is listed again:
	// the staleness a write through another process may see. Writes
	// through an InvalidatingStore on the same cache are seen at once.
	TTL time.Duration
	// MaxAgents is how many agents' personas are kept (least recently
	// used first out).
	MaxAgents int
	// MaxMemories is the most memories of one persona kept; an agent with
	// more is searched in the store as before.
	MaxMemories int
}

// A PersonaCache keeps the persona memories of recently seen agents in
// process, with their vectors and a BM25 index, so that recalling an
// agent's persona, which every user of the agent shares, costs no store
// round trip. It ranks them with RankExact, as the embedded store does.
// At most MaxAgents × MaxMemories memories are held. Safe for concurrent
// use.
type PersonaCache struct {
	store Store
	opts  PersonaCacheOptions

	mu      sync.Mutex
	entries *lru.Cache[string, *persona]
	loading map[string]*personaLoad
	// epoch counts invalidations: a load that saw one while it ran may
	// hold what was there before the write, and is not kept.
	epoch uint64
}

// persona is one agent's cached persona. It is never changed once built.
type persona struct {
	loaded   time.Time
	tooMany  bool // more than MaxMemories: search the store instead
	memories []*Memory
	byID     map[string]*Memory
	index    *lexical.Index
}

type personaLoad struct {
	done chan struct{}
	p    *persona
	err  error
}

// NewPersonaCache returns a cache over store. A zero option takes its
// default: TTL 5s, MaxAgents 1,000, MaxMemories 200.
func NewPersonaCache(store Store, opts PersonaCacheOptions) *PersonaCache {
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Second
	}
	if opts.MaxAgents <= 0 {
		opts.MaxAgents = 1000
	}
	if opts.MaxMemories <= 0 {
		opts.MaxMemories = 200
	}
	entries, _ := lru.New[string, *persona](opts.MaxAgents) // errors only on a size below 1
	return &PersonaCache{store: store, opts: opts, entries: entries, loading: make(map[string]*personaLoad)}
}

// IsPersona reports whether m is in the persona of its agent (see
// PersonaFilter).
func IsPersona(m *Memory) bool {
	return m.AgentID != "" && m.UserID == "" && m.RunID == "" && m.AppID == ""
}

// Search answers req, whose Filter must be PersonaFilter(agentID), from
// the cached persona of agentID, loading it if needed. Without a vector
// (or with recent) it returns the TopK newest memories, as List does.
// ok false means the persona is too large to cache: search the store.
func (c *PersonaCache) Search(ctx context.Context, agentID string, req SearchRequest, recent bool) (hits []Hit, ok bool, err error) {
	p, err := c.get(ctx, agentID)
	if err != nil {
		return nil, false, err
	}
	if p.tooMany {
		return nil, false, nil
	}
	now := time.Now()
	if req.Vector == nil || recent {
		for _, m := range p.memories {
			if len(hits) == req.TopK {
				break
			}
			if !m.Expired(now) {
				hits = append(hits, Hit{Memory: *m})
				hits[len(hits)-1].Vector = nil
			}
		}
	} else {
		hits = RankExact(req, now, func(fn func(*Memory)) {
			for _, m := range p.memories {
				fn(m)
			}
		}, []*lexical.Index{p.index}, func(id string) *Memory { return p.byID[id] })
	}
	// The cached memories are shared by every caller: each gets its own.
	for i := range hits {
		hits[i].Metadata = maps.Clone(hits[i].Metadata)
		hits[i].Categories = slices.Clone(hits[i].Categories)
	}
	return hits, true, nil
}

// get returns the persona of agentID, loading it when it is missing or
// older than TTL. Concurrent callers share one load.
func (c *PersonaCache) get(ctx context.Context, agentID string) (*persona, error) {
	c.mu.Lock()
	if p, ok := c.entries.Get(agentID); ok && time.Since(p.loaded) < c.opts.TTL {
		c.mu.Unlock()
		return p, nil
	}
	if l := c.loading[agentID]; l != nil {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.p, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := &personaLoad{done: make(chan struct{})}
	c.loading[agentID] = l
	epoch := c.epoch
	c.mu.Unlock()

	// The load outlives a caller whose budget runs out, so that the next
	// chats find the persona loaded rather than start again; it has its
	// own bound.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), personaLoadTimeout)
	go func() {
		defer cancel()
		p, err := c.load(lctx, agentID)
		c.mu.Lock()
		if c.loading[agentID] == l {
			delete(c.loading, agentID)
		}
		if err == nil && c.epoch == epoch {
			c.entries.Add(agentID, p)
		}
		l.p, l.err = p, err
		c.mu.Unlock()
		close(l.done)
	}()
	select {
	case <-l.done:
		return l.p, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// personaLoadTimeout bounds one listing of a persona.
const personaLoadTimeout = 10 * time.Second

// load lists the persona of agentID with its vectors and indexes it.
func (c *PersonaCache) load(ctx context.Context, agentID string) (*persona, error) {
	p := &persona{loaded: time.Now()}
	ms, err := c.store.List(ctx, PersonaFilter(agentID), Page{Limit: c.opts.MaxMemories + 1, Vectors: true})
	if err != nil {
		return nil, fmt.Errorf("loading the persona of %q: %w", agentID, err)
	}
	if len(ms) > c.opts.MaxMemories {
		p.tooMany = true
		return p, nil
	}
	// Newest first, as List returns them: the order of a recent recall.
	slices.SortFunc(ms, func(a, b Memory) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	p.byID = make(map[string]*Memory, len(ms))
	p.index = lexical.NewIndex()
	for i := range ms {
		m := &ms[i]
		p.memories = append(p.memories, m)
		p.byID[m.ID] = m
		p.index.Add(m.ID, m.Text)
	}
	return p, nil
}

// Invalidate drops the cached persona of agentID: the next recall lists
// it again. A load running meanwhile is not kept.
func (c *PersonaCache) Invalidate(agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.entries.Remove(agentID)
	delete(c.loading, agentID)
}

// InvalidateIDs drops every cached persona holding one of ids, and any
// load running meanwhile (it may hold one of them).
func (c *PersonaCache) InvalidateIDs(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	clear(c.loading)
	for _, agent := range c.entries.Keys() {
		p, ok := c.entries.Peek(agent)
		if !ok {
			continue
		}
		for _, id := range ids {
			if p.byID[id] != nil {
				c.entries.Remove(agent)
				break
			}
		}
	}
}

// An InvalidatingStore is a Store whose writes invalidate the cached
// personas they change: write through it, and recalls through the same
// PersonaCache see the write at once.
type InvalidatingStore struct {
	Store
	Personas *PersonaCache
}

// Add adds ms and invalidates the personas among them.
func (s *InvalidatingStore) Add(ctx context.Context, ms ...Memory) error {
	err := s.Store.Add(ctx, ms...)
	for i := range ms {
		if IsPersona(&ms[i]) {
			s.Personas.Invalidate(ms[i].AgentID)
		}
	}
	return err
}

// Update updates m and invalidates its persona. An update keeps a
// memory's scope (both services update what they read), so a memory that
// is not a persona now was not one before.
func (s *InvalidatingStore) Update(ctx context.Context, m Memory) error {
	err := s.Store.Update(ctx, m)
	if IsPersona(&m) {
		s.Personas.Invalidate(m.AgentID)
	}
	return err
}

// Delete deletes ids and invalidates the personas that held them.
func (s *InvalidatingStore) Delete(ctx context.Context, ids ...string) error {
	err := s.Store.Delete(ctx, ids...)
	s.Personas.InvalidateIDs(ids...)
	return err
}
