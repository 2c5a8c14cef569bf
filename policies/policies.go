// Package policies owns the per-agent rules of memproxy: which memory
// layers a request recalls and how many, the token budget of the injected
// block, and what is learned from a turn. It is pure: rules are values,
// looked up by agent id; reading policy files is the caller's business.
package policies

// A Layer bounds the recall of one memory layer.
type Layer struct {
	Enabled  bool
	TopK     int     // at most this many memories
	MinScore float64 // in [0,1]; memories less similar to the query are left out
}

// Recall says what a request recalls.
type Recall struct {
	Persona      Layer
	User         Layer
	Relationship Layer
	// TokenBudget bounds the injected block, in estimated tokens.
	TokenBudget int
}

// Learn says what is learned from a completed turn.
type Learn struct {
	Enabled bool
	// MinChars is the shortest statement worth remembering.
	MinChars int
}

// A Policy is the rules for one agent.
type Policy struct {
	Name   string // the rule that matched, for diagnostics
	Recall Recall
	Learn  Learn
}

// Default is the policy of an agent no rule names: every layer on, up to
// ten memories each with no score floor (so the built-in lexical embedder
// still recalls a user's few memories), within 1,000 tokens; learning on.
func Default() Policy {
	return Policy{
		Name: "default",
		Recall: Recall{
			Persona:      Layer{Enabled: true, TopK: 10},
			User:         Layer{Enabled: true, TopK: 10},
			Relationship: Layer{Enabled: true, TopK: 5},
			TokenBudget:  1000,
		},
		Learn: Learn{Enabled: true, MinChars: 8},
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
