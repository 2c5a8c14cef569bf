// Package storetest is the conformance suite every memory.Store passes:
// the embedded store in its tests, the Milvus store against a real server.
// It checks stores against the reference semantics of memory.Filter.Match,
// so that the two stores answer every query the same way.
package storetest

import (
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// Dims is the vector dimension the suite uses.
const Dims = 16

// Opener returns a new, empty store for vectors of Dims dimensions, and
// arranges its cleanup.
type Opener func(t *testing.T) memory.Store

// Options tune the suite for slower stores.
type Options struct {
	// HostileIDs is how many random hostile ids the isolation test tries
	// (1,000 by default).
	HostileIDs int
	// DenseOnly says the store ranks by vector only, even given text (a
	// Milvus server without full-text search): a search with text must
	// then answer as one without.
	DenseOnly bool
}

// Run runs the whole suite.
func Run(t *testing.T, open Opener, opts Options) {
	if opts.HostileIDs == 0 {
		opts.HostileIDs = 1000
	}
	t.Run("CRUD", func(t *testing.T) { testCRUD(t, open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t)) })
	t.Run("SearchOrderAndLimits", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("Hybrid", func(t *testing.T) { testHybrid(t, open(t), opts) })
	t.Run("ScopeIsolation", func(t *testing.T) { testIsolation(t, open(t)) })
	t.Run("HostileIDs", func(t *testing.T) { testHostileIDs(t, open(t), opts.HostileIDs) })
	t.Run("Metadata", func(t *testing.T) { testMetadata(t, open(t)) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, open(t)) })
	t.Run("ListPages", func(t *testing.T) { testPages(t, open(t)) })
	t.Run("Scan", func(t *testing.T) { testScan(t, open(t)) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("History", func(t *testing.T) { testHistory(t, open(t)) })
	t.Run("RecallOneSearch", func(t *testing.T) { testRecallOneSearch(t, open(t)) })
}
