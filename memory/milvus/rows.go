package milvus

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
)

// outputFields are the fields read back for a memory, its vector aside.
func outputFields() []string {
	return []string{fieldID, fieldText, fieldHash, fieldUserID, fieldAgentID, fieldRunID, fieldAppID,
		fieldCreatedAt, fieldUpdatedAt, fieldExpiresAt, fieldMetadata, fieldCategories}
}

// columns lays out memories as the collection's columns, refusing what
// the schema cannot hold.
func (s *Store) columns(ms []memory.Memory) ([]column.Column, error) {
	n := len(ms)
	var (
		ids, texts, hashes, users, agents, runs, apps = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created, updated, expires = make([]int64, n), make([]int64, n), make([]int64, n)
		catCounts                 = make([]int64, n)
		metas                     = make([][]byte, n)
		cats                      = make([][]string, n)
		vectors                   = make([][]float32, n)
	)
	for i := range ms {
		m := &ms[i]
		if err := s.check(m); err != nil {
			return nil, err
		}
		ids[i], texts[i], hashes[i] = m.ID, m.Text, m.Hash
		users[i], agents[i], runs[i], apps[i] = m.UserID, m.AgentID, m.RunID, m.AppID
		created[i], updated[i] = storedTime(m.CreatedAt, unsetTime), storedTime(m.UpdatedAt, unsetTime)
		expires[i] = storedTime(m.ExpiresAt, neverTime)
		meta := m.Metadata
		if meta == nil {
			meta = map[string]any{}
		}
		js, err := json.Marshal(meta)
		if err != nil {
			return nil, fmt.Errorf("milvus store: memory %s: encoding metadata: %w", m.ID, err)
		}
		metas[i] = js
		cats[i], catCounts[i] = m.Categories, int64(len(m.Categories))
		if cats[i] == nil {
			cats[i] = []string{}
		}
		vectors[i] = m.Vector
	}
	return []column.Column{
		column.NewColumnVarChar(fieldID, ids),
		column.NewColumnFloatVector(fieldVector, s.cfg.Dims, vectors),
		column.NewColumnVarChar(fieldText, texts),
		column.NewColumnVarChar(fieldHash, hashes),
		column.NewColumnVarChar(fieldUserID, users),
		column.NewColumnVarChar(fieldAgentID, agents),
		column.NewColumnVarChar(fieldRunID, runs),
		column.NewColumnVarChar(fieldAppID, apps),
		column.NewColumnInt64(fieldCreatedAt, created),
		column.NewColumnInt64(fieldUpdatedAt, updated),
		column.NewColumnInt64(fieldExpiresAt, expires),
		column.NewColumnJSONBytes(fieldMetadata, metas),
		column.NewColumnVarCharArray(fieldCategories, cats),
		column.NewColumnInt64(fieldCategoryCount, catCounts),
	}, nil
}

func storedTime(t time.Time, unset int64) int64 {
	if t.IsZero() {
		return unset
	}
	return t.UnixNano()
}

func (s *Store) check(m *memory.Memory) error {
	if m.ID == "" {
		return errors.New("milvus store: memory has no id")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("milvus store: memory %s: %s", m.ID, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"id", m.ID, maxIDBytes}, {"text", m.Text, maxTextBytes}, {"hash", m.Hash, maxHashBytes},
		{"user_id", m.UserID, maxScopeBytes}, {"agent_id", m.AgentID, maxScopeBytes},
		{"run_id", m.RunID, maxScopeBytes}, {"app_id", m.AppID, maxScopeBytes},
	} {
		if len(f.value) > f.max {
			return fail("%s is %d bytes, the Milvus store keeps at most %d", f.name, len(f.value), f.max)
		}
		if !quotable(f.value) {
			return fail("%s is not valid UTF-8 text (or holds NUL)", f.name)
		}
	}
	if len(m.Categories) > maxCategories {
		return fail("%d categories, the Milvus store keeps at most %d", len(m.Categories), maxCategories)
	}
	for _, c := range m.Categories {
		if len(c) > maxCategoryBytes || !quotable(c) {
			return fail("category %q is not UTF-8 text of at most %d bytes", c, maxCategoryBytes)
		}
	}
	for name, t := range map[string]time.Time{"created_at": m.CreatedAt, "updated_at": m.UpdatedAt, "expires_at": m.ExpiresAt} {
		if !t.IsZero() && !representable(t) {
			return fail("%s %v is outside the years 1678 to 2262 the Milvus store can keep", name, t)
		}
	}
	if len(m.Vector) != s.cfg.Dims {
		return fail("vector of %d dimensions, want %d", len(m.Vector), s.cfg.Dims)
	}
	for _, x := range m.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fail("non-finite vector component")
		}
	}
	return nil
}

// memories decodes the rows of a result set.
func (s *Store) memories(rs milvusclient.ResultSet) ([]memory.Memory, error) {
	n := rs.ResultCount
	if n == 0 {
		return nil, nil
	}
	str := func(name string) ([]string, error) { return stringColumn(rs, name) }
	ids, err := str(fieldID)
	if err != nil {
		return nil, err
	}
	var cols [6][]string
	for i, name := range []string{fieldText, fieldHash, fieldUserID, fieldAgentID, fieldRunID, fieldAppID} {
		if cols[i], err = str(name); err != nil {
			return nil, err
		}
	}
	var times [3][]int64
	for i, name := range []string{fieldCreatedAt, fieldUpdatedAt, fieldExpiresAt} {
		if times[i], err = int64Column(rs, name); err != nil {
			return nil, err
		}
	}
	metas, err := jsonColumn(rs, fieldMetadata)
	if err != nil {
		return nil, err
	}
	catCol, ok := rs.GetColumn(fieldCategories).(*column.ColumnVarCharArray)
	if !ok {
		return nil, errors.New("milvus store: the answer lacks the categories")
	}
	var vectors []entity.FloatVector
	if v := rs.GetColumn(fieldVector); v != nil {
		fv, ok := v.(*column.ColumnFloatVector)
		if !ok {
			return nil, fmt.Errorf("milvus store: vector column is %T", v)
		}
		vectors = fv.Data()
	}
	out := make([]memory.Memory, n)
	for i := range n {
		m := memory.Memory{
			ID: ids[i], Text: cols[0][i], Hash: cols[1][i],
			UserID: cols[2][i], AgentID: cols[3][i], RunID: cols[4][i], AppID: cols[5][i],
			CreatedAt: loadedTime(times[0][i], unsetTime), UpdatedAt: loadedTime(times[1][i], unsetTime),
			ExpiresAt: loadedTime(times[2][i], neverTime),
		}
		if err := json.Unmarshal(metas[i], &m.Metadata); err != nil {
			return nil, fmt.Errorf("milvus store: memory %s: decoding metadata: %w", m.ID, err)
		}
		if len(m.Metadata) == 0 {
			m.Metadata = nil
		}
		cats, err := catCol.Value(i)
		if err != nil {
			return nil, fmt.Errorf("milvus store: memory %s: categories: %w", m.ID, err)
		}
		if len(cats) > 0 {
			m.Categories = cats
		}
		if vectors != nil {
			m.Vector = []float32(vectors[i])
		}
		out[i] = m
	}
	return out, nil
}

func loadedTime(n, unset int64) time.Time {
	if n == unset {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func stringColumn(rs milvusclient.ResultSet, name string) ([]string, error) {
	c, ok := rs.GetColumn(name).(*column.ColumnVarChar)
	if !ok || c.Len() != rs.ResultCount {
		return nil, fmt.Errorf("milvus store: the answer lacks %s", name)
	}
	return c.Data(), nil
}

func int64Column(rs milvusclient.ResultSet, name string) ([]int64, error) {
	c, ok := rs.GetColumn(name).(*column.ColumnInt64)
	if !ok || c.Len() != rs.ResultCount {
		return nil, fmt.Errorf("milvus store: the answer lacks %s", name)
	}
	return c.Data(), nil
}

func jsonColumn(rs milvusclient.ResultSet, name string) ([][]byte, error) {
	c, ok := rs.GetColumn(name).(*column.ColumnJSONBytes)
	if !ok || c.Len() != rs.ResultCount {
		return nil, fmt.Errorf("milvus store: the answer lacks %s", name)
	}
	return c.Data(), nil
}
