package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// This file is the operators' side of the Service: reading, searching,
// editing and deleting memories by id or by scope, their history, and the
// entities (users, agents, apps, runs) that have memories. The memory API
// goes through it. Every read here asks the Store for read-your-writes
// consistency: an operator who has just written expects to see it.

// ErrInvalid is wrapped by errors about a request that cannot be carried
// out as asked: the caller must change it.
var ErrInvalid = errors.New("invalid request")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// notFound wraps ErrNotFound with the id that was not found.
func notFound(id string) error { return fmt.Errorf("memory %s: %w", id, ErrNotFound) }

// Get returns the memory with id, without its vector.
func (s *Service) Get(ctx context.Context, id string) (Memory, error) {
	m, err := s.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Memory{}, notFound(id)
	}
	if err != nil {
		return Memory{}, fmt.Errorf("reading memory %s: %w", id, err)
	}
	m.Vector = nil
	return m, nil
}

// A Query asks for the memories most similar to a text within a filter.
type Query struct {
	Text     string
	Filter   Filter
	TopK     int     // at least 1
	MinScore float64 // in [0,1]
}

// Search returns up to q.TopK memories matching q.Filter, most similar to
// q.Text first.
func (s *Service) Search(ctx context.Context, q Query) ([]Hit, error) {
	if strings.TrimSpace(q.Text) == "" {
		return nil, invalidf("the query is empty")
	}
	if q.TopK < 1 {
		return nil, invalidf("top_k must be at least 1")
	}
	if q.MinScore < 0 || q.MinScore > 1 {
		return nil, invalidf("threshold must be between 0 and 1")
	}
	if err := q.Filter.Validate(); err != nil {
		return nil, invalidf("filters: %v", err)
	}
	vecs, err := s.Embedder.Embed(ctx, []string{q.Text})
	if err != nil {
		return nil, fmt.Errorf("%w: embedding the query: %w", ErrEmbedding, err)
	}
	hits, err := s.Store.Search(ctx, SearchRequest{
		Vector: vecs[0], Text: q.Text, DenseWeight: DenseWeight(s.Embedder), Filter: q.Filter, TopK: q.TopK, MinScore: q.MinScore, Fresh: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSearch, err)
	}
	for i := range hits {
		hits[i].Vector = nil
	}
	return hits, nil
}

// List returns one page of the memories matching f, newest first, and how
// many match in all.
func (s *Service) List(ctx context.Context, f Filter, page Page) ([]Memory, int, error) {
	if err := f.Validate(); err != nil {
		return nil, 0, invalidf("filters: %v", err)
	}
	page.Fresh = true
	ms, err := s.Store.List(ctx, f, page)
	if err != nil {
		return nil, 0, fmt.Errorf("listing memories: %w", err)
	}
	n, err := s.Store.Count(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("counting memories: %w", err)
	}
	for i := range ms {
		ms[i].Vector = nil
	}
	return ms, max(n, len(ms)), nil
}

// A Change edits one memory. Nil fields stay as they are.
type Change struct {
	ID   string
	Text *string
	// Metadata, when non-nil, replaces the memory's metadata; an empty
	// map clears it.
	Metadata map[string]any
	// ExpiresAt, when non-nil, sets the expiry; the zero time clears it.
	ExpiresAt *time.Time
	// CreatedAt, when non-nil, sets when the memory counts as created.
	CreatedAt *time.Time
}

// Update applies changes, all or none: every memory must exist and every
// change must be valid before anything is written. A new text is
// embedded again and recorded in the history.
func (s *Service) Update(ctx context.Context, requestID string, changes ...Change) ([]Memory, error) {
	if len(changes) == 0 {
		return nil, invalidf("no memories to update")
	}
	seen := make(map[string]bool, len(changes))
	olds := make([]Memory, len(changes))
	var texts []string
	for i, c := range changes {
		if seen[c.ID] {
			return nil, invalidf("memory %s is listed twice", c.ID)
		}
		seen[c.ID] = true
		if c.Text == nil && c.Metadata == nil && c.ExpiresAt == nil && c.CreatedAt == nil {
			return nil, invalidf("memory %s: nothing to change (give text, metadata, timestamp or expiration_date)", c.ID)
		}
		if c.Text != nil {
			if strings.TrimSpace(*c.Text) == "" {
				return nil, invalidf("memory %s: the new text is empty", c.ID)
			}
			texts = append(texts, *c.Text)
		}
		old, err := s.Store.Get(ctx, c.ID)
		if errors.Is(err, ErrNotFound) {
			return nil, notFound(c.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("reading memory %s: %w", c.ID, err)
		}
		olds[i] = old
	}
	vecOf := map[string][]float32{}
	if len(texts) > 0 {
		vecs, err := s.Embedder.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("%w: embedding %d texts: %w", ErrEmbedding, len(texts), err)
		}
		for i, t := range texts {
			vecOf[t] = vecs[i]
		}
	}

	now := s.now()
	updated := make([]Memory, len(changes))
	var history []HistoryRecord
	for i, c := range changes {
		m := olds[i]
		if c.Text != nil && *c.Text != m.Text {
			history = append(history, HistoryRecord{
				ID: NewID(), MemoryID: m.ID, Event: EventUpdate, OldText: m.Text, NewText: *c.Text,
				UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID, AppID: m.AppID,
				RequestID: requestID, CreatedAt: now,
			})
			m.Text, m.Hash, m.Vector = *c.Text, Hash(*c.Text), vecOf[*c.Text]
		}
		if c.Metadata != nil {
			m.Metadata = maps.Clone(c.Metadata)
			if len(m.Metadata) == 0 {
				m.Metadata = nil
			}
		}
		if c.ExpiresAt != nil {
			m.ExpiresAt = *c.ExpiresAt
		}
		if c.CreatedAt != nil {
			m.CreatedAt = *c.CreatedAt
		}
		m.UpdatedAt = now
		updated[i] = m
	}
	// History first, as in apply: a change made is a change recorded.
	if len(history) > 0 {
		if err := s.Store.AddHistory(ctx, history...); err != nil {
			return nil, fmt.Errorf("recording history: %w", err)
		}
	}
	for i := range updated {
		if err := s.Store.Update(ctx, updated[i]); err != nil {
			return nil, fmt.Errorf("updating memory %s: %w", updated[i].ID, err)
		}
		updated[i].Vector = nil
	}
	return updated, nil
}

// Delete removes memories by id, all or none: every one must exist. Their
// history goes with them: deleted means gone.
func (s *Service) Delete(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return invalidf("no memories to delete")
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return invalidf("memory %s is listed twice", id)
		}
		seen[id] = true
		if _, err := s.Store.Get(ctx, id); errors.Is(err, ErrNotFound) {
			// It may have expired: invisible, but still on disk with its
			// history. Deleting it is what the caller wants either way,
			// and deleting an unknown id does nothing.
			if err := s.purge(ctx, []string{id}); err != nil {
				return err
			}
			return notFound(id)
		} else if err != nil {
			return fmt.Errorf("reading memory %s: %w", id, err)
		}
	}
	return s.purge(ctx, ids)
}

// purge deletes memories and their history. The history goes first and
// again last: if the memories cannot be deleted they can still be found
// to try again, and a record a concurrent write added meanwhile is gone
// too.
func (s *Service) purge(ctx context.Context, ids []string) error {
	if err := s.Store.DeleteHistory(ctx, ids...); err != nil {
		return fmt.Errorf("deleting the history of %d memories: %w", len(ids), err)
	}
	if err := s.Store.Delete(ctx, ids...); err != nil {
		return fmt.Errorf("deleting %d memories: %w", len(ids), err)
	}
	if err := s.Store.DeleteHistory(ctx, ids...); err != nil {
		return fmt.Errorf("deleting the history of %d memories: %w", len(ids), err)
	}
	return nil
}

// deletePage is how many memories DeleteMatching removes at a time.
const deletePage = 500

// DeleteMatching removes every memory that f matches, expired ones
// included (invisible is not gone), with its history, and returns how many
// there were. f must not be empty: deleting everything is never what a
// missing filter means.
//
// It walks the matching memories in id order (Store.Scan), a page at a
// time, and deletes each page with its history: the history is kept by
// memory id, so the ids are needed anyway, and the walk costs one pass
// however many memories match. A memory added meanwhile is deleted if its
// id comes after the page being deleted.
func (s *Service) DeleteMatching(ctx context.Context, f Filter) (int, error) {
	if f.IsZero() {
		return 0, invalidf("a delete needs a filter: refusing to delete every memory")
	}
	if err := f.Validate(); err != nil {
		return 0, invalidf("filters: %v", err)
	}
	deleted := 0
	err := s.walk(ctx, f, deletePage, func(ms []Memory) error {
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.ID
		}
		if err := s.purge(ctx, ids); err != nil {
			return err
		}
		deleted += len(ids)
		return nil
	})
	return deleted, err
}

// walk calls fn with the memories f matches, expired ones included, a
// page of up to size at a time in id order (Store.Scan), until there are
// no more, ctx ends or fn fails. A walk costs one pass however many
// memories match.
func (s *Service) walk(ctx context.Context, f Filter, size int, fn func([]Memory) error) error {
	for after := ""; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		ms, err := s.Store.Scan(ctx, f, after, size)
		if err != nil {
			return fmt.Errorf("listing memories: %w", err)
		}
		if len(ms) > 0 {
			if err := fn(ms); err != nil {
				return err
			}
		}
		if len(ms) < size {
			return nil
		}
		after = ms[len(ms)-1].ID
	}
}

// History returns the changes of one memory, oldest first. A memory that
// is gone and left no history is not found.
func (s *Service) History(ctx context.Context, id string) ([]HistoryRecord, error) {
	rs, err := s.Store.History(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("reading the history of memory %s: %w", id, err)
	}
	if len(rs) == 0 {
		if _, err := s.Get(ctx, id); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// Entity kinds: the scope fields a memory can belong to.
const (
	EntityUser  = "user"
	EntityAgent = "agent"
	EntityApp   = "app"
	EntityRun   = "run"
)

// EntityField returns the field that holds ids of an entity kind.
func EntityField(kind string) (string, bool) {
	switch kind {
	case EntityUser:
		return FieldUserID, true
	case EntityAgent:
		return FieldAgentID, true
	case EntityApp:
		return FieldAppID, true
	case EntityRun:
		return FieldRunID, true
	}
	return "", false
}

// PurgeExpired deletes every memory expired at now, with its history, and
// returns how many there were. Expired memories are invisible at once;
// this is what removes them from disk, so that an expiry means the data
// is gone. It reads every memory once, a page at a time in id order.
func (s *Service) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	purged := 0
	err := s.walk(ctx, Filter{}, listPage, func(ms []Memory) error {
		var ids []string
		for i := range ms {
			if ms[i].Expired(now) {
				ids = append(ids, ms[i].ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		if err := s.purge(ctx, ids); err != nil {
			return err
		}
		purged += len(ids)
		return nil
	})
	return purged, err
}

// SweepExpired calls PurgeExpired at once and then every interval until
// ctx is done, logging what it removed and what failed (a failed sweep is
// tried again at the next one).
func (s *Service) SweepExpired(ctx context.Context, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.PurgeExpired(ctx, time.Now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("purging expired memories failed; trying again later", "err", err, "purged", n, "next", every)
		case n > 0:
			log.Info("purged expired memories", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// An Entity is a user, agent, app or run that has memories.
type Entity struct {
	Kind      string // EntityUser, EntityAgent, EntityApp or EntityRun
	Name      string
	Memories  int
	CreatedAt time.Time // of its oldest memory
	UpdatedAt time.Time // of its latest change
}

// listPage is how many memories Entities reads at a time.
const listPage = 1000

// Entities returns every entity that has memories: users first, then
// agents, apps and runs, each by name. It reads every memory, once, a
// page at a time in id order (Store.Scan); expired ones do not count.
func (s *Service) Entities(ctx context.Context) ([]Entity, error) {
	type key struct{ kind, name string }
	found := map[key]*Entity{}
	note := func(kind, name string, m *Memory) {
		if name == "" {
			return
		}
		e := found[key{kind, name}]
		if e == nil {
			e = &Entity{Kind: kind, Name: name, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
			found[key{kind, name}] = e
		}
		e.Memories++
		if m.CreatedAt.Before(e.CreatedAt) {
			e.CreatedAt = m.CreatedAt
		}
		if m.UpdatedAt.After(e.UpdatedAt) {
			e.UpdatedAt = m.UpdatedAt
		}
	}
	now := time.Now()
	err := s.walk(ctx, Filter{}, listPage, func(ms []Memory) error {
		for i := range ms {
			m := &ms[i]
			if m.Expired(now) {
				continue
			}
			note(EntityUser, m.UserID, m)
			note(EntityAgent, m.AgentID, m)
			note(EntityApp, m.AppID, m)
			note(EntityRun, m.RunID, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	order := map[string]int{EntityUser: 0, EntityAgent: 1, EntityApp: 2, EntityRun: 3}
	out := make([]Entity, 0, len(found))
	for _, e := range found {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entity) int {
		if c := cmp.Compare(order[a.Kind], order[b.Kind]); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

// DeleteEntity removes every memory of one entity, with its history, and
// returns how many there were; ErrNotFound if it has none.
func (s *Service) DeleteEntity(ctx context.Context, kind, name string) (int, error) {
	field, ok := EntityField(kind)
	if !ok {
		return 0, invalidf("entity type %q is not user, agent, app or run", kind)
	}
	if name == "" {
		return 0, invalidf("the %s id is empty", kind)
	}
	n, err := s.DeleteMatching(ctx, Eq(field, name))
	if err != nil {
		return n, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%s %q has no memories: %w", kind, name, ErrNotFound)
	}
	return n, nil
}

// Mentions reports whether f tests any of fields anywhere in its tree
// (metadata keys do not count).
func (f Filter) Mentions(fields ...string) bool {
	if f.Op == OpAnd || f.Op == OpOr || f.Op == OpNot {
		for _, a := range f.Args {
			if a.Mentions(fields...) {
				return true
			}
		}
		return false
	}
	return f.Op != 0 && !f.Meta && slices.Contains(fields, f.Field)
}
