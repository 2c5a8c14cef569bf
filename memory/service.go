package memory

import (
	"context"
	"errors"
	"time"
)

// A Scope is where a memory belongs: the ids it is stored under. A persona
// memory has only AgentID; a user memory has UserID, and may have the
// others.
type Scope struct {
	UserID  string
	AgentID string
	RunID   string
	AppID   string
}

// IsZero reports whether the scope names nobody.
func (s Scope) IsZero() bool { return s == Scope{} }

// Filter selects exactly this scope: each id equal, empty ids included, so
// that a persona (no user) is never confused with a user's memory.
func (s Scope) Filter() Filter {
	return And(Eq(FieldUserID, s.UserID), Eq(FieldAgentID, s.AgentID), Eq(FieldRunID, s.RunID), Eq(FieldAppID, s.AppID))
}

// A Message is one message of a conversation.
type Message struct {
	Role    string
	Content string
}

// An AddRequest asks to remember messages. The memory API makes it;
// package memory/learn carries it out.
type AddRequest struct {
	Scope    Scope
	Messages []Message
	// Infer extracts facts from the messages and reconciles them with what
	// is stored; without it every message is stored as it is.
	Infer      bool
	Metadata   map[string]any
	Categories []string
	ExpiresAt  time.Time
	RequestID  string
}

// Event kinds, as the Mem0 API names them.
const (
	EventAdd    = "ADD"
	EventUpdate = "UPDATE"
	EventDelete = "DELETE"
	EventNone   = "NONE"
)

// An Event reports what happened to one memory.
type Event struct {
	ID      string
	Text    string
	OldText string // for updates and deletes
	Kind    string
}

// ErrNoScope is returned for a write that names nobody.
var ErrNoScope = errors.New("one of user_id, agent_id, run_id or app_id is required")

// Service is what the memory API does with memories (see manage.go): it
// reads, searches, edits and deletes them by id or by scope, with their
// history, and hands additions to its Adder.
type Service struct {
	Store    Store
	Embedder Embedder
	// Adder carries out Add; nil: adding fails with ErrNoAdder.
	Adder Adder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// An Adder remembers the messages of an AddRequest. Adding is learning's
// work (package memory/learn: extraction, reconciliation with what is
// stored, history), which needs memory and not the other way round: so
// the Service is given an Adder rather than importing one.
type Adder interface {
	Add(ctx context.Context, req AddRequest) ([]Event, error)
}

// ErrNoAdder is returned by Service.Add when the Service has no Adder.
var ErrNoAdder = errors.New("adding memories is not configured")

// Add remembers the messages of req through the Service's Adder.
func (s *Service) Add(ctx context.Context, req AddRequest) ([]Event, error) {
	if s.Adder == nil {
		return nil, ErrNoAdder
	}
	return s.Adder.Add(ctx, req)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
