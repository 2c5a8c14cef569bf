package memory

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
)

// A Turn is one completed exchange, handed to the Writer once the response
// has been delivered. UserMessages are the user's new messages with any
// recalled-memory block already removed.
type Turn struct {
	ID           string // the request id; a turn is applied once per id
	Identity     Identity
	UserMessages []string
	Assistant    string
	ToolCalls    []ToolCall
	Time         time.Time
}

// A ToolCall is a function the assistant called in a turn.
type ToolCall struct {
	Name      string
	Arguments string
}

// ErrQueueFull is returned by Enqueue when the writer is saturated: the
// turn is not saved, and the caller carries on.
var ErrQueueFull = errors.New("memory writer queue is full")

// Writer learns from turns in the background: it extracts facts from the
// user's messages, skips what it already knows, embeds and stores the rest.
// Enqueue never blocks.
type Writer struct {
	svc   *Service
	log   *slog.Logger
	queue chan Turn
}

// NewWriter returns a Writer that stores through svc, with room for
// queueSize pending turns.
func NewWriter(svc *Service, queueSize int, log *slog.Logger) *Writer {
	return &Writer{svc: svc, log: log, queue: make(chan Turn, queueSize)}
}

// Enqueue hands a turn to the writer without waiting.
func (w *Writer) Enqueue(t Turn) error {
	select {
	case w.queue <- t:
		return nil
	default:
		return ErrQueueFull
	}
}

// Run applies queued turns until ctx is done, then applies what is
// already queued and returns. Each turn runs under a context of its own,
// detached from ctx, so that shutting down does not abort a turn halfway.
func (w *Writer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case t := <-w.queue:
					w.apply(ctx, t)
				default:
					return
				}
			}
		case t := <-w.queue:
			w.apply(ctx, t)
		}
	}
}

// turnTimeout bounds the work on one turn.
const turnTimeout = 30 * time.Second

func (w *Writer) apply(ctx context.Context, t Turn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), turnTimeout)
	defer cancel()
	events, err := w.Apply(ctx, t)
	if err != nil {
		w.log.Warn("saving turn failed", "turn", t.ID, "err", err)
		return
	}
	w.log.Debug("turn saved", "turn", t.ID, "events", len(events))
}

// Apply extracts the facts of one turn and stores those the user's
// memories do not already hold, in the user's scope; with an agent, as
// relationship memories (metadata agent_id).
func (w *Writer) Apply(ctx context.Context, t Turn) ([]Event, error) {
	if t.Identity.UserID == "" {
		// Without a user there is no scope to learn into; persona memories
		// are written by operators through the API, never from chat.
		return nil, nil
	}
	var facts []string
	for _, msg := range t.UserMessages {
		if f := RawFact(msg, w.svc.MinChars); f != "" {
			facts = append(facts, f)
		}
	}
	if len(facts) == 0 {
		return nil, nil
	}
	meta := map[string]any{"source": "chat"}
	if t.ID != "" {
		meta["request_id"] = t.ID
	}
	if t.Identity.AgentID != "" {
		meta[FieldAgentID] = t.Identity.AgentID
	}
	scope := Scope{UserID: t.Identity.UserID, RunID: t.Identity.RunID}
	return w.svc.learn(ctx, scope, facts, UserFilter(t.Identity.UserID), meta, nil, time.Time{})
}

// RawFact returns the part of a user message worth remembering as is: its
// statements, without questions, greetings and acknowledgements. It
// returns "" when nothing is left or the rest is shorter than minChars.
func RawFact(msg string, minChars int) string {
	var kept []string
	for _, s := range sentences(msg) {
		if isLowSignal(s) {
			continue
		}
		kept = append(kept, s)
	}
	fact := strings.Join(kept, " ")
	if len([]rune(fact)) < minChars {
		return ""
	}
	return fact
}

// sentences splits text after '.', '!' and '?' and at line breaks.
func sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	flush := func(end int) {
		if s := strings.TrimSpace(string(rs[start:end])); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range rs {
		switch r {
		case '\n':
			flush(i + 1)
		case '.', '!', '?':
			if i+1 == len(rs) || unicode.IsSpace(rs[i+1]) {
				flush(i + 1)
			}
		}
	}
	flush(len(rs))
	return out
}

var lowSignal = map[string]bool{}

func init() {
	for _, s := range []string{
		"thanks", "thank you", "thx", "ty", "ok", "okay", "k", "cool", "great", "nice", "sure", "yes",
		"no", "yep", "nope", "lol", "haha", "bye", "goodbye", "good morning", "good night",
		"good evening", "got it", "sounds good", "awesome", "perfect", "hmm", "continue", "go on",
		"please", "thanks a lot", "thank you so much", "cheers",
	} {
		lowSignal[s] = true
	}
}

var greetings = map[string]bool{"hi": true, "hello": true, "hey": true, "yo": true, "hiya": true, "howdy": true}

// requestVerbs open sentences that ask the assistant for something:
// "Tell me a joke", "Write a plan". They say what the user wants now,
// not something lasting about them.
var requestVerbs = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`tell give show explain write help list suggest recommend make create
		generate describe summarize summarise translate find stream answer repeat say send draft
		calculate compute continue please let's lets rewrite fix check compare`) {
		requestVerbs[w] = true
	}
}

// isLowSignal reports whether a sentence is a greeting, an
// acknowledgement, a question or a request to the assistant: things that
// say nothing lasting about the user. Raw extraction keeps statements
// only; the llm mode can find facts in the rest.
func isLowSignal(s string) bool {
	if strings.HasSuffix(strings.TrimSpace(s), "?") {
		return true
	}
	norm := strings.ToLower(strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) }))
	words := strings.Fields(norm)
	if len(words) == 0 || lowSignal[strings.Join(words, " ")] {
		return true
	}
	first := strings.Trim(words[0], ",!.")
	if requestVerbs[first] || slices.Contains(words, "please") {
		return true
	}
	// "Hi", "hello there", "hey coach": a greeting and a word or two.
	return greetings[first] && len(words) <= 3
}
