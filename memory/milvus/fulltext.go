package milvus

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/memory/lexical"
)

// Full-text search: where the server has it (Milvus 2.5 and later, Milvus
// Lite 3), the memory text is analysed by the server, a BM25 function
// fills a sparse field from it, and a search with text fuses the dense and
// BM25 rankings in one HybridSearch call (hybrid.go).
const (
	// fieldSparse holds the BM25 terms of fieldText; the server fills it.
	fieldSparse = "memory_bm25"
	// bm25Function is the name of the function that fills fieldSparse.
	bm25Function = "memory_bm25"
)

// analyzerParams analyse the text as lexical.Terms does, as far as
// Milvus' analyzer allows: the standard tokenizer (Unicode words), lower
// case, lexical's English stop words, and the Snowball English stemmer.
//
// Differences from lexical.Terms, all of which only change which terms
// two texts share: Milvus lower-cases rather than case-folds and does not
// apply NFKC; it splits Chinese, Japanese and Korean text into single
// characters rather than pairs. Milvus Lite 3.2.2 accepts these
// parameters but applies only the stop filter: its tokenizer is the regular
// expression \w+ over the lower-cased text ("don't" gives "don" and "t"),
// and it ignores the stemmer ("running" and "run" are different terms).
func analyzerParams() map[string]any {
	return map[string]any{
		"tokenizer": "standard",
		"filter": []any{
			"lowercase",
			map[string]any{"type": "stop", "stop_words": lexical.StopWords()},
			map[string]any{"type": "stemmer", "language": "english"},
		},
	}
}

// bm25Index is the index of fieldSparse, with lexical's BM25 parameters
// (Milvus Lite's own default k1 is 1.5).
func bm25Index() index.Index {
	return index.NewGenericIndex(fieldSparse, map[string]string{
		index.IndexTypeKey:  "SPARSE_INVERTED_INDEX",
		index.MetricTypeKey: string(entity.BM25),
		"bm25_k1":           strconv.FormatFloat(lexical.K1, 'f', -1, 64),
		"bm25_b":            strconv.FormatFloat(lexical.B, 'f', -1, 64),
	})
}

// withFullText adds the analyzer, the sparse field and the BM25 function
// to a memory schema.
func withFullText(s *entity.Schema) *entity.Schema {
	for _, f := range s.Fields {
		if f.Name == fieldText {
			f.WithEnableAnalyzer(true).WithAnalyzerParams(analyzerParams())
		}
	}
	return s.WithField(entity.NewField().WithName(fieldSparse).WithDataType(entity.FieldTypeSparseVector)).
		WithFunction(entity.NewFunction().WithName(bm25Function).WithType(entity.FunctionTypeBM25).
			WithInputFields(fieldText).WithOutputFields(fieldSparse))
}

var versionNumber = regexp.MustCompile(`(\d+)\.(\d+)`)

// fullTextVersion reports whether a server of version v (as GetVersion
// says it: "v2.5.4", "v2.3.5-lite", "milvus_lite-3.2.2") has full-text
// search: Milvus 2.5 and later, Milvus Lite 3. The version is checked
// before any schema is sent, because Milvus 2.3 accepts a collection with
// a sparse field it does not know, and then crashes loading it.
func fullTextVersion(v string) bool {
	m := versionNumber.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major > 2 || (major == 2 && minor >= 5)
}

// rangeInHybrid reports whether a server of version v applies the radius
// of a hybrid search's requests. Milvus Lite 3.2.2 does not: its
// HybridSearch passes each request's vector, filter and limit on, but not
// its radius (a plain Search does apply it).
func rangeInHybrid(v string) bool {
	return !strings.HasPrefix(v, "milvus_lite")
}

// MigrationDoc is where the migration of a collection to full-text search
// is described.
const MigrationDoc = "README.md, section \"Milvus: moving a collection to hybrid search\""

// planMemories decides the memory collection's schema: with full-text
// search when the server has it and the collection is new or has the
// sparse field; without it otherwise. denseOnly says why searches will use
// vectors only, or is nil.
func (s *Store) planMemories(ctx context.Context, c client, version string) (want *entity.Schema, denseOnly error, err error) {
	dense := memorySchema(s.cfg.Collection, s.cfg.Dims)
	has, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(s.cfg.Collection))
	if err != nil {
		return nil, nil, fmt.Errorf("looking for collection %s: %w", s.cfg.Collection, err)
	}
	sparse := false
	if has {
		coll, err := c.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(s.cfg.Collection))
		if err != nil {
			return nil, nil, fmt.Errorf("describing collection %s: %w", s.cfg.Collection, err)
		}
		for _, f := range coll.Schema.Fields {
			sparse = sparse || f.Name == fieldSparse
		}
	}
	switch {
	case !fullTextVersion(version):
		if sparse {
			return nil, nil, fmt.Errorf("%w: collection %s has a BM25 field, but Milvus %s has no full-text search", ErrSchemaMismatch, s.cfg.Collection, version)
		}
		return dense, fmt.Errorf("the server (version %s) has no full-text search (BM25 needs Milvus 2.5 or later): searches rank by vector only", version), nil
	case has && !sparse:
		return dense, fmt.Errorf("collection %s was created without a BM25 field: searches rank by vector only until it is migrated (see %s)", s.cfg.Collection, MigrationDoc), nil
	}
	return withFullText(dense), nil, nil
}

// FullText reports whether searches with text are hybrid: nil, or why
// they rank by vector only (the server has no full-text search, or the
// collection predates it). It is known once the store has connected.
func (s *Store) FullText() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.connected {
		return fmt.Errorf("not known until %s is reached", s.cfg.Address)
	}
	return s.denseOnly
}

// ReadyDetails are facts about the store for /readyz that do not make it
// unready: how searches with text rank.
func (s *Store) ReadyDetails() map[string]string {
	s.mu.RLock()
	connected := s.connected
	s.mu.RUnlock()
	if !connected {
		return map[string]string{"retrieval": "not known until " + s.cfg.Address + " is reached"}
	}
	if err := s.FullText(); err != nil {
		return map[string]string{"retrieval": "dense only: " + err.Error()}
	}
	return map[string]string{"retrieval": "hybrid (dense + BM25, fused by RRF)"}
}
