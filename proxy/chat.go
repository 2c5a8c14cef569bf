package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
	"github.com/tidwall/gjson"
)

// Response headers that say what memory did for a request.
const (
	HeaderStatus    = "X-Memory-Status"   // injected, none, off, or failed-open: <reason>
	HeaderInjected  = "X-Memory-Injected" // how many memories the block holds
	HeaderLearning  = "X-Memory-Learning" // on, off, or failed-open: <reason>
	HeaderRequestID = "X-Memory-Request-Id"
)

// accepter is a Learner that can say beforehand that it would refuse a
// turn (its outbox is full or its disk failing), so that the response can
// say so: once the answer has gone, there is no header left to say it in.
type accepter interface {
	Accepting() error
}

// api is one of the two chat APIs that get memory.
type api struct {
	name     string
	keys     []string // the top-level keys the sidecar reads
	userText func(body []byte) injector.UserText
	inject   func(body []byte, block string) ([]byte, error)
	reply    func(raw []byte, stream bool) reply
	// ended reports whether the tail of a stream holds its normal end.
	ended func(tail []byte) bool
}

var (
	chatCompletions = api{"chat.completions", []string{"messages", "user", "safety_identifier"},
		injector.ChatUserText, injector.Chat, chatReply, chatEnded}
	responses = api{"responses", []string{"instructions", "input", "user", "safety_identifier"},
		injector.ResponsesUserText, injector.Responses, responsesReply, responsesEnded}
)

// admit checks a request's identity signature, when the sidecar wants
// one, and takes one of the user's (or, without a user, the agent's)
// request slots. When it returns false it has written the error.
func (s *Server) admit(c *gin.Context, id memory.Identity) (release func(), ok bool) {
	if len(s.opts.IdentitySecret) > 0 {
		if err := s.verifyIdentity(c.Request.Header, id); err != nil {
			writeError(c, http.StatusUnauthorized, "invalid_identity_signature", err.Error())
			return nil, false
		}
	}
	key := "user:" + id.UserID
	if id.UserID == "" {
		key = "agent:" + id.AgentID
	}
	if !s.limits.acquire(key) {
		c.Header("Retry-After", "1")
		writeError(c, http.StatusTooManyRequests, "too_many_concurrent_requests",
			fmt.Sprintf("this user already has %d requests in flight", s.opts.MaxConcurrentPerUser))
		return nil, false
	}
	return func() { s.limits.release(key) }, true
}

// chatRoute serves an API that gets memory: recall within the latency
// budget, inject, forward, and learn from the answer once it is complete.
// Whatever memory does, the request goes upstream: memory failure fails
// open, and the response headers say so.
func (s *Server) chatRoute(a api) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.opts.Tracer != nil {
			defer s.traceChat(c)()
		}
		id, err := s.identity.read(c.Request.Header)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_identity", err.Error())
			return
		}
		if id.IsZero() && !s.identity.fromBody {
			// No identity: a pure proxy, the body streamed through untouched.
			s.passthrough(c)
			return
		}
		mode, err := s.identity.mode(c.Request.Header)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_identity", err.Error())
			return
		}
		// Requests that skip memory are still one user's requests: they
		// are verified and counted against the user's limit like the rest.
		skip := ""
		if mode == ModeOff {
			skip = "off"
		} else if enc := c.GetHeader("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
			// The sidecar does not decode request bodies; the upstream may.
			skip = "failed-open: request encoding"
		}
		if skip != "" {
			if !id.IsZero() {
				release, ok := s.admit(c, id)
				if !ok {
					return
				}
				defer release()
			}
			s.serve(c, &reqState{status: skip})
			return
		}

		body, err := ReadBody(c, s.opts.MaxBodyBytes)
		var refused *BodyError
		if errors.As(err, &refused) {
			writeError(c, refused.Status, refused.Code, refused.Msg)
			return
		}
		// A body the sidecar cannot read reliably goes upstream as it is:
		// the upstream is the judge of its own API.
		shapeErr := injector.Check(body, a.keys...)
		if id.UserID == "" && shapeErr == nil {
			if id.UserID, err = s.identity.userFromBody(body); err != nil {
				writeError(c, http.StatusBadRequest, "invalid_identity", err.Error())
				return
			}
		}
		if id.IsZero() {
			s.forward(c, body, &reqState{})
			return
		}
		release, ok := s.admit(c, id)
		if !ok {
			return
		}
		defer release()
		if shapeErr != nil {
			s.log.InfoContext(c.Request.Context(), "request not readable for memory", "err", shapeErr)
			s.forward(c, body, &reqState{status: "failed-open: request shape"})
			return
		}

		pol := s.opts.Policies.For(id.AgentID)
		text := a.userText(body)
		st := &reqState{status: "none", learning: "off"}
		if mode.reads() {
			body, st.status, st.injected = s.remember(c, st, a, body, id, text, pol)
		}
		learns := mode.writes() && pol.Learn.Enabled && s.opts.Learner != nil && id.UserID != "" && len(text.New) > 0
		if acc, ok := s.opts.Learner.(accepter); learns && ok {
			if err := acc.Accepting(); err != nil {
				st.learning = "failed-open: " + learnReason(err)
				s.log.WarnContext(c.Request.Context(), "turn will not be learned", "err", err)
				learns = false
			}
		}
		switch {
		case learns:
			s.opts.Metrics.learned("on")
		case st.learning == "off":
			s.opts.Metrics.learned("off")
		default:
			s.opts.Metrics.learned("failed_open")
		}
		if learns {
			st.learning = "on"
			st.tee = &turnTee{
				api: a, learner: s.opts.Learner, log: s.log,
				ctx: c.Request.Context(),
				turn: learn.Turn{ID: turnID(c), Identity: id, UserMessages: text.New, RequestID: requestID(c), Context: text.Earlier(),
					TraceParent: telemetry.TraceParent(c.Request.Context())},
				lost: func() { s.opts.Metrics.learned("lost") },
			}
			// The turn is handed off inside the response (see turnTee), so
			// it is done when the handler returns; counted meanwhile so that
			// WaitHandoffs cannot miss it.
			s.handoffs.add()
			defer s.handoffs.done()
		}
		s.forward(c, body, st)
	}
}

// remember recalls memories for the request and places them in body. It
// returns the body to send, the status for X-Memory-Status and the count
// of memories injected, and notes the time of each stage in st.
func (s *Server) remember(c *gin.Context, st *reqState, a api, body []byte, id memory.Identity, text injector.UserText, pol policies.Policy) ([]byte, string, int) {
	if !pol.Recall.Enabled {
		return body, "none", 0
	}
	query := text.RecallQuery()
	if pol.Recall.QuerySource == policies.QueryLastN {
		query = text.RecentQuery(pol.Recall.QueryN)
	}
	recent := pol.Recall.Order == policies.OrderRecency
	start := time.Now()
	ok, probe := s.breaker.allow()
	if !ok {
		// The store has not answered in time lately: the request pays
		// nothing for memories it would not get.
		st.timing = "recall;dur=0"
		s.opts.Metrics.recalled("failed_breaker", 0, 0, 0)
		return body, "failed-open: breaker", 0
	}
	ctx, span := s.startSpan(c.Request.Context(), "memproxy.recall")
	rec, err := s.recall(ctx, memory.RecallRequest{
		Identity:     id,
		Query:        query,
		Persona:      limits(pol.Recall.Persona, recent),
		User:         limits(pol.Recall.User, recent),
		Relationship: limits(pol.Recall.Relationship, recent),
		Run:          limits(pol.Recall.Run, recent),

		ShareRelationships: pol.Recall.ShareRelationships,
	})
	s.breaker.record(probe, outcomeOf(c.Request.Context(), err))
	st.timing = fmt.Sprintf("embed;dur=%.3f, search;dur=%.3f", ms(rec.EmbedTime), ms(rec.SearchTime))
	if err != nil {
		reason := failReason(err)
		endSpan(span, err, reason, attribute.String("memproxy.recall.outcome", "failed-open: "+reason))
		st.timing = fmt.Sprintf("recall;dur=%.3f", ms(time.Since(start)))
		s.opts.Metrics.recalled("failed_"+strings.ReplaceAll(reason, " ", "_"), time.Since(start), 0, 0)
		s.log.WarnContext(c.Request.Context(), "recall failed open", "reason", reason, "err", err)
		return body, "failed-open: " + reason, 0
	}
	endSpan(span, nil, "", attribute.Int("memproxy.recall.hits", len(rec.Persona)+len(rec.User)+len(rec.Relationship)+len(rec.Run)))
	injectStart := time.Now()
	defer func() { st.timing += fmt.Sprintf(", inject;dur=%.3f", ms(time.Since(injectStart))) }()
	_, span = s.startSpan(c.Request.Context(), "memproxy.inject")
	opts := blockOptions(pol.Recall)
	opts.Flag = s.flag
	opts.Model = gjson.GetBytes(body, "model").String()
	enc := injector.EncodingFor(opts.Model)
	opts.Count = func(text string) int { return s.countTokens(enc, text) }
	block, res := injector.Block(memoriesOf(rec), opts)
	if block == "" {
		endSpan(span, nil, "", attribute.Int("memproxy.memories_injected", 0))
		s.opts.Metrics.recalled("none", time.Since(start), 0, 0)
		return body, "none", 0
	}
	out, err := a.inject(body, block)
	if err != nil {
		endSpan(span, err, "request shape")
		s.opts.Metrics.recalled("failed_request_shape", time.Since(start), 0, 0)
		s.log.WarnContext(c.Request.Context(), "memory block not placed", "err", err)
		return body, "failed-open: request shape", 0
	}
	endSpan(span, nil, "", attribute.Int("memproxy.memories_injected", res.Injected), attribute.Int("memproxy.injected_tokens", res.Tokens))
	s.opts.Metrics.recalled("injected", time.Since(start), res.Injected, res.Tokens)
	return out, "injected", res.Injected
}

// ms is d in milliseconds, for Server-Timing.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// blockOptions are the block's budgets and wording under a recall policy.
func blockOptions(r policies.Recall) injector.Options {
	return injector.Options{
		Budget: r.TokenBudget, PersonaBudget: r.Persona.TokenBudget, UserBudget: r.User.TokenBudget,
		RelationshipBudget: r.Relationship.TokenBudget, RunBudget: r.Run.TokenBudget,
		Wording: injector.Wording(r.Wording),
	}
}

// recall runs the Recaller within the latency budget. It returns when the
// budget is spent even if the Recaller does not honour its context, so a
// hung store or embedder costs a request the budget and no more (the
// Recaller's goroutine lingers until it returns).
func (s *Server) recall(ctx context.Context, req memory.RecallRequest) (memory.Recalled, error) {
	budget, cancel := context.WithTimeout(ctx, s.opts.RecallTimeout)
	defer cancel()
	type result struct {
		rec memory.Recalled
		err error
	}
	done := make(chan result, 1) // buffered: a late Recaller must not block forever
	go func() {
		rec, err := s.opts.Recaller.Recall(budget, req)
		done <- result{rec, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-budget.Done():
		r.err = budget.Err()
	}
	// Only the budget's own end is a timeout: an error that merely quotes
	// a deadline (a store whose connection attempt timed out long ago, and
	// now fails at once) is that store's error.
	if r.err != nil && ctx.Err() == nil && errors.Is(budget.Err(), context.DeadlineExceeded) {
		r.err = fmt.Errorf("%w: %w", errRecallBudget, r.err)
	}
	return r.rec, r.err
}

// errRecallBudget marks a recall that ran out of its latency budget.
var errRecallBudget = errors.New("recall budget ran out")

// outcomeOf says what a recall's error tells the breaker: a recall that
// ran out of its budget counts against the store, one that the client
// abandoned says nothing, and any other answer came in time (a store that
// fails at once costs chats nothing to ask).
func outcomeOf(ctx context.Context, err error) recallOutcome {
	switch {
	case err == nil:
		return recallInTime
	case ctx.Err() != nil:
		return recallNoVerdict
	case errors.Is(err, errRecallBudget):
		return recallTimedOut
	}
	return recallInTime
}

// learnReason names why a turn cannot be queued, for X-Memory-Learning.
func learnReason(err error) string {
	switch {
	case errors.Is(err, learn.ErrQueueFull):
		return "outbox full"
	case errors.Is(err, learn.ErrOutboxClosed):
		return "outbox closed"
	}
	return "outbox error"
}

// failReason names what failed, for X-Memory-Status, without details that
// could leak ids or memory text.
func failReason(err error) string {
	switch {
	case errors.Is(err, errRecallBudget):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, memory.ErrEmbedding):
		return "embedder error"
	case errors.Is(err, memory.ErrSearch):
		return "store error"
	}
	return "error"
}

func limits(l policies.Layer, recent bool) memory.Limits {
	if !l.Enabled {
		return memory.Limits{}
	}
	return memory.Limits{TopK: l.TopK, MinScore: l.MinScore, Recent: recent}
}

func memoriesOf(r memory.Recalled) injector.Memories {
	texts := func(hs []memory.Hit) []string {
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = h.Text
		}
		return out
	}
	return injector.Memories{Persona: texts(r.Persona), User: texts(r.User), Relationship: texts(r.Relationship), Run: texts(r.Run)}
}

// A BodyError is a request body the sidecar refuses: larger than its
// limit (413) or broken off (400). Each API answers it in its own shape.
type BodyError struct {
	Status int
	Code   string // request_too_large or invalid_body
	Msg    string
}

func (e *BodyError) Error() string { return e.Msg }

// ReadBody reads the whole body of c's request, refusing one over limit
// bytes with a *BodyError.
func ReadBody(c *gin.Context, limit int64) ([]byte, error) {
	r := c.Request
	if r.ContentLength > limit {
		return nil, &BodyError{http.StatusRequestEntityTooLarge, "request_too_large",
			fmt.Sprintf("request body is %d bytes; the limit is %d", r.ContentLength, limit)}
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		// MinRead more, so that reading the EOF does not grow the buffer.
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &BodyError{http.StatusRequestEntityTooLarge, "request_too_large",
				fmt.Sprintf("request body is larger than the limit of %d bytes", limit)}
		}
		return nil, &BodyError{http.StatusBadRequest, "invalid_body", "reading request body: " + err.Error()}
	}
	return buf.Bytes(), nil
}

// forward sends body upstream in place of the request's own, streaming the
// answer back.
func (s *Server) forward(c *gin.Context, body []byte, st *reqState) {
	r := c.Request
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil // the length is known now: no chunking
	// The body is in hand: there is nothing to wait for the upstream's
	// permission to send, and an upstream that ignores Expect would cost a
	// second of ExpectContinueTimeout.
	r.Header.Del("Expect")
	st.chat = newChatCall(body)
	s.serve(c, st)
}
