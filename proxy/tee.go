package proxy

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/injector"
	"github.com/memproxy/memproxy/memory/learn"
)

// maxCapture bounds the copy of an answer kept to learn from. Past it the
// reply text is dropped and only the last tailSize bytes are kept, enough
// to see whether a stream ended normally; the user's messages are still
// learned. A huge answer costs no more memory than this.
const (
	maxCapture = 8 << 20
	tailSize   = 64 << 10
)

// A turnTee sits between the upstream's response body and the client. The
// reverse proxy reads and relays every chunk as it arrives; the tee only
// appends a copy to a buffer. Only once the body has ended normally, after
// the last byte went to the client, is the copy parsed, in a goroutine of
// its own, and the turn handed to the learner.
type turnTee struct {
	api     api
	learner Learner
	log     *slog.Logger
	ctx     context.Context // the request's values, for the log
	turn    learn.Turn
	pending *counter // the Server's handoffs, counting this turn

	body   io.ReadCloser
	stream bool
	buf    []byte
	full   bool // the answer outgrew maxCapture
	eof    bool
	closed bool
	// handedOff is set when the answer went to the learner: the
	// goroutine doing it releases the pending count, not the handler.
	handedOff bool
}

func (t *turnTee) attach(res *http.Response) {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	t.stream = mt == "text/event-stream"
	t.body = res.Body
	res.Body = t
}

func (t *turnTee) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	if n > 0 {
		t.buf = append(t.buf, p[:n]...)
		if !t.full && len(t.buf) > maxCapture {
			t.full = true
		}
		if t.full && len(t.buf) > 2*tailSize {
			t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
		}
	}
	if err == io.EOF {
		t.eof = true
	}
	return n, err
}

// Close ends the relay. A body that did not reach EOF was cut short (the
// client went away, or the upstream broke off) and is not learned from.
func (t *turnTee) Close() error {
	err := t.body.Close()
	if t.closed || !t.eof {
		t.closed = true
		return err
	}
	t.closed, t.handedOff = true, true
	go func() {
		defer t.pending.done()
		defer func() {
			// A bug in reading one answer must not take the sidecar down.
			if r := recover(); r != nil {
				t.log.ErrorContext(t.ctx, "turn not learned: reading the answer panicked", "panic", r)
			}
		}()
		t.finish(t.buf, t.full)
	}()
	return err
}

func (t *turnTee) finish(raw []byte, full bool) {
	turn := t.turn
	turn.Time = time.Now()
	if full && t.stream && !t.api.ended(raw) {
		t.log.DebugContext(t.ctx, "turn not learned: the long answer did not complete")
		return
	}
	if !full {
		r := t.api.reply(raw, t.stream)
		if !r.complete {
			t.log.DebugContext(t.ctx, "turn not learned: the answer did not complete")
			return
		}
		// A model that echoes the memory block must not teach it back.
		turn.Assistant = injector.Strip(r.text)
		if len(r.toolCalls) > 0 {
			names := make([]string, len(r.toolCalls))
			for i, c := range r.toolCalls {
				names[i] = c.Name
			}
			t.log.DebugContext(t.ctx, "answer called tools; their arguments are not learned", "tools", names)
		}
	}
	if err := t.learner.Enqueue(turn); err != nil {
		t.log.WarnContext(t.ctx, "turn not learned", "turn_id", turn.ID, "err", err)
	}
}
