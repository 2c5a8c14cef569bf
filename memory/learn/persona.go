package learn

import (
	"context"
	"strings"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/policies"
)

// persona learns the agent's persona from the replies of turns, one turn
// at a time, so that each change is recorded with the request and the
// user that caused it. A persona is recalled into every user's prompt:
// what a reply repeats of its conversation (the user's messages, and the
// earlier messages the client sent with them) is one user's words, not
// the agent's, and stays out of it, as does what reads like an
// instruction.
func (w *Writer) persona(ctx context.Context, turns []Turn, extractor Extractor, decider Decider, l policies.Learn) ([]memory.Event, error) {
	var said []string
	var events []memory.Event
	for _, t := range turns {
		// Everything the client sent up to this turn; not what came
		// after, which may quote this very reply back.
		said = append(said, t.Context...)
		said = append(said, t.UserMessages...)
		if t.Assistant == "" {
			continue
		}
		echo := newEchoes(said)
		var own []string
		dropped := 0
		for _, s := range sentences(t.Assistant) {
			if echo.repeats(s) {
				dropped++
				continue
			}
			own = append(own, s)
		}
		if dropped > 0 {
			w.log.DebugContext(ctx, "reply sentences repeating the conversation not learned into the persona",
				"turn", t.ID, "sentences", dropped)
		}
		if len(own) == 0 {
			continue
		}
		reply := []memory.Message{{Role: "assistant", Content: strings.Join(own, " ")}}
		facts, err := extractor.Facts(ctx, reply, w.svc.factRequest(l, AboutAgent))
		if err != nil {
			return nil, err
		}
		// A model may still phrase a fact in the user's words.
		facts = notInstructions(facts)
		kept := facts[:0]
		for _, f := range facts {
			if !repeatsAny(echo, f.Text) {
				kept = append(kept, f)
			}
		}
		if len(kept) == 0 {
			continue
		}
		id := t.Identity
		ev, err := w.svc.reconcile(ctx, write{
			scope: memory.Scope{AgentID: id.AgentID}, facts: kept, known: memory.PersonaFilter(id.AgentID),
			metadata:  map[string]any{"source": "reply", "request_id": t.ID},
			requestID: t.requestID(), actor: id.UserID, idSeed: "persona:" + t.ID, decider: decider,
		})
		if err != nil {
			return nil, err
		}
		events = append(events, ev...)
	}
	return events, nil
}

// repeatsAny reports whether a sentence of text repeats the conversation.
func repeatsAny(e *echoes, text string) bool {
	for _, s := range sentences(text) {
		if e.repeats(s) {
			return true
		}
	}
	return false
}
