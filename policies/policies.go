// Package policies owns the per-agent rules of memproxy: which memory
// layers a request recalls and how many, the token budget of the injected
// block and its wording, what is learned from a turn and how, and what is
// redacted before anything is stored. It is pure: rules are values parsed
// from bytes and looked up by agent id; reading and watching policy files
// is the caller's business.
package policies

import (
	"sync/atomic"
	"time"
)

// A Layer bounds the recall of one memory layer.
type Layer struct {
	Enabled  bool
	TopK     int     // at most this many memories
	MinScore float64 // in [0,1]; memories less similar to the query are left out
	// TokenBudget bounds the layer's share of the block (0: only the
	// block's budget applies).
	TokenBudget int
}

// Orders of recalled memories within a layer.
const (
	OrderRelevance = "relevance" // most similar to the query first
	OrderRecency   = "recency"   // most recently updated first
)

// Query sources: what text memories are recalled for.
const (
	QueryLastUser = "last_user" // the latest user message
	QueryLastN    = "last_n"    // the last N messages of the conversation, any role
)

// Wording is the text of the block around the memories; an empty field
// keeps the injector's default. The delimiters and the quoting of each
// memory are the injector's, whatever the wording.
type Wording struct {
	Preamble     string
	Persona      string // section titles
	User         string
	Relationship string
	Run          string
}

// Recall says what a request recalls.
type Recall struct {
	Enabled      bool
	Persona      Layer // the agent's own memories (no user, run or app)
	User         Layer // the user's memories
	Relationship Layer // the user's memories about this agent (metadata agent_id)
	Run          Layer // the user's memories of this run (X-Memory-Run-Id)
	// TokenBudget bounds the whole block, in estimated tokens.
	TokenBudget int
	Order       string // OrderRelevance or OrderRecency
	QuerySource string // QueryLastUser or QueryLastN
	QueryN      int    // with QueryLastN
	Wording     Wording
	// ShareRelationships lets the user layer recall the user's
	// relationship memories with other agents (metadata agent_id naming
	// another agent). Off by default: a relationship memory belongs to
	// its user-agent pair.
	ShareRelationships bool
}

// Learning modes.
const (
	ModeRaw = "raw"
	ModeLLM = "llm"
)

// Scopes of facts learned from a chat with an agent.
const (
	// ScopeAuto decides per fact: about the user, a user memory; about
	// the user's relationship with the agent, a relationship memory.
	ScopeAuto = "auto"
	// ScopeUser learns every fact as a user memory, for all the user's
	// agents.
	ScopeUser = "user"
	// ScopeRelationship learns every fact as a relationship memory
	// (metadata agent_id), for this agent only.
	ScopeRelationship = "relationship"
)

// Learn says what is learned from a completed turn.
type Learn struct {
	Enabled bool
	Mode    string // ModeRaw or ModeLLM
	// Roles are the roles whose messages facts come from; "user" by
	// default. Other roles' messages are context only.
	Roles []string
	// MinChars is the shortest fact worth remembering.
	MinChars int
	// Skip drops a message that matches any of these entirely.
	Skip []*Pattern
	// KeepCategories, when set, keeps only facts of these categories;
	// DropCategories drops facts of these.
	KeepCategories []string
	DropCategories []string
	// Instructions are added to the llm mode's extraction prompt.
	Instructions string
	// TTL makes learned memories expire after this long (0: never).
	TTL time.Duration
	// PersonaFromReplies lets the agent's own replies add to its persona.
	PersonaFromReplies bool
	// Scope is where facts learned from a chat with an agent go:
	// ScopeAuto (the default), ScopeUser or ScopeRelationship. Without an
	// agent every fact is a user memory.
	Scope string
}

// A Policy is the rules for one agent.
type Policy struct {
	// Name says which rule matched: "default", or the rule's pattern.
	Name   string
	Recall Recall
	Learn  Learn
	Redact *Redactor // never nil in a Policy from a Set or Default
}

// Default is the policy of an agent no rule names: persona, user and
// relationship layers on (run off), up to ten memories each (five of the
// relationship) with no score floor, so that the built-in lexical embedder
// still recalls a user's few memories, within 1,000 tokens; learning on in
// raw mode from the user's messages, each fact in the scope it is about
// (user or relationship); a user's relationship memories with one agent
// not recalled for another; emails, phone numbers, card numbers,
// government ids and bank account numbers redacted.
func Default() Policy {
	return Policy{
		Name: "default",
		Recall: Recall{
			Enabled:      true,
			Persona:      Layer{Enabled: true, TopK: 10},
			User:         Layer{Enabled: true, TopK: 10},
			Relationship: Layer{Enabled: true, TopK: 5},
			Run:          Layer{Enabled: false, TopK: 5},
			TokenBudget:  1000,
			Order:        OrderRelevance,
			QuerySource:  QueryLastUser,
			QueryN:       1,
		},
		Learn:  Learn{Enabled: true, Mode: ModeRaw, Roles: []string{"user"}, MinChars: 8, Scope: ScopeAuto},
		Redact: mustRedactor(RedactConfig{Types: RedactTypes}),
	}
}

// A Source gives the policy for an agent. An empty agent id asks for the
// policy of requests that name only a user.
type Source interface {
	For(agentID string) Policy
}

// Static is a Source with one policy for every agent.
type Static Policy

// For returns the policy, whatever the agent.
func (s Static) For(string) Policy { return Policy(s) }

// Live is a Source whose rules are replaced while in use, as a policy file
// is reloaded. Each call to For sees one whole Set, old or new, never a
// mixture: a Set is immutable and swapped atomically.
type Live struct {
	cur atomic.Pointer[Set]
}

// NewLive returns a Live serving s.
func NewLive(s *Set) *Live {
	l := &Live{}
	l.cur.Store(s)
	return l
}

// Store replaces the rules.
func (l *Live) Store(s *Set) { l.cur.Store(s) }

// Set returns the rules in force.
func (l *Live) Set() *Set { return l.cur.Load() }

// For returns the policy of an agent under the rules in force.
func (l *Live) For(agentID string) Policy { return l.cur.Load().For(agentID) }
