package memory

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// A Store keeps memories and finds them by vector similarity within a
// filter. Implementations: the embedded store (package memory/embedded) and
// the Milvus store. All pass the conformance suite in memory/storetest.
//
// Expired memories are invisible to Get, Search, List and Count. Scan
// sees them: it walks what is stored, and an expired memory is stored
// until deleted.
type Store interface {
	// Add inserts new memories. Their IDs, Hash, timestamps and Vector
	// (of the store's dimension) are set by the caller. If an id exists,
	// Add writes nothing and returns an error wrapping ErrExists.
	Add(ctx context.Context, ms ...Memory) error
	// Update replaces the memory with m.ID; ErrNotFound if there is none.
	Update(ctx context.Context, m Memory) error
	// Delete removes the memories with the given ids; unknown ids are ignored.
	Delete(ctx context.Context, ids ...string) error
	// Get returns one memory, with its vector.
	Get(ctx context.Context, id string) (Memory, error)
	// Search returns up to s.TopK memories matching s.Filter, most
	// relevant first. Without s.Text they are ranked by similarity to
	// s.Vector, each with Score (the similarity) at least s.MinScore. With
	// s.Text two rankings are fused (see Fuse): by similarity, of the
	// memories with similarity at least s.MinScore, and by BM25 on s.Text,
	// of the memories that share a term with it; Score is then the fused
	// score.
	Search(ctx context.Context, s SearchRequest) ([]Hit, error)
	// List returns memories matching filter, newest first, for a page.
	List(ctx context.Context, filter Filter, page Page) ([]Memory, error)
	// Scan returns up to limit (at least 1) memories matching filter
	// whose ids sort after after, byte by byte ("" starts at the first),
	// in that order and without their vectors, reading every write that
	// returned before the call; fewer than limit means there are no more.
	// Expired memories are included: deletion must find them, since
	// invisible is not gone.
	// Passing the last id of one page as after for the next walks every
	// matching memory in one pass however many there are, where List's
	// offsets cost more the deeper they go (Milvus orders queries by
	// primary key only). Deletes by filter and the entity listing walk
	// memories this way.
	Scan(ctx context.Context, filter Filter, after string, limit int) ([]Memory, error)
	// Count returns how many memories match filter.
	Count(ctx context.Context, filter Filter) (int, error)

	// AddHistory records changes. A record with the id of an existing one
	// replaces it, so that replaying a write records it once.
	AddHistory(ctx context.Context, rs ...HistoryRecord) error
	// History returns the records of one memory, oldest first.
	History(ctx context.Context, memoryID string) ([]HistoryRecord, error)
	// DeleteHistory removes every record of the given memories: deleted
	// means gone, history included.
	DeleteHistory(ctx context.Context, memoryIDs ...string) error
	// Close releases the store.
	Close() error
}

// A SearchRequest asks a Store for the memories most relevant to a query:
// nearest to its Vector and, when Text is set, best matching its words.
type SearchRequest struct {
	Vector []float32
	// Text is the query's text, for lexical (BM25) retrieval fused with
	// the vector ranking. "" ranks by the vector alone.
	Text string
	// DenseWeight is the weight of the vector ranking in the fusion,
	// BM25's being 1 (see FuseWeighted); 0 means 1. The retriever sets
	// it from the embedder (DenseWeight).
	DenseWeight float64
	Filter      Filter
	TopK        int
	MinScore    float64
	// Fresh asks for read-your-writes consistency: the result reflects
	// every write that returned before the call. The chat path leaves it
	// false; the memory API sets it.
	Fresh bool
}

// A Page selects a window of a listing.
type Page struct {
	Offset int
	Limit  int // 0: no limit
	Fresh  bool
	// Vectors asks for each memory's vector too (the persona cache ranks
	// by it); a listing leaves them out otherwise.
	Vectors bool
}

// A HistoryRecord is one change to a memory.
type HistoryRecord struct {
	ID        string
	MemoryID  string
	Event     string // EventAdd, EventUpdate or EventDelete
	OldText   string
	NewText   string
	UserID    string // the memory's scope, so a user's history can be found
	AgentID   string
	RunID     string
	AppID     string
	RequestID string // the turn or API request that made the change
	// ActorID is the user whose chat turn made the change, when it came
	// from chat: for a persona, which every user shares, the scope does
	// not say who. Stored only when set, so records written before it
	// existed read the same.
	ActorID   string `json:",omitempty"`
	CreatedAt time.Time
}

// SortHistory puts records in the order History returns them: oldest
// first, ties broken by id.
func SortHistory(rs []HistoryRecord) {
	slices.SortStableFunc(rs, func(a, b HistoryRecord) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
