package memapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory/learn"
)

// errNoQueue answers the outbox routes when learning is not configured.
var errNoQueue = &httpError{http.StatusServiceUnavailable, "unavailable", "learning is not configured"}

// outbox reports the learning queue: pending, in flight, dead letters.
func (a *API) outbox(c *gin.Context) error {
	if a.opts.Queue == nil {
		return errNoQueue
	}
	dead, err := a.opts.Queue.DeadLetters()
	if err != nil {
		return fmt.Errorf("reading the dead letters: %w", err)
	}
	c.JSON(http.StatusOK, learn.Report(a.opts.Queue.Stats(), dead))
	return nil
}

// retryDead answers POST /memproxy/outbox/dead/{seq}/retry: the dead
// letter is queued again.
func (a *API) retryDead(c *gin.Context) error {
	return a.onDead(c, Queue.Retry, "queued again")
}

// discardDead answers DELETE /memproxy/outbox/dead/{seq}.
func (a *API) discardDead(c *gin.Context) error {
	return a.onDead(c, Queue.Discard, "discarded")
}

func (a *API) onDead(c *gin.Context, do func(Queue, uint64) error, done string) error {
	if a.opts.Queue == nil {
		return errNoQueue
	}
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		return invalid(errors.New("seq must be the number of a dead letter"))
	}
	if err := do(a.opts.Queue, seq); errors.Is(err, learn.ErrNoDeadLetter) {
		return &httpError{http.StatusNotFound, "not_found", "no dead letter " + c.Param("seq")}
	} else if err != nil {
		return fmt.Errorf("dead letter %d: %w", seq, err)
	}
	c.JSON(http.StatusOK, gin.H{"message": "dead letter " + c.Param("seq") + " " + done})
	return nil
}
