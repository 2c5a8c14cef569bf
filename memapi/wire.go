package memapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// This file holds the Mem0 platform's wire format of answers, as the
// mem0ai SDKs read them, and their conversion from package memory; the
// requests are in requests.go.

// Defaults and bounds of the memory API.
const (
	// defaultTopK is the platform's top_k.
	defaultTopK = 10
	maxTopK     = 1000
	// defaultThreshold: the platform's v2 default (0.3) would hide most
	// relevant memories under the built-in lexical embedder, whose scores
	// run lower than a semantic model's. The filters already scope a
	// search; a client that wants a floor sends threshold.
	defaultThreshold = 0.0
	defaultPageSize  = 100
	maxPageSize      = 1000
	maxBatch         = 1000
)

// timeLayout is how times are written: ISO 8601 with microseconds and a
// numeric zone, which every Python's datetime.fromisoformat reads.
const timeLayout = "2006-01-02T15:04:05.000000-07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// memoryJSON is a memory as the platform returns it. Ids a memory does
// not have are null.
type memoryJSON struct {
	ID             string         `json:"id"`
	Memory         string         `json:"memory"`
	UserID         *string        `json:"user_id"`
	AgentID        *string        `json:"agent_id"`
	AppID          *string        `json:"app_id"`
	RunID          *string        `json:"run_id"`
	Hash           string         `json:"hash"`
	Metadata       map[string]any `json:"metadata"`
	Categories     []string       `json:"categories"`
	CreatedAt      string         `json:"created_at"`
	UpdatedAt      string         `json:"updated_at"`
	ExpirationDate *string        `json:"expiration_date"`
	Immutable      bool           `json:"immutable"`
	Score          *float64       `json:"score,omitempty"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toMemoryJSON(m memory.Memory) memoryJSON {
	out := memoryJSON{
		ID: m.ID, Memory: m.Text, UserID: nullable(m.UserID), AgentID: nullable(m.AgentID),
		AppID: nullable(m.AppID), RunID: nullable(m.RunID), Hash: m.Hash, Metadata: m.Metadata,
		Categories: m.Categories, CreatedAt: formatTime(m.CreatedAt), UpdatedAt: formatTime(m.UpdatedAt),
	}
	if out.Categories == nil {
		out.Categories = []string{}
	}
	if !m.ExpiresAt.IsZero() {
		d := m.ExpiresAt.UTC().Format(time.DateOnly)
		out.ExpirationDate = &d
	}
	return out
}

func toHitJSON(h memory.Hit) memoryJSON {
	out := toMemoryJSON(h.Memory)
	score := math.Round(h.Score*1e6) / 1e6
	out.Score = &score
	return out
}

type addResult struct {
	ID     string         `json:"id"`
	Memory string         `json:"memory"`
	Event  string         `json:"event"`
	Data   map[string]any `json:"data"`
}

// pageJSON is a page of a listing, as the platform paginates.
type pageJSON[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

func newPage[T any](path string, page, size, total int, results []T) pageJSON[T] {
	link := func(p int) *string {
		s := fmt.Sprintf("%s?page=%d&page_size=%d", path, p, size)
		return &s
	}
	out := pageJSON[T]{Count: total, Results: results}
	if page*size < total {
		out.Next = link(page + 1)
	}
	if page > 1 {
		out.Previous = link(page - 1)
	}
	return out
}

// historyJSON is one change of a memory, as the platform reports it.
type historyJSON struct {
	ID        string  `json:"id"`
	MemoryID  string  `json:"memory_id"`
	OldMemory *string `json:"old_memory"`
	NewMemory *string `json:"new_memory"`
	Event     string  `json:"event"`
	UserID    *string `json:"user_id"`
	AgentID   *string `json:"agent_id"`
	AppID     *string `json:"app_id"`
	RunID     *string `json:"run_id"`
	RequestID *string `json:"request_id"`
	// ActorID is the user whose chat turn made the change (as Mem0's own
	// history names it); null for changes through this API.
	ActorID   *string `json:"actor_id"`
	Input     []any   `json:"input"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

func toHistoryJSON(r memory.HistoryRecord) historyJSON {
	return historyJSON{
		ID: r.ID, MemoryID: r.MemoryID, OldMemory: nullable(r.OldText), NewMemory: nullable(r.NewText),
		Event: r.Event, UserID: nullable(r.UserID), AgentID: nullable(r.AgentID), AppID: nullable(r.AppID),
		RunID: nullable(r.RunID), RequestID: nullable(r.RequestID), ActorID: nullable(r.ActorID), Input: []any{},
		CreatedAt: formatTime(r.CreatedAt), UpdatedAt: formatTime(r.CreatedAt),
	}
}

// entityJSON is a user, agent, app or run, as GET /v1/entities/ lists it.
type entityJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Type          string         `json:"type"`
	TotalMemories int            `json:"total_memories"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	Owner         string         `json:"owner"`
	Organization  string         `json:"organization"`
	Metadata      map[string]any `json:"metadata"`
}

func toEntityJSON(e memory.Entity) entityJSON {
	return entityJSON{
		ID: entityID(e.Kind, e.Name), Name: e.Name, Type: e.Kind, TotalMemories: e.Memories,
		CreatedAt: formatTime(e.CreatedAt), UpdatedAt: formatTime(e.UpdatedAt),
		Owner: pingOrg, Organization: pingOrg, Metadata: map[string]any{},
	}
}

// entityID is a stable UUID-shaped id for an entity: the platform gives
// entities ids; memproxy's entities are their kind and name.
func entityID(kind, name string) string {
	sum := sha256.Sum256([]byte("memproxy-entity\x00" + kind + "\x00" + name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// messageJSON is the platform's answer to a delete or a batch.
type messageJSON struct {
	Message string `json:"message"`
	Count   *int   `json:"count,omitempty"`
}

// addEventJSON is a completed add, as GET /v1/event/{id}/ reports it.
type addEventJSON struct {
	ID        string      `json:"id"`
	EventType string      `json:"event_type"`
	Status    string      `json:"status"`
	Results   []addResult `json:"results"`
	CreatedAt string      `json:"created_at"`
	UpdatedAt string      `json:"updated_at"`
}
