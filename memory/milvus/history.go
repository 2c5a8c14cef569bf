package milvus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
)

// AddHistory records changes, replacing records with the same id.
func (s *Store) AddHistory(ctx context.Context, rs ...memory.HistoryRecord) error {
	if len(rs) == 0 {
		return ctx.Err()
	}
	keys := make([]string, len(rs))
	memIDs := make([]string, len(rs))
	created := make([]int64, len(rs))
	records := make([][]byte, len(rs))
	vectors := make([][]float32, len(rs))
	seen := map[string]int{}
	for i, r := range rs {
		if r.ID == "" || r.MemoryID == "" {
			return errors.New("milvus store: a history record needs an id and a memory id")
		}
		if len(r.MemoryID) > maxIDBytes || !quotable(r.MemoryID) {
			return fmt.Errorf("milvus store: history record %s: memory id is not UTF-8 of at most %d bytes", r.ID, maxIDBytes)
		}
		js, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("milvus store: encoding history record %s: %w", r.ID, err)
		}
		sum := sha256.Sum256([]byte(r.MemoryID + "\x00" + r.ID))
		keys[i], memIDs[i], records[i] = hex.EncodeToString(sum[:]), r.MemoryID, js
		created[i] = r.CreatedAt.UnixNano()
		vectors[i] = []float32{1, 0}
		if j, dup := seen[keys[i]]; dup {
			return fmt.Errorf("milvus store: history record %s of memory %s appears twice (at %d and %d)", r.ID, r.MemoryID, j, i)
		}
		seen[keys[i]] = i
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	// The history collection has no partition key: upsert is sound there.
	_, err = c.Upsert(ctx, milvusclient.NewColumnBasedInsertOption(s.history,
		column.NewColumnVarChar(fieldKey, keys),
		column.NewColumnVarChar(fieldMemoryID, memIDs),
		column.NewColumnInt64(fieldCreatedAt, created),
		column.NewColumnJSONBytes(fieldRecord, records),
		column.NewColumnFloatVector(fieldVector, historyDims, vectors)))
	if err != nil {
		return s.failed(ctx, "recording history", err)
	}
	return nil
}

// History returns a memory's records, oldest first.
func (s *Store) History(ctx context.Context, memoryID string) ([]memory.HistoryRecord, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	if memoryID == "" || !quotable(memoryID) {
		return nil, nil // "" is the memory id of the embedder row
	}
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.history).WithFilter(fieldMemoryID+" == "+quote(memoryID)).
		WithOutputFields(fieldRecord).WithLimit(maxWindow).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return nil, s.failed(ctx, "reading history", err)
	}
	raw, err := jsonColumn(rs, fieldRecord)
	if err != nil {
		return nil, err
	}
	out := make([]memory.HistoryRecord, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			return nil, fmt.Errorf("milvus store: decoding a history record of %s: %w", memoryID, err)
		}
	}
	memory.SortHistory(out)
	return out, nil
}

// DeleteHistory removes every record of the given memories.
func (s *Store) DeleteHistory(ctx context.Context, memoryIDs ...string) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	memoryIDs = slices.DeleteFunc(slices.Clone(memoryIDs), func(id string) bool { return id == "" })
	for chunk := range slices.Chunk(memoryIDs, 512) {
		expr, ok := idsIn(fieldMemoryID, chunk)
		if !ok {
			continue
		}
		if _, err := c.Delete(ctx, milvusclient.NewDeleteOption(s.history).WithExpr(expr)); err != nil {
			return s.failed(ctx, "deleting history", err)
		}
	}
	return nil
}
