// Package memory owns what memproxy remembers and how it is found again:
// the Memory model, Filter, the Store interface, retrieval of the three
// layers (persona, user, relationship) for a request, and the management
// of stored memories and their history. It knows nothing about HTTP.
//
// The embedders are in memory/embed, learning (outbox, writer, extraction)
// in memory/learn, the stores in memory/embedded and memory/milvus.
package memory

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// A Memory is one remembered fact. Its scope fields say whose it is: a
// persona memory has an AgentID and no UserID; a user memory has a UserID;
// a relationship memory is a user memory whose Metadata["agent_id"] names
// the agent it concerns (the convention of the Mem0 cookbook).
type Memory struct {
	ID         string
	Text       string
	Hash       string // content hash of Text, see Hash
	UserID     string
	AgentID    string
	RunID      string
	AppID      string
	Metadata   map[string]any
	Categories []string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time // zero: never expires
	Vector     []float32 // unit length; set by the writer, not returned by every call
}

// Expired reports whether m has an expiry at or before now.
func (m *Memory) Expired(now time.Time) bool {
	return !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(now)
}

// A Hit is a Memory found by a search, with its score in [0,1]: the cosine
// similarity of query and memory, clamped at 0. Higher is more similar, and
// every Store reports the same number for the same vectors, so a threshold
// means the same thing whichever store runs.
type Hit struct {
	Memory
	Score float64
}

// Identity names who a request is for. An empty UserID or AgentID means
// the request has none.
type Identity struct {
	UserID  string
	AgentID string
	RunID   string
}

// IsZero reports whether id names neither a user nor an agent.
func (id Identity) IsZero() bool { return id.UserID == "" && id.AgentID == "" }

// ErrNotFound is returned by Store.Get and Store.Update for an unknown id.
var ErrNotFound = errors.New("memory not found")

// ErrExists is returned by Store.Add for an id that is taken.
var ErrExists = errors.New("memory already exists")

// NewID returns a random UUID (version 4) in its usual string form, the
// id format Mem0 clients expect.
func NewID() string { return uuid.NewString() }

// Hash returns the content hash used for exact deduplication: the hex
// SHA-256 of the text with case folded and white space collapsed, so
// "I run 5K." and "i run  5k." are one fact.
func Hash(text string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.Join(strings.Fields(text), " "))))
	return hex.EncodeToString(sum[:])
}
