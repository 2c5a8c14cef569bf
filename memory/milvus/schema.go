package milvus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
)

// Limits of the schema. Writes beyond them are refused with an error
// naming the limit.
const (
	maxIDBytes       = 256   // a memory's id
	maxScopeBytes    = 1024  // user_id, agent_id, run_id, app_id
	maxTextBytes     = 65535 // the largest VARCHAR Milvus keeps
	maxHashBytes     = 256
	maxCategories    = 64
	maxCategoryBytes = 256
)

// ErrSchemaMismatch is returned by Open when the collection exists with
// another schema or dimension: the store never recreates it.
var ErrSchemaMismatch = errors.New("milvus collection does not match the configuration")

// historyDims is the dimension of the history collection's placeholder
// vector: Milvus needs one vector field in every collection.
const historyDims = 2

// History collection fields.
const (
	fieldKey      = "key" // hex SHA-256 of memory id and record id
	fieldMemoryID = "memory_id"
	fieldRecord   = "record" // the HistoryRecord as JSON
)

func memorySchema(name string, dims int) *entity.Schema {
	varchar := func(n string, max int64) *entity.Field {
		return entity.NewField().WithName(n).WithDataType(entity.FieldTypeVarChar).WithMaxLength(max)
	}
	int64Field := func(n string) *entity.Field {
		return entity.NewField().WithName(n).WithDataType(entity.FieldTypeInt64)
	}
	return entity.NewSchema().WithName(name).WithDescription("memproxy memories").WithDynamicFieldEnabled(false).
		WithField(varchar(fieldID, maxIDBytes).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(fieldVector).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(dims))).
		WithField(varchar(fieldText, maxTextBytes)).
		WithField(varchar(fieldHash, maxHashBytes)).
		// The tenant: every recall filter pins user_id (personas are the
		// memories with user_id ""), so a search reads one partition.
		WithField(varchar(fieldUserID, maxScopeBytes).WithIsPartitionKey(true)).
		WithField(varchar(fieldAgentID, maxScopeBytes)).
		WithField(varchar(fieldRunID, maxScopeBytes)).
		WithField(varchar(fieldAppID, maxScopeBytes)).
		WithField(int64Field(fieldCreatedAt)).
		WithField(int64Field(fieldUpdatedAt)).
		WithField(int64Field(fieldExpiresAt)).
		WithField(entity.NewField().WithName(fieldMetadata).WithDataType(entity.FieldTypeJSON)).
		WithField(entity.NewField().WithName(fieldCategories).WithDataType(entity.FieldTypeArray).
			WithElementType(entity.FieldTypeVarChar).WithMaxCapacity(maxCategories).WithMaxLength(maxCategoryBytes)).
		WithField(int64Field(fieldCategoryCount))
}

func historySchema(name string) *entity.Schema {
	return entity.NewSchema().WithName(name).WithDescription("memproxy memory history").WithDynamicFieldEnabled(false).
		WithField(entity.NewField().WithName(fieldKey).WithDataType(entity.FieldTypeVarChar).WithMaxLength(64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(fieldMemoryID).WithDataType(entity.FieldTypeVarChar).WithMaxLength(maxIDBytes)).
		WithField(entity.NewField().WithName(fieldCreatedAt).WithDataType(entity.FieldTypeInt64)).
		WithField(entity.NewField().WithName(fieldRecord).WithDataType(entity.FieldTypeJSON)).
		WithField(entity.NewField().WithName(fieldVector).WithDataType(entity.FieldTypeFloatVector).WithDim(historyDims))
}

// A vectorIndex is the index a vector field needs, and its metric.
type vectorIndex struct {
	field  string
	idx    index.Index
	metric entity.MetricType
}

// ensureCollection creates the collection if it is missing, or checks that
// the existing one has the schema wanted; then makes sure its vector
// indexes are built and the collection is loaded.
func ensureCollection(ctx context.Context, c client, want *entity.Schema, indexes ...vectorIndex) error {
	has, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(want.CollectionName))
	if err != nil {
		return fmt.Errorf("looking for collection %s: %w", want.CollectionName, err)
	}
	if !has {
		// Strong is the collection's default; each call names its own level.
		err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(want.CollectionName, want).
			WithConsistencyLevel(entity.ClStrong))
		if err != nil {
			return fmt.Errorf("creating collection %s: %w", want.CollectionName, err)
		}
	} else {
		have, err := c.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(want.CollectionName))
		if err != nil {
			return fmt.Errorf("describing collection %s: %w", want.CollectionName, err)
		}
		if err := compareSchema(have.Schema, want); err != nil {
			return err
		}
	}
	for _, vi := range indexes {
		if err := ensureIndex(ctx, c, want.CollectionName, vi); err != nil {
			return err
		}
	}
	task, err := c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(want.CollectionName))
	if err != nil {
		return fmt.Errorf("loading collection %s: %w", want.CollectionName, err)
	}
	if err := task.Await(ctx); err != nil {
		return fmt.Errorf("loading collection %s: %w", want.CollectionName, err)
	}
	state, err := c.GetLoadState(ctx, milvusclient.NewGetLoadStateOption(want.CollectionName))
	if err != nil {
		return fmt.Errorf("checking that collection %s is loaded: %w", want.CollectionName, err)
	}
	if state.State != entity.LoadStateLoaded {
		return fmt.Errorf("collection %s is not loaded (state %v)", want.CollectionName, state.State)
	}
	return nil
}

// ensureIndex builds the index of a vector field if there is none and
// waits for it, then checks its state and metric itself: the client's
// Await can return before a failed build is reported.
func ensureIndex(ctx context.Context, c client, coll string, vi vectorIndex) error {
	names, err := c.ListIndexes(ctx, milvusclient.NewListIndexOption(coll).WithFieldName(vi.field))
	if err != nil && !indexNotFound(err) {
		return fmt.Errorf("listing the indexes of %s: %w", coll, err)
	}
	if len(names) == 0 {
		// No index name: Milvus Lite ignores it, and Await would then wait
		// for an index that never appears.
		task, err := c.CreateIndex(ctx, milvusclient.NewCreateIndexOption(coll, vi.field, vi.idx))
		if err != nil {
			return fmt.Errorf("creating the index of %s.%s: %w", coll, vi.field, err)
		}
		if err := task.Await(ctx); err != nil {
			return fmt.Errorf("building the index of %s.%s: %w", coll, vi.field, err)
		}
		if names, err = c.ListIndexes(ctx, milvusclient.NewListIndexOption(coll).WithFieldName(vi.field)); err != nil {
			return fmt.Errorf("listing the indexes of %s: %w", coll, err)
		}
		if len(names) == 0 {
			return fmt.Errorf("the index of %s.%s was reported built but does not exist", coll, vi.field)
		}
	}
	d, err := c.DescribeIndex(ctx, milvusclient.NewDescribeIndexOption(coll, names[0]))
	if err != nil {
		return fmt.Errorf("describing the index of %s.%s: %w", coll, vi.field, err)
	}
	if st := commonpb.IndexState(d.State); st != commonpb.IndexState_Finished && st != commonpb.IndexState_InProgress {
		// InProgress: data written since the last build is still being
		// indexed, which does not stop search; the rest is a failed build.
		return fmt.Errorf("the index of %s.%s is in state %v", coll, vi.field, st)
	}
	if metric := d.Params()[index.MetricTypeKey]; !strings.EqualFold(metric, string(vi.metric)) {
		return fmt.Errorf("%w: the index of %s.%s uses the %s metric, want %s", ErrSchemaMismatch, coll, vi.field, metric, vi.metric)
	}
	return nil
}

// indexNotFound reports whether err says a collection has no index yet.
// Milvus answers with its IndexNotExist code, which the client turns into
// an error reading "index not found"; Milvus Lite with a message of its
// own ("no index on collection", or "no index on field" when asked for a
// field's). The message is matched rather than the code because the code's
// type lives in Milvus's server module (pkg/v2), whose import brings
// Milvus's configuration system and an embedded etcd server into the
// binary.
func indexNotFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "index not found") || strings.Contains(msg, "no index on collection") ||
		strings.Contains(msg, "no index on field")
}

// compareSchema reports how have differs from want, wrapping
// ErrSchemaMismatch.
func compareSchema(have, want *entity.Schema) error {
	var diffs []string
	fields := map[string]*entity.Field{}
	for _, f := range have.Fields {
		fields[f.Name] = f
	}
	for _, w := range want.Fields {
		h, ok := fields[w.Name]
		if !ok {
			diffs = append(diffs, "field "+w.Name+" is missing")
			continue
		}
		delete(fields, w.Name)
		switch {
		case h.DataType != w.DataType:
			diffs = append(diffs, fmt.Sprintf("field %s is %s, want %s", w.Name, h.DataType.Name(), w.DataType.Name()))
		case h.PrimaryKey != w.PrimaryKey:
			diffs = append(diffs, fmt.Sprintf("field %s: primary key %v, want %v", w.Name, h.PrimaryKey, w.PrimaryKey))
		case h.IsPartitionKey != w.IsPartitionKey:
			diffs = append(diffs, fmt.Sprintf("field %s: partition key %v, want %v", w.Name, h.IsPartitionKey, w.IsPartitionKey))
		case w.DataType == entity.FieldTypeArray && h.ElementType != w.ElementType:
			diffs = append(diffs, fmt.Sprintf("field %s holds %s, want %s", w.Name, h.ElementType.Name(), w.ElementType.Name()))
		}
		for _, p := range []string{entity.TypeParamDim, entity.TypeParamMaxLength, entity.TypeParamMaxCapacity} {
			wv, ok := w.TypeParams[p]
			if !ok {
				continue
			}
			hv := h.TypeParams[p]
			if p == entity.TypeParamDim {
				if hv != wv {
					diffs = append(diffs, fmt.Sprintf("field %s has dimension %s, the configured embedder gives %s", w.Name, hv, wv))
				}
				continue
			}
			// A larger limit than ours holds everything we write. (Milvus
			// Lite does not report the limits of array elements.)
			if hv == "" {
				continue
			}
			if hn, err := strconv.Atoi(hv); err != nil || hn < atoi(wv) {
				diffs = append(diffs, fmt.Sprintf("field %s has %s %s, want at least %s", w.Name, p, hv, wv))
			}
		}
	}
	for name := range fields {
		diffs = append(diffs, "unexpected field "+name)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: collection %s: %s; use another collection (MEMPROXY_MILVUS_COLLECTION) or the configuration it was created with",
			ErrSchemaMismatch, want.CollectionName, strings.Join(diffs, "; "))
	}
	return nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// embedderKey is the key of the row of the history collection that names
// the embedder of the memories' vectors: vectors of two embedders are not
// comparable. (A collection's description would do, but Milvus Lite does
// not keep it.) Other keys are 64 hex digits.
const embedderKey = "embedder"

type embedderRecord struct {
	Space string `json:"space"`
	Dims  int    `json:"dims"`
}

// checkEmbedder records the configured embedder in a new collection, and
// refuses an existing one written with another.
func (s *Store) checkEmbedder(ctx context.Context, c client) error {
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.history).WithFilter(fieldKey+" == "+quote(embedderKey)).
		WithOutputFields(fieldRecord).WithLimit(1).WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return fmt.Errorf("reading the embedder of %s: %w", s.cfg.Collection, err)
	}
	want := embedderRecord{Space: s.cfg.Space, Dims: s.cfg.Dims}
	if rs.ResultCount > 0 {
		raw, err := jsonColumn(rs, fieldRecord)
		if err != nil {
			return err
		}
		var have embedderRecord
		if err := json.Unmarshal(raw[0], &have); err != nil {
			return fmt.Errorf("decoding the embedder of %s: %w", s.cfg.Collection, err)
		}
		if have != want {
			return fmt.Errorf("%w: collection %s holds vectors of embedder %q with %d dimensions, but the configured embedder is %q with %d; use another collection (MEMPROXY_MILVUS_COLLECTION) or the embedder it was written with (MEMPROXY_EMBEDDER: hash-v1 is hash, the default before static)",
				ErrSchemaMismatch, s.cfg.Collection, have.Space, have.Dims, want.Space, want.Dims)
		}
		return nil
	}
	js, err := json.Marshal(want)
	if err != nil {
		return err
	}
	_, err = c.Upsert(ctx, milvusclient.NewColumnBasedInsertOption(s.history,
		column.NewColumnVarChar(fieldKey, []string{embedderKey}),
		column.NewColumnVarChar(fieldMemoryID, []string{""}),
		column.NewColumnInt64(fieldCreatedAt, []int64{0}),
		column.NewColumnJSONBytes(fieldRecord, [][]byte{js}),
		column.NewColumnFloatVector(fieldVector, historyDims, [][]float32{{1, 0}})))
	if err != nil {
		return fmt.Errorf("recording the embedder of %s: %w", s.cfg.Collection, err)
	}
	return nil
}
