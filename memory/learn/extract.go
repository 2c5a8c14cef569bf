package learn

import (
	"context"
	"slices"

	"github.com/memproxy/memproxy/memory"
)

// Subject says whom a conversation's facts are about.
type Subject int

const (
	// AboutUser: facts about the user, from the user's own messages only;
	// nothing the assistant said becomes a fact about the user.
	AboutUser Subject = iota
	// AboutAgent: the agent's own memories (a persona), from every message.
	AboutAgent
)

// A FactRequest says which facts an Extractor should find.
type FactRequest struct {
	About Subject
	// Roles are the roles whose messages facts come from when About is
	// AboutUser (default: user); other messages are context.
	Roles []string
	// MinChars is the shortest fact worth keeping.
	MinChars int
	// Instructions are added to a model's extraction prompt.
	Instructions string
	// Scoped asks for each fact's scope (the conversation is with an
	// agent and the policy lets each fact decide): the raw extractor then
	// keeps a message's statements about the user apart from those about
	// the user's relationship with the agent.
	Scoped bool
}

func (r FactRequest) counts(role string) bool {
	if r.About == AboutAgent {
		return role != "system"
	}
	if len(r.Roles) == 0 {
		return role == "user"
	}
	return slices.Contains(r.Roles, role)
}

// A Fact is a fact worth remembering, with its category (one of
// policies.Categories) and, for a fact about the user, its scope
// (policies.ScopeUser or policies.ScopeRelationship; "" when the extractor
// does not say).
type Fact struct {
	Text     string
	Category string
	Scope    string
}

// An Extractor finds the facts worth remembering in a conversation.
type Extractor interface {
	Facts(ctx context.Context, conv []memory.Message, req FactRequest) ([]Fact, error)
}

// A Decision is what to do with one new fact, given the similar memories
// already stored.
type Decision struct {
	Event string // memory.EventAdd, memory.EventUpdate, memory.EventDelete or memory.EventNone
	// Existing is the index, in the list given to Decide, of the memory an
	// update, delete or none refers to; -1 for an add.
	Existing int
	Text     string // the text to store (add, update)
}

// A Decider chooses, for new facts, among adding them, updating or deleting
// existing memories, or doing nothing.
type Decider interface {
	Decide(ctx context.Context, facts []string, existing []memory.Memory) ([]Decision, error)
}
