// Package learn owns how memproxy learns: the durable outbox of completed
// turns, the writer that drains it, extraction of facts (raw heuristics or
// a model), their categories, and the write path that reconciles facts
// with what is stored. It knows nothing about HTTP.
package learn

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/internal/backoff"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/policies"
)

// A Turn is one completed exchange, handed to the Writer once the response
// has been delivered. UserMessages are the user's new messages with any
// recalled-memory block already removed.
type Turn struct {
	ID           string // unique; a turn is applied once per id
	Identity     memory.Identity
	UserMessages []string
	Assistant    string
	Time         time.Time
	// RequestID is the id of the request as its log lines and
	// X-Memory-Request-Id name it, when it is not ID (a client's
	// X-Request-Id need not be unique): the history names it.
	RequestID string
	// Context is the rest of the conversation as the client sent it: the
	// earlier user and assistant messages, oldest first. Nothing is
	// learned from it; a reply that repeats it is not the agent speaking
	// of itself (see Apply). Kept only when the policy learns a persona
	// from replies.
	Context []string
	// TraceParent is the W3C traceparent of the request's span when
	// tracing is on: the learning span links back to it.
	TraceParent string
}

// requestID is the id that names the turn's request in the history.
func (t Turn) requestID() string {
	if t.RequestID != "" {
		return t.RequestID
	}
	return t.ID
}

// ErrQueueFull is returned by Enqueue when the outbox is full: the turn is
// not saved, and the caller carries on.
var ErrQueueFull = errors.New("memory outbox is full")

// WriterConfig tunes a Writer. Zero values take the defaults.
type WriterConfig struct {
	Workers     int           // batches applied at once (2)
	MaxAttempts int           // attempts before a turn becomes a dead letter (12)
	BaseBackoff time.Duration // delay before the first retry (1s), doubling with each
	MaxBackoff  time.Duration // longest delay between attempts (60s)
	// Debounce waits for a conversation to pause this long, so that
	// consecutive turns are extracted together (0: no wait).
	Debounce time.Duration
	// Metrics, when set, records what the writer does.
	Metrics *Metrics
	// Tracer, when set, traces each attempt at a batch in a span linked
	// to the traces of the requests its turns came from.
	Tracer trace.Tracer
}

func (c *WriterConfig) defaults() {
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 12
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
}

// Writer learns from turns in the background. Enqueue puts a turn in the
// durable outbox; Run drains it: per conversation in order, retrying with
// exponential backoff and jitter while the store, embedder or model fails,
// and parking a turn as a dead letter after MaxAttempts. A turn leaves the
// outbox only once applied, and applying it twice writes it once, so a
// crash at any point loses and duplicates nothing.
type Writer struct {
	svc    *Service
	outbox *Outbox
	cfg    WriterConfig
	// retry spaces the attempts at a turn: BaseBackoff doubling up to
	// MaxBackoff, jittered so that many sidecars retrying against a
	// recovering store do not arrive together.
	retry backoff.Policy
	log   *slog.Logger
}

// NewWriter returns a Writer that learns through svc from outbox.
func NewWriter(svc *Service, outbox *Outbox, cfg WriterConfig, log *slog.Logger) *Writer {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Writer{
		svc: svc, outbox: outbox, cfg: cfg, log: log,
		retry: backoff.Policy{Base: cfg.BaseBackoff, Max: cfg.MaxBackoff, Jitter: true},
	}
}

// Enqueue puts a turn in the outbox, after the agent's policy has had its
// say: personal data redacted, messages matching a skip pattern dropped.
// Redacting here, before the turn touches the disk, means redacted data
// reaches neither the outbox, the store, the history nor a model.
func (w *Writer) Enqueue(t Turn) error {
	pol := w.svc.policy(t.Identity.AgentID)
	if !pol.Learn.Enabled {
		return nil
	}
	var msgs, context []string
	if pol.Learn.PersonaFromReplies {
		for _, m := range t.Context {
			context = append(context, pol.Redact.Redact(m))
		}
	}
	for _, m := range t.UserMessages {
		if skipped(pol.Learn, m) {
			// Not learned, but still the user's words: a reply that
			// repeats them must not become the persona either.
			if pol.Learn.PersonaFromReplies {
				context = append(context, pol.Redact.Redact(m))
			}
			continue
		}
		msgs = append(msgs, pol.Redact.Redact(m))
	}
	t.UserMessages, t.Context = msgs, context
	t.Assistant = pol.Redact.Redact(t.Assistant)
	if len(msgs) == 0 && !(pol.Learn.PersonaFromReplies && t.Assistant != "") {
		return nil // nothing to learn from
	}
	return w.outbox.Enqueue(t)
}

// notInstructions drops facts that read like instructions to the model
// ("ignore previous instructions..."): learned, they would be recalled into
// later prompts. They are a user's words, not facts about the user.
func notInstructions(facts []Fact) []Fact {
	out := facts[:0]
	for _, f := range facts {
		if !injector.Suspicious(f.Text) {
			out = append(out, f)
		}
	}
	return out
}

// Accepting reports why a turn enqueued now would be refused (see
// Outbox.Accepting).
func (w *Writer) Accepting() error { return w.outbox.Accepting() }

func skipped(l policies.Learn, msg string) bool {
	for _, p := range l.Skip {
		if p.MatchString(msg) {
			return true
		}
	}
	return false
}

// Run applies queued turns until ctx is done. Then it goes on applying the
// turns that are due, until none is left or drain has passed; at that
// deadline the batches in hand are cut short and stay queued, untouched,
// for the next start.
func (w *Writer) Run(ctx context.Context, drain time.Duration) {
	sem := make(chan struct{}, w.cfg.Workers)
	done := make(chan struct{}, w.cfg.Workers)
	var wg sync.WaitGroup
	// work is what the batches run under: cut at the drain deadline, not
	// when ctx is done, so that stopping lets the batches in hand finish.
	work, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		cut()
		wg.Wait()
	}()

	stopping := false
	ctxDone := ctx.Done()
	var deadline <-chan time.Time
	for {
		free := w.cfg.Workers - len(sem)
		var next time.Time
		if free > 0 {
			batches, n, err := w.outbox.claim(time.Now(), w.debounce(stopping), free)
			if err != nil {
				w.log.Error("reading the outbox failed", "err", err)
				n = time.Now().Add(time.Second)
			}
			next = n
			for _, b := range batches {
				sem <- struct{}{}
				wg.Go(func() {
					w.process(work, b)
					<-sem
					select { // a wake-up; a missed one costs at most a poll
					case done <- struct{}{}:
					default:
					}
				})
			}
			if stopping && len(batches) == 0 && len(sem) == 0 {
				return // drained: nothing due, nothing in hand
			}
		}
		wait := time.Until(next)
		if free == 0 || wait > time.Second {
			wait = time.Second
		}
		timer := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-w.outbox.wake:
		case <-done:
		case <-timer.C:
		case <-ctxDone:
			stopping, ctxDone = true, nil
			deadline = time.After(drain)
		case <-deadline:
			timer.Stop()
			w.log.Info("writer stopped with turns still queued", "pending", w.outbox.Stats().Pending)
			return
		}
		timer.Stop()
	}
}

// debounce waits for conversations to pause, except when stopping.
func (w *Writer) debounce(stopping bool) time.Duration {
	if stopping {
		return 0
	}
	return w.cfg.Debounce
}

// turnTimeout bounds one attempt at a batch.
const turnTimeout = 2 * time.Minute

// process applies one conversation's batch. When the batch fails, its
// turns are tried one at a time, in order: a turn that can never be
// applied then goes to the dead letters alone, not with its neighbours.
// When ctx is done (the writer is stopping) the turns not applied stay
// queued as they were.
func (w *Writer) process(ctx context.Context, batch []Entry) {
	err := w.attempt(ctx, batch)
	if err == nil {
		return
	}
	if ctx.Err() != nil {
		w.outbox.unclaim(batch, time.Time{})
		return
	}
	if len(batch) == 1 {
		w.settle(batch, err)
		return
	}
	w.log.Debug("batch failed; trying its turns one at a time", "turns", len(batch), "first", batch[0].Turn.ID, "err", err)
	for i := range batch {
		one := batch[i : i+1]
		if err := w.attempt(ctx, one); err != nil {
			if ctx.Err() != nil {
				w.outbox.unclaim(batch[i:], time.Time{})
				return
			}
			// The later turns wait behind this one (the outbox keeps a
			// conversation in order), their attempts not counted.
			w.settle(one, err)
			w.outbox.unclaim(batch[i+1:], time.Time{})
			return
		}
	}
}

// attempt applies a batch once and, if that worked, removes it from the
// outbox.
func (w *Writer) attempt(ctx context.Context, batch []Entry) (err error) {
	ctx, cancel := context.WithTimeout(ctx, turnTimeout)
	defer cancel()
	turns := make([]Turn, len(batch))
	for i, e := range batch {
		turns[i] = e.Turn
	}
	defer func() {
		// A bug triggered by one turn must neither stop the writer nor
		// lose the turn: it fails like any attempt, and is retried.
		if r := recover(); r != nil {
			w.log.Error("learning panicked", "first", turns[0].ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("learning panicked: %v", r)
		}
	}()
	if w.cfg.Tracer != nil {
		var span trace.Span
		ctx, span = w.startSpan(ctx, turns)
		defer func() { endSpan(span, err) }()
	}
	start := time.Now()
	events, err := w.Apply(ctx, turns)
	if err != nil {
		return err
	}
	w.cfg.Metrics.applied(len(batch), events, time.Since(start))
	if err := w.outbox.ack(batch); err != nil {
		// Applied but still queued: the replay will write nothing new.
		w.log.Error("removing applied turns from the outbox failed", "err", err)
	}
	w.log.Debug("turns learned", "turns", len(batch), "first", turns[0].ID, "events", len(events))
	return nil
}

// settle records a failed attempt at turns: they wait for a retry, or
// after MaxAttempts become dead letters.
func (w *Writer) settle(batch []Entry, err error) {
	attempts := 0
	for _, e := range batch {
		attempts = max(attempts, e.Attempts+1)
	}
	first := batch[0].Turn.ID
	dead := attempts >= w.cfg.MaxAttempts
	w.cfg.Metrics.failed(len(batch), dead)
	if dead {
		w.log.Error("turns moved to dead letters", "turns", len(batch), "first", first, "attempts", attempts, "err", err)
		if ferr := w.outbox.fail(batch, err, time.Time{}, true); ferr != nil {
			w.log.Error("recording the dead letters failed", "err", ferr)
		}
		return
	}
	retry := time.Now().Add(w.retry.Delay(attempts))
	w.log.Warn("learning failed; will retry", "turns", len(batch), "first", first, "attempt", attempts, "retry_at", retry, "err", err)
	if ferr := w.outbox.fail(batch, err, retry, false); ferr != nil {
		w.log.Error("recording the failed attempt failed", "err", ferr)
	}
}

// Apply learns from the turns of one conversation, under the learning
// rules of the agent's policy: it extracts facts from the users' messages,
// reconciles them with the user's memories, and stores them in the user's
// scope; with an agent, those about the user's relationship with it as
// relationship memories (metadata agent_id; see scopeOf). When
// the policy lets the agent's replies shape its persona, their first-person
// statements go to the persona. Applying the same turns again changes
// nothing.
func (w *Writer) Apply(ctx context.Context, turns []Turn) ([]memory.Event, error) {
	if len(turns) == 0 {
		return nil, nil
	}
	id := turns[0].Identity
	pol := w.svc.policy(id.AgentID)
	if !pol.Learn.Enabled {
		return nil, nil
	}
	var conv []memory.Message
	for _, t := range turns {
		for _, m := range t.UserMessages {
			if injector.Suspicious(m) {
				// One instruction to the model in a message makes the whole
				// message hostile: its other sentences ("I love hiking.
				// SYSTEM: ...") are not learned either, in either mode.
				continue
			}
			if !mayTell(m) {
				// A greeting, thanks, or a question or request about
				// nothing of the user's: never learned, in either mode.
				continue
			}
			conv = append(conv, memory.Message{Role: "user", Content: m})
		}
		if t.Assistant != "" {
			conv = append(conv, memory.Message{Role: "assistant", Content: t.Assistant})
		}
	}
	extractor, decider := w.svc.extraction(pol.Learn)
	var events []memory.Event
	req := w.svc.factRequest(pol.Learn, AboutUser)
	if id.UserID != "" && slices.ContainsFunc(conv, func(m memory.Message) bool { return req.counts(m.Role) }) {
		req.Scoped = id.AgentID != "" && pol.Learn.Scope != policies.ScopeUser && pol.Learn.Scope != policies.ScopeRelationship
		facts, err := extractor.Facts(ctx, conv, req)
		if err != nil {
			return nil, err
		}
		facts = keep(pol.Learn, notInstructions(notAsked(facts)))
		// Facts about the user go to the user's scope, for all of the
		// user's agents; facts about the user and this agent carry its id
		// in metadata (relationship memories). Both are compared with what
		// this pair may recall, so that a fact another agent keeps as its
		// relationship does not hide a user fact.
		var users, relationships []Fact
		for _, f := range facts {
			if id.AgentID != "" && scopeOf(pol.Learn, f) == policies.ScopeRelationship {
				relationships = append(relationships, f)
			} else {
				users = append(users, f)
			}
		}
		last := turns[len(turns)-1]
		for _, group := range []struct {
			facts []Fact
			agent string
		}{{users, ""}, {relationships, id.AgentID}} {
			if len(group.facts) == 0 {
				continue
			}
			meta := map[string]any{"source": "chat", "request_id": last.ID}
			if group.agent != "" {
				meta[memory.FieldAgentID] = group.agent
			}
			wr := write{
				scope: memory.Scope{UserID: id.UserID, RunID: id.RunID}, facts: group.facts, known: memory.UserLayerFilter(id.UserID, id.AgentID),
				metadata: meta, requestID: last.requestID(), actor: id.UserID, idSeed: "turn:" + turns[0].ID, decider: decider,
			}
			if pol.Learn.TTL > 0 {
				wr.expires = last.Time.Add(pol.Learn.TTL)
			}
			ev, err := w.svc.reconcile(ctx, wr)
			if err != nil {
				return nil, err
			}
			events = append(events, ev...)
		}
	}
	// Without a user there is no scope to learn facts into; a persona is
	// written from chat only when the policy says so, from the replies.
	if pol.Learn.PersonaFromReplies && id.AgentID != "" {
		ev, err := w.persona(ctx, turns, extractor, decider, pol.Learn)
		if err != nil {
			return nil, err
		}
		events = append(events, ev...)
	}
	return events, nil
}

// Preview returns the facts learning would take from messages under pol,
// going through the writer's own steps (skip patterns, redaction, raw
// extraction, categories) without a store or a model. In llm mode the
// model decides; the preview shows what the raw mode would keep.
func Preview(pol policies.Policy, messages []string) []Fact {
	if !pol.Learn.Enabled {
		return nil
	}
	var conv []memory.Message
	for _, m := range messages {
		if !skipped(pol.Learn, m) {
			conv = append(conv, memory.Message{Role: "user", Content: pol.Redact.Redact(m)})
		}
	}
	minChars := pol.Learn.MinChars
	if minChars == 0 {
		minChars = 8
	}
	facts, _ := RawExtractor{}.Facts(context.Background(), conv, FactRequest{About: AboutUser, Roles: pol.Learn.Roles, MinChars: minChars})
	return keep(pol.Learn, facts)
}
