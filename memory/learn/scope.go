package learn

import (
	"strings"

	"github.com/memproxy/memproxy/policies"
)

// This file decides the scope of a fact learned from a chat with an agent:
// about the user (goals, body, health, schedule, likes, family, work), a
// user memory that every agent of the user may recall; or about the user's
// relationship with this agent (how the user wants it to talk to them,
// jokes shared with it, feedback on it or on its advice, what is said to
// it), a relationship memory for this agent only.

// relationshipWords are the words of a fact about talking with the agent:
// its answers, its tone, the feedback and encouragement it gives, jokes.
var relationshipWords = set(`answer answers reply replies response responses explanation explanations feedback
	encouragement encouraging motivational pep praise lecture lectures lecturing nag nagging tone sarcasm sarcastic humour
	humor joke jokes joking nickname nicknames emoji emojis bullet bullets paragraphs summaries reminder reminders`)

// relationshipPhrases are phrases of the same kind that are not single
// words.
var relationshipPhrases = []string{"check-in", "check in", "checking in", "call me", "talk to me", "speak to me", "tough love"}

// ClassifyScope returns the scope of a fact told to an agent by its words:
// policies.ScopeRelationship when it speaks to or of the agent ("you",
// "your") or of how the two talk (answers, feedback, encouragement, tone,
// jokes, reminders, "call me ..."), policies.ScopeUser otherwise. It is the
// raw mode's rule of thumb, and the fallback when a model gives no scope.
func ClassifyScope(text string) string {
	words := chatWords(text)
	if secondPerson(text) {
		return policies.ScopeRelationship
	}
	for _, w := range words {
		if relationshipWords[w] {
			return policies.ScopeRelationship
		}
	}
	lower := " " + strings.Join(words, " ") + " "
	dashed := strings.ToLower(text)
	for _, p := range relationshipPhrases {
		if strings.Contains(lower, " "+p+" ") || strings.Contains(dashed, p) {
			return policies.ScopeRelationship
		}
	}
	return policies.ScopeUser
}

// scopeOf is the scope a fact is learned into under policy l: the
// policy's, when it names one; else the fact's own, or, when an extractor
// gave none, ClassifyScope's.
func scopeOf(l policies.Learn, f Fact) string {
	switch l.Scope {
	case policies.ScopeUser, policies.ScopeRelationship:
		return l.Scope
	}
	if f.Scope == policies.ScopeUser || f.Scope == policies.ScopeRelationship {
		return f.Scope
	}
	return ClassifyScope(f.Text)
}
