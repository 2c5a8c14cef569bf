package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory/learn"
)

// deadLetter is a dead letter as operators see it: ids and the error,
// never what the user said.
type deadLetter struct {
	Seq       uint64    `json:"seq"`
	TurnID    string    `json:"turn_id"`
	UserID    string    `json:"user_id"`
	AgentID   string    `json:"agent_id,omitempty"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Queued    time.Time `json:"queued"`
}

// outbox reports the learning queue: pending, in flight, dead letters.
func (s *Server) outbox(c *gin.Context) {
	if s.opts.Queue == nil {
		writeAPIError(c, http.StatusServiceUnavailable, "unavailable", "learning is not configured")
		return
	}
	dead, err := s.opts.Queue.DeadLetters()
	if err != nil {
		writeAPIError(c, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	out := struct {
		learn.OutboxStats
		DeadLetters []deadLetter `json:"dead_letters"`
	}{OutboxStats: s.opts.Queue.Stats(), DeadLetters: []deadLetter{}}
	for _, e := range dead {
		out.DeadLetters = append(out.DeadLetters, deadLetter{
			Seq: e.Seq, TurnID: e.Turn.ID, UserID: e.Turn.Identity.UserID, AgentID: e.Turn.Identity.AgentID,
			Attempts: e.Attempts, LastError: e.LastError, Queued: e.Queued,
		})
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) retryDead(c *gin.Context) {
	s.onDead(c, func(q Queue, seq uint64) error { return q.Retry(seq) }, "queued again")
}

func (s *Server) discardDead(c *gin.Context) {
	s.onDead(c, func(q Queue, seq uint64) error { return q.Discard(seq) }, "discarded")
}

func (s *Server) onDead(c *gin.Context, do func(Queue, uint64) error, done string) {
	if s.opts.Queue == nil {
		writeAPIError(c, http.StatusServiceUnavailable, "unavailable", "learning is not configured")
		return
	}
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		writeAPIError(c, http.StatusBadRequest, "invalid_request", "seq must be the number of a dead letter")
		return
	}
	if err := do(s.opts.Queue, seq); errors.Is(err, learn.ErrNoDeadLetter) {
		writeAPIError(c, http.StatusNotFound, "not_found", "no dead letter "+c.Param("seq"))
		return
	} else if err != nil {
		writeAPIError(c, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "dead letter " + c.Param("seq") + " " + done})
}
