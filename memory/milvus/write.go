package milvus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/internal/backoff"
	"github.com/memproxy/memproxy/memory"
)

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
	// Another sidecar may be adding the same ids now (see Store.locks):
	// an upsert leaves one row of each however the two interleave.
	opt := milvusclient.NewColumnBasedInsertOption(s.cfg.Collection, cols...)
	if s.upsertAdds.Load() {
		_, err = c.Upsert(ctx, opt)
	} else {
		_, err = c.Insert(ctx, opt)
	}
	if err != nil {
		return s.failed(ctx, fmt.Sprintf("adding %d memories", len(ms)), err)
	}
	return nil
}

// upsertSound reports whether a server of version v (as GetServerVersion
// says it: "v2.4.5", "milvus_lite-3.2.2") upserts rows of a collection with
// a partition key into the right partition. Milvus before 2.3.11 computed
// the partition of an upserted row from the wrong field, so that filters on
// the key no longer found it (milvus-io/milvus#30607). Unknown versions
// are taken as unsound: Add then inserts, as it always did.
func upsertSound(v string) bool {
	if strings.HasPrefix(v, "milvus_lite-") {
		return true
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(strings.TrimPrefix(v, "v"), "%d.%d.%d", &major, &minor, &patch); err != nil {
		return false
	}
	switch {
	case major != 2:
		return major > 2
	case minor != 3:
		return minor > 3
	}
	return patch >= 11
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
// tried up to writeAttempts times, waiting writeRetry's delays (250ms,
// then 500ms, then 1s) between tries, each try bounded by writeTimeout.
const (
	writeAttempts = 4
	writeTimeout  = 10 * time.Second
)

var writeRetry = backoff.Policy{Base: 250 * time.Millisecond, Max: time.Second}

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
	tries := 0
	err := backoff.Retry(ctx, writeRetry, writeAttempts, nil, func(ctx context.Context) error {
		tries++
		c, err := s.client()
		if err != nil {
			return err // unavailable: the next try may find it reconnected
		}
		actx, cancel := context.WithTimeout(ctx, writeTimeout)
		defer cancel()
		if err := write(actx, c); err != nil {
			return s.failed(ctx, what, err)
		}
		return nil
	})
	if err != nil && tries < writeAttempts {
		// Every error is retried, so ctx ended during a wait: say what
		// was cut short (the error matches ctx's and the last try's).
		return fmt.Errorf("milvus store: %s: %w", what, err)
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
