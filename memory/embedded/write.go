package embedded

import (
	"context"
	"errors"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/memproxy/memproxy/memory"
)

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
