package learn

import "time"

// An OutboxReport is the outbox as operators see it, in the memory API
// and the inspector: its counts, and its dead letters by ids and error,
// never what the user said.
type OutboxReport struct {
	OutboxStats
	DeadLetters []DeadLetterView `json:"dead_letters"`
}

// A DeadLetterView is a dead letter without the turn's text.
type DeadLetterView struct {
	Seq       uint64    `json:"seq"`
	TurnID    string    `json:"turn_id"`
	UserID    string    `json:"user_id"`
	AgentID   string    `json:"agent_id,omitempty"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Queued    time.Time `json:"queued"`
}

// Report is the OutboxReport of stats and the dead letters.
func Report(stats OutboxStats, dead []Entry) OutboxReport {
	out := OutboxReport{OutboxStats: stats, DeadLetters: make([]DeadLetterView, 0, len(dead))}
	for _, e := range dead {
		out.DeadLetters = append(out.DeadLetters, DeadLetterView{
			Seq: e.Seq, TurnID: e.Turn.ID, UserID: e.Turn.Identity.UserID, AgentID: e.Turn.Identity.AgentID,
			Attempts: e.Attempts, LastError: e.LastError, Queued: e.Queued,
		})
	}
	return out
}
