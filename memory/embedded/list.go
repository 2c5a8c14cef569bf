package embedded

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/memproxy/memproxy/memory"
)

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
		out = append(out, *clone(m, page.Vectors))
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
