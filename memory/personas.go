package memory

import (
	"cmp"
	"context"
	"errors"
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

	// loads bounds the loads running at once (maxPersonaLoads): each may
	// outlive its chat, and agent ids come from clients.
	loads chan struct{}

	mu      sync.Mutex
	entries *lru.Cache[string, *persona]
	loading map[string]*personaLoad
	// written is when each agent's persona was last written through this
	// cache's InvalidatingStore: its next loads read fresh (Page.Fresh)
	// for staleReadWindow, so that a store's cheaper, possibly stale read
	// cannot put what the write replaced back in the cache for a TTL.
	written map[string]time.Time
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
	// Set under the cache's lock while the load runs: stale, when a write
	// to the agent's persona may be missing from what it reads; deleted,
	// the ids deleted meanwhile, any of which in its answer makes it stale.
	stale   bool
	deleted []string
}

// maxPersonaLoads is how many personas load at once; a chat that would
// start one more searches the store for its persona instead.
const maxPersonaLoads = 64

// maxDeletedDuringLoad is how many deleted ids a load in flight keeps to
// check its answer against; past it, the load is not kept.
const maxDeletedDuringLoad = 10000

// staleReadWindow is how long after a write a store's cheaper reads may
// still miss it (Milvus' bounded consistency lags up to 5 s by default).
const staleReadWindow = 5 * time.Second

// errTooManyLoads: maxPersonaLoads loads are running.
var errTooManyLoads = errors.New("too many persona loads at once")

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
	return &PersonaCache{store: store, opts: opts, entries: entries, loading: make(map[string]*personaLoad),
		written: make(map[string]time.Time), loads: make(chan struct{}, maxPersonaLoads)}
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
	if errors.Is(err, errTooManyLoads) {
		return nil, false, nil
	}
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
	select {
	case c.loads <- struct{}{}:
	default:
		c.mu.Unlock()
		return nil, errTooManyLoads
	}
	l := &personaLoad{done: make(chan struct{})}
	c.loading[agentID] = l
	fresh := time.Since(c.written[agentID]) < staleReadWindow
	c.mu.Unlock()

	// The load outlives a caller whose budget runs out, so that the next
	// chats find the persona loaded rather than start again; it has its
	// own bound.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), personaLoadTimeout)
	go func() {
		defer cancel()
		defer func() { <-c.loads }()
		p, err := c.load(lctx, agentID, fresh)
		c.mu.Lock()
		if c.loading[agentID] == l {
			delete(c.loading, agentID)
		}
		if err == nil && !l.stale && !p.holdsAny(l.deleted) {
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

// holdsAny reports whether p holds one of ids.
func (p *persona) holdsAny(ids []string) bool {
	for _, id := range ids {
		if p.byID[id] != nil {
			return true
		}
	}
	return false
}

// load lists the persona of agentID with its vectors and indexes it;
// fresh asks the store for a read that sees every write before it.
func (c *PersonaCache) load(ctx context.Context, agentID string, fresh bool) (*persona, error) {
	p := &persona{loaded: time.Now()}
	ms, err := c.store.List(ctx, PersonaFilter(agentID), Page{Limit: c.opts.MaxMemories + 1, Vectors: true, Fresh: fresh})
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
// it again, reading fresh. A load of it running meanwhile is not kept.
func (c *PersonaCache) Invalidate(agentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidate(agentID)
}

// invalidate is Invalidate with c.mu held.
func (c *PersonaCache) invalidate(agentID string) {
	c.entries.Remove(agentID)
	if l := c.loading[agentID]; l != nil {
		l.stale = true
		delete(c.loading, agentID)
	}
	now := time.Now()
	if len(c.written) >= c.opts.MaxAgents {
		for a, t := range c.written {
			if now.Sub(t) >= staleReadWindow {
				delete(c.written, a)
			}
		}
	}
	c.written[agentID] = now
}

// InvalidateIDs drops every cached persona holding one of ids; a load
// running meanwhile is not kept if its answer holds one of them.
func (c *PersonaCache) InvalidateIDs(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, agent := range c.entries.Keys() {
		if p, ok := c.entries.Peek(agent); ok && p.holdsAny(ids) {
			c.invalidate(agent)
		}
	}
	for _, l := range c.loading {
		if l.stale {
			continue
		}
		if len(l.deleted)+len(ids) > maxDeletedDuringLoad {
			l.stale, l.deleted = true, nil
			continue
		}
		l.deleted = append(l.deleted, ids...)
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
