package memory

import (
	"context"
	"errors"
	"fmt"
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

// A Message is one message of a conversation given to Add.
type Message struct {
	Role    string
	Content string
}

// An AddRequest asks to remember messages.
type AddRequest struct {
	Scope    Scope
	Messages []Message
	// Infer extracts facts from the messages and skips those already
	// known; without it every message is stored as it is.
	Infer      bool
	Metadata   map[string]any
	Categories []string
	ExpiresAt  time.Time
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
	ID   string
	Text string
	Kind string
}

// ErrNoScope is returned for a write that names nobody.
var ErrNoScope = errors.New("one of user_id, agent_id, run_id or app_id is required")

// Service is what the memory API does to memories: it embeds texts with
// Embedder and keeps them in Store.
type Service struct {
	Store    Store
	Embedder Embedder
	// MinChars is the shortest fact Add keeps when inferring.
	MinChars int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Add remembers the messages of req in req.Scope.
func (s *Service) Add(ctx context.Context, req AddRequest) ([]Event, error) {
	if req.Scope.IsZero() {
		return nil, ErrNoScope
	}
	var facts []string
	for _, m := range req.Messages {
		if m.Role == "system" {
			continue
		}
		if !req.Infer {
			if m.Content != "" {
				facts = append(facts, m.Content)
			}
			continue
		}
		// Facts about a user come from what the user said, never from what
		// the assistant said. A write with no user is about the agent
		// itself, and every role speaks for it.
		if req.Scope.UserID != "" && m.Role != "user" {
			continue
		}
		if f := RawFact(m.Content, s.MinChars); f != "" {
			facts = append(facts, f)
		}
	}
	var dedup Filter
	if req.Infer {
		dedup = req.Scope.Filter()
	}
	return s.learn(ctx, req.Scope, facts, dedup, req.Metadata, req.Categories, req.ExpiresAt)
}

// learn stores facts in scope. With a dedup filter, a fact whose content
// hash is already among the memories it selects is not stored again, and
// reported as EventNone with the existing id.
func (s *Service) learn(ctx context.Context, scope Scope, facts []string, dedup Filter, metadata map[string]any, categories []string, expires time.Time) ([]Event, error) {
	var events []Event
	var fresh []string
	seen := map[string]bool{}
	for _, f := range facts {
		h := Hash(f)
		if dedup.IsZero() {
			fresh = append(fresh, f)
			continue
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		found, err := s.Store.List(ctx, And(dedup, Eq(FieldHash, h)), Page{Limit: 1, Fresh: true})
		if err != nil {
			return nil, fmt.Errorf("checking for duplicates: %w", err)
		}
		if len(found) > 0 {
			events = append(events, Event{ID: found[0].ID, Text: found[0].Text, Kind: EventNone})
			continue
		}
		fresh = append(fresh, f)
	}
	if len(fresh) == 0 {
		return events, nil
	}
	vecs, err := s.Embedder.Embed(ctx, fresh)
	if err != nil {
		return nil, fmt.Errorf("embedding %d facts: %w", len(fresh), err)
	}
	now := s.now()
	ms := make([]Memory, len(fresh))
	for i, f := range fresh {
		ms[i] = Memory{
			ID: NewID(), Text: f, Hash: Hash(f),
			UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID, AppID: scope.AppID,
			Metadata: cloneMetadata(metadata), Categories: categories,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: expires, Vector: vecs[i],
		}
	}
	if err := s.Store.Add(ctx, ms...); err != nil {
		return nil, fmt.Errorf("storing %d memories: %w", len(ms), err)
	}
	for _, m := range ms {
		events = append(events, Event{ID: m.ID, Text: m.Text, Kind: EventAdd})
	}
	return events, nil
}

func cloneMetadata(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
