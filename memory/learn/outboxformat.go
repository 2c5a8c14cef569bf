package learn

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// The outbox stores each Entry as JSON in the form below, apart from the
// Go types: renaming a field of Turn or Entry must not change what is on
// disk, or the turns an older sidecar queued would be misread after an
// upgrade. Each stored value says which format it is in.
//
// Format 0 (no "v"): what sidecars wrote before formats had a number,
// Turn encoded by its Go field names. Format 1: every field named by an
// explicit tag. Sidecars read both and write format 1.
const outboxFormat = 1

// storedEntry is an Entry as stored.
type storedEntry struct {
	Format    int             `json:"v,omitempty"` // 0 (absent): format 0
	Seq       uint64          `json:"seq"`
	Turn      json.RawMessage `json:"turn"`
	Attempts  int             `json:"attempts"`
	NextTry   time.Time       `json:"next_try"`
	LastError string          `json:"last_error,omitempty"`
	Queued    time.Time       `json:"queued"`
}

// storedTurn is a Turn as stored in format 1.
type storedTurn struct {
	ID           string    `json:"id"`
	UserID       string    `json:"user_id,omitempty"`
	AgentID      string    `json:"agent_id,omitempty"`
	RunID        string    `json:"run_id,omitempty"`
	UserMessages []string  `json:"user_messages,omitempty"`
	Assistant    string    `json:"assistant,omitempty"`
	Time         time.Time `json:"time"`
	// Added within format 1, absent when empty: an older sidecar reading
	// them ignores them, as it does any field it does not know.
	RequestID   string   `json:"request_id,omitempty"`
	Context     []string `json:"context,omitempty"`
	TraceParent string   `json:"traceparent,omitempty"`
}

// storedTurnV0 is a Turn as stored in format 0. It must never change:
// testdata/outbox-v0.db holds turns in this form.
type storedTurnV0 struct {
	ID       string `json:"ID"`
	Identity struct {
		UserID  string `json:"UserID"`
		AgentID string `json:"AgentID"`
		RunID   string `json:"RunID"`
	} `json:"Identity"`
	UserMessages []string  `json:"UserMessages"`
	Assistant    string    `json:"Assistant"`
	Time         time.Time `json:"Time"`
}

// encodeEntry returns e as stored, in the current format.
func encodeEntry(e Entry) ([]byte, error) {
	t := e.Turn
	if t.RequestID == t.ID {
		t.RequestID = "" // the usual case: said once
	}
	turn, err := json.Marshal(storedTurn{
		ID: t.ID, UserID: t.Identity.UserID, AgentID: t.Identity.AgentID, RunID: t.Identity.RunID,
		UserMessages: t.UserMessages, Assistant: t.Assistant, Time: t.Time,
		RequestID: t.RequestID, Context: t.Context, TraceParent: t.TraceParent,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding turn %s: %w", t.ID, err)
	}
	v, err := json.Marshal(storedEntry{
		Format: outboxFormat, Seq: e.Seq, Turn: turn, Attempts: e.Attempts,
		NextTry: e.NextTry, LastError: e.LastError, Queued: e.Queued,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding turn %s: %w", t.ID, err)
	}
	return v, nil
}

// decodeEntry reads a stored entry of any format this sidecar knows.
func decodeEntry(v []byte) (Entry, error) {
	var s storedEntry
	if err := json.Unmarshal(v, &s); err != nil {
		return Entry{}, err
	}
	e := Entry{Seq: s.Seq, Attempts: s.Attempts, NextTry: s.NextTry, LastError: s.LastError, Queued: s.Queued}
	switch s.Format {
	case 0:
		var t storedTurnV0
		if err := json.Unmarshal(s.Turn, &t); err != nil {
			return Entry{}, fmt.Errorf("format 0 turn: %w", err)
		}
		e.Turn = Turn{
			ID:           t.ID,
			Identity:     memory.Identity{UserID: t.Identity.UserID, AgentID: t.Identity.AgentID, RunID: t.Identity.RunID},
			UserMessages: t.UserMessages, Assistant: t.Assistant, Time: t.Time,
		}
	case 1:
		var t storedTurn
		if err := json.Unmarshal(s.Turn, &t); err != nil {
			return Entry{}, fmt.Errorf("format 1 turn: %w", err)
		}
		e.Turn = Turn{
			ID:           t.ID,
			Identity:     memory.Identity{UserID: t.UserID, AgentID: t.AgentID, RunID: t.RunID},
			UserMessages: t.UserMessages, Assistant: t.Assistant, Time: t.Time,
			RequestID: t.RequestID, Context: t.Context, TraceParent: t.TraceParent,
		}
	default:
		// Written by a newer sidecar: guessing could learn the wrong
		// thing into the wrong scope.
		return Entry{}, fmt.Errorf("format %d is newer than this memproxy reads (up to %d)", s.Format, outboxFormat)
	}
	return e, nil
}
