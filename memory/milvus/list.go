package milvus

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory"
)

// Listings read memories a page at a time, in the order of their ids.
// Milvus answers a query with a limit with the rows of the smallest
// primary keys, in order, when asked the way its query iterators ask (the
// "iterator" parameter; without it Milvus Lite returns any rows), so that
// `id > last` goes on where a page ended: no listing is bounded by the
// most rows one query returns (offset+limit at most 16,384), and a
// listing holds no more than it returns. Each page is checked to be in
// order; one that is not is an error rather than a listing with holes.
type pageSizes struct {
	first int // the first page of a listing, of memories: most scopes fit
	full  int // a page of memories
	ids   int // a page of ids and creation times
}

var defaultPages = pageSizes{first: 256, full: 1024, ids: 4096}

// iterating asks Milvus for the rows of a query in primary key order.
type iterating struct{ milvusclient.QueryOption }

func (o iterating) Request() (*milvuspb.QueryRequest, error) {
	r, err := o.QueryOption.Request()
	if err != nil {
		return nil, err
	}
	r.QueryParams = append(r.QueryParams, &commonpb.KeyValuePair{Key: milvusclient.IteratorKey, Value: "true"})
	return r, nil
}

// page returns up to limit rows matching expr with ids after after, in id
// order, with fields (the id among them), and their ids.
func (s *Store) page(ctx context.Context, c client, expr, after string, limit int, fields []string, cl entity.ConsistencyLevel) (milvusclient.ResultSet, []string, error) {
	if after != "" {
		expr = and(exprBound(expr), native(fieldID+" > "+quote(after))).expr
	}
	rs, err := c.Query(ctx, iterating{milvusclient.NewQueryOption(s.cfg.Collection).WithFilter(expr).
		WithOutputFields(fields...).WithLimit(limit).WithConsistencyLevel(cl)})
	if err != nil {
		return rs, nil, s.failed(ctx, "listing", err)
	}
	if rs.ResultCount > limit {
		rs = rs.Slice(0, limit)
	}
	ids, err := stringColumn(rs, fieldID)
	if err != nil {
		return rs, nil, err
	}
	prev := after
	for i, id := range ids {
		if (i > 0 || after != "") && id <= prev {
			return rs, nil, fmt.Errorf("milvus store: listing: Milvus returned the rows of a page out of primary key order (%q after %q); cannot page through them", id, prev)
		}
		prev = id
	}
	return rs, ids, nil
}

// each calls fn with every memory matching f, in id order, a page at a
// time, until fn returns false.
func (s *Store) each(ctx context.Context, c client, f memory.Filter, p plan, expr, after string, fields []string, cl entity.ConsistencyLevel, fn func(memory.Memory) bool) error {
	for {
		rs, ids, err := s.page(ctx, c, expr, after, s.pages.full, fields, cl)
		if err != nil {
			return err
		}
		ms, err := s.memories(rs)
		if err != nil {
			return err
		}
		for i := range ms {
			if (p.exact || f.Match(&ms[i])) && !fn(ms[i]) {
				return nil
			}
		}
		if len(ids) < s.pages.full {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// Scan returns up to limit memories matching f with ids after after, in
// id order, expired ones included.
func (s *Store) Scan(ctx context.Context, f memory.Filter, after string, limit int) ([]memory.Memory, error) {
	if limit < 1 {
		return nil, fmt.Errorf("milvus store: scan limit %d, want at least 1", limit)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("milvus store: filter: %w", err)
	}
	if !quotable(after) {
		return nil, fmt.Errorf("milvus store: scanning after %q: not an id the store can hold (valid UTF-8 without NUL)", after)
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	expr, p, possible := queryStored(f)
	if !possible {
		return nil, nil
	}
	if p.exact {
		// One page of exactly what was asked for.
		var out []memory.Memory
		for len(out) < limit {
			n := min(limit-len(out), s.pages.full)
			rs, ids, err := s.page(ctx, c, expr, after, n, outputFields(), entity.ClStrong)
			if err != nil {
				return nil, err
			}
			ms, err := s.memories(rs)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
			if len(ids) < n {
				break
			}
			after = ids[len(ids)-1]
		}
		return out, nil
	}
	var out []memory.Memory
	err = s.each(ctx, c, f, p, expr, after, outputFields(), entity.ClStrong, func(m memory.Memory) bool {
		out = append(out, m)
		return len(out) < limit
	})
	return out, err
}

// List returns the memories matching f, newest first (ties by id), for a
// page. Milvus does not order queries by anything but the primary key, so
// the order is made here; see newest for how a page with a limit avoids
// reading every match.
func (s *Store) List(ctx context.Context, f memory.Filter, page memory.Page) ([]memory.Memory, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("milvus store: filter: %w", err)
	}
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	expr, p, possible := query(f, time.Now())
	if !possible {
		return nil, nil
	}
	offset, cl := max(page.Offset, 0), level(page.Fresh)
	fields := outputFields()
	if page.Vectors {
		fields = append(fields, fieldVector)
	}
	if page.Limit > 0 {
		ms, err := s.newest(ctx, c, f, p, expr, offset+page.Limit, offset, fields, cl)
		if err != nil {
			return nil, err
		}
		return ms[min(offset, len(ms)):], nil
	}
	var ms []memory.Memory
	if err := s.each(ctx, c, f, p, expr, "", fields, cl, func(m memory.Memory) bool {
		ms = append(ms, m)
		return true
	}); err != nil {
		return nil, err
	}
	slices.SortFunc(ms, compareNewest)
	return ms[min(offset, len(ms)):], nil
}

// compareNewest orders memories as listings do: newer first, then by id.
func compareNewest(a, b memory.Memory) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// newest returns the need newest memories matching f (all of them, if
// fewer), newest first; those from the skip-th on complete, the others
// perhaps with their id and creation time only.
//
// It reads the matches in id order, keeping the need newest seen so far.
// The first page, of whole memories, is the whole listing for most scopes.
// After it, pages of an exact filter hold ids and times only, and once
// need memories are kept, a page asks only for memories newer than the
// oldest of them: ids are random (UUIDs, or hashes for the
// writer's), so that bound soon passes few memories, and the 10 newest of
// 100,000 cost a few thousand ids and times rather than 100,000 memories.
// The memories returned without their fields are then read by id.
// (Were ids ordered by time, oldest first, the bound would pass every
// memory until the last page: one pass over ids and times, no worse than
// sorting everything.)
func (s *Store) newest(ctx context.Context, c client, f memory.Filter, p plan, expr string, need, skip int, whole []string, cl entity.ConsistencyLevel) ([]memory.Memory, error) {
	kept := &oldestFirst{}
	after, bound := "", ""
	for first := true; ; first = false {
		fields, limit := whole, s.pages.full
		switch {
		case first:
			limit = min(max(need, s.pages.first), s.pages.full)
		case p.exact:
			fields, limit = []string{fieldID, fieldCreatedAt}, s.pages.ids
		}
		e := expr
		if bound != "" {
			e = and(exprBound(expr), native(bound)).expr
		}
		rs, ids, err := s.page(ctx, c, e, after, limit, fields, cl)
		if err != nil {
			return nil, err
		}
		var ms []memory.Memory
		whole := len(fields) > 2
		if whole {
			ms, err = s.memories(rs)
		} else {
			ms, err = idsAndTimes(rs, ids)
		}
		if err != nil {
			return nil, err
		}
		for i := range ms {
			if !p.exact && !f.Match(&ms[i]) {
				continue
			}
			switch {
			case kept.Len() < need:
				heap.Push(kept, keptMemory{ms[i], whole})
			case compareNewest(ms[i], (*kept)[0].Memory) < 0:
				(*kept)[0] = keptMemory{ms[i], whole}
				heap.Fix(kept, 0)
			}
		}
		if len(ids) < limit {
			break
		}
		after = ids[len(ids)-1]
		// Later pages hold larger ids than every kept memory: one as old
		// as the last kept comes after it, so only newer ones can enter.
		if kept.Len() == need {
			if t := (*kept)[0].CreatedAt; !t.IsZero() {
				bound = fieldCreatedAt + " > " + strconv.FormatInt(t.UnixNano(), 10)
			}
		}
	}
	out := make([]keptMemory, kept.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(kept).(keptMemory)
	}
	return s.complete(ctx, c, expr, out, skip, whole, cl)
}

// complete returns the memories of kept, reading those from the skip-th
// on that were listed without their fields. One deleted meanwhile is left
// out.
func (s *Store) complete(ctx context.Context, c client, expr string, kept []keptMemory, skip int, fields []string, cl entity.ConsistencyLevel) ([]memory.Memory, error) {
	var ids []string
	for _, k := range kept[min(skip, len(kept)):] {
		if !k.whole {
			ids = append(ids, k.ID)
		}
	}
	read := map[string]memory.Memory{}
	for chunk := range slices.Chunk(ids, 512) {
		in, _ := idsIn(fieldID, chunk)
		rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.cfg.Collection).WithFilter(and(exprBound(expr), native(in)).expr).
			WithOutputFields(fields...).WithLimit(len(chunk)).WithConsistencyLevel(cl))
		if err != nil {
			return nil, s.failed(ctx, "listing", err)
		}
		ms, err := s.memories(rs)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			read[m.ID] = m
		}
	}
	out := make([]memory.Memory, 0, len(kept))
	for i, k := range kept {
		if i >= skip && !k.whole {
			m, ok := read[k.ID]
			if !ok {
				continue
			}
			k.Memory = m
		}
		out = append(out, k.Memory)
	}
	return out, nil
}

// idsAndTimes decodes a page of ids and creation times.
func idsAndTimes(rs milvusclient.ResultSet, ids []string) ([]memory.Memory, error) {
	created, err := int64Column(rs, fieldCreatedAt)
	if err != nil {
		return nil, err
	}
	ms := make([]memory.Memory, len(ids))
	for i, id := range ids {
		ms[i] = memory.Memory{ID: id, CreatedAt: loadedTime(created[i], unsetTime)}
	}
	return ms, nil
}

// A keptMemory is a memory a listing keeps; whole if read with every
// field.
type keptMemory struct {
	memory.Memory
	whole bool
}

// oldestFirst is a heap of kept memories, the last in listing order on
// top.
type oldestFirst []keptMemory

func (h oldestFirst) Len() int           { return len(h) }
func (h oldestFirst) Less(i, j int) bool { return compareNewest(h[i].Memory, h[j].Memory) > 0 }
func (h oldestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *oldestFirst) Push(x any)        { *h = append(*h, x.(keptMemory)) }
func (h *oldestFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Count returns how many memories match f: natively when the filter is
// exact, by checking every candidate otherwise.
func (s *Store) Count(ctx context.Context, f memory.Filter) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, fmt.Errorf("milvus store: filter: %w", err)
	}
	c, err := s.client()
	if err != nil {
		return 0, err
	}
	expr, p, possible := query(f, time.Now())
	if !possible {
		return 0, nil
	}
	if !p.exact {
		n := 0
		err := s.each(ctx, c, f, p, expr, "", outputFields(), entity.ClStrong, func(memory.Memory) bool {
			n++
			return true
		})
		return n, err
	}
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(s.cfg.Collection).WithFilter(expr).
		WithOutputFields("count(*)").WithConsistencyLevel(entity.ClStrong))
	if err != nil {
		return 0, s.failed(ctx, "counting", err)
	}
	col := rs.GetColumn("count(*)")
	if col == nil || col.Len() != 1 {
		return 0, errors.New("milvus store: counting: no count in the answer")
	}
	n, err := col.GetAsInt64(0)
	if err != nil {
		return 0, fmt.Errorf("milvus store: counting: %w", err)
	}
	return int(n), nil
}
