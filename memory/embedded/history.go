package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/memproxy/memproxy/memory"
)

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
