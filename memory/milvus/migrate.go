package milvus

import (
	"context"
	"fmt"
	"slices"

	"github.com/milvus-io/milvus/client/v2/entity"

	"github.com/memproxy/memproxy/memory"
)

// CopyTo copies every memory stored in s (expired ones too, until they are
// deleted), with its vector and its history, into dst, and returns how
// many it copied. Memories dst already has are left as they are, so a copy
// that stopped can be run again. It is the migration of a collection
// created before full-text search: open s on the old collection and dst on
// a new one, which the server's BM25 function indexes as the memories
// arrive. Both stores must hold vectors of the same embedder. Writes to s
// during the copy may be missed: stop the sidecars first.
func (s *Store) CopyTo(ctx context.Context, dst *Store) (int, error) {
	if s.cfg.Dims != dst.cfg.Dims || s.cfg.Space != dst.cfg.Space {
		return 0, fmt.Errorf("milvus store: copying %s (%s, %d dimensions) to %s (%s, %d): the embedders differ",
			s.cfg.Collection, s.cfg.Space, s.cfg.Dims, dst.cfg.Collection, dst.cfg.Space, dst.cfg.Dims)
	}
	c, err := s.client()
	if err != nil {
		return 0, err
	}
	dc, err := dst.client()
	if err != nil {
		return 0, err
	}
	copied := 0
	after := ""
	for {
		rs, ids, err := s.page(ctx, c, "", after, s.pages.full, append(outputFields(), fieldVector), entity.ClStrong)
		if err != nil {
			return copied, err
		}
		ms, err := s.memories(rs)
		if err != nil {
			return copied, err
		}
		have, err := dst.existing(ctx, dc, ids)
		if err != nil {
			return copied, fmt.Errorf("milvus store: copying to %s: %w", dst.cfg.Collection, err)
		}
		ms = slices.DeleteFunc(ms, func(m memory.Memory) bool { return slices.Contains(have, m.ID) })
		for _, m := range ms {
			// History first: a memory in dst has its history.
			hs, err := s.History(ctx, m.ID)
			if err != nil {
				return copied, err
			}
			if err := dst.AddHistory(ctx, hs...); err != nil {
				return copied, err
			}
		}
		if err := dst.Add(ctx, ms...); err != nil {
			return copied, err
		}
		copied += len(ms)
		if len(ids) < s.pages.full {
			return copied, nil
		}
		after = ids[len(ids)-1]
	}
}
