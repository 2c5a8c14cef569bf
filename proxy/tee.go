package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

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
// reverse proxy reads and relays what the tee releases as it arrives; the
// tee keeps a copy to learn from. It holds back the answer's end — the
// last byte of a plain response, the terminal event of a stream ([DONE],
// response.completed) and everything after it — until the turn is in the
// outbox, on disk: a client that has the whole answer knows its turn
// survives a crash. Everything before the end streams through untouched
// (a stream's lines are released whole, which is how clients read them).
type turnTee struct {
	api     api
	learner Learner
	log     *slog.Logger
	ctx     context.Context // the request's values, for the log
	turn    learn.Turn
	// lost counts turns promised to be learned that could not be queued.
	lost func()

	body   io.ReadCloser
	stream bool
	buf    []byte // the copy to learn from
	full   bool   // the answer outgrew maxCapture

	out     []byte // released bytes the client has not read yet
	outOff  int
	pend    []byte // bytes read from the upstream and held back
	scanned int    // how far pend has been searched for line ends
	holding bool   // the stream's terminal event is in pend: hold until EOF
	err     error  // how the upstream's body ended, returned once out is read
}

func (t *turnTee) attach(res *http.Response) {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	t.stream = mt == "text/event-stream"
	t.body = res.Body
	res.Body = t
}

func (t *turnTee) Read(p []byte) (int, error) {
	for {
		if t.outOff < len(t.out) {
			n := copy(p, t.out[t.outOff:])
			if t.outOff += n; t.outOff == len(t.out) {
				t.out, t.outOff = t.out[:0], 0
			}
			return n, nil
		}
		if t.err != nil {
			return 0, t.err
		}
		n, err := t.body.Read(p)
		if n > 0 {
			t.capture(p[:n])
			t.pend = append(t.pend, p[:n]...)
			t.release(t.releasable())
		}
		switch {
		case err == io.EOF:
			// The answer is complete: the turn goes to the outbox now, and
			// only then does its end reach the client.
			t.handOff()
			t.release(len(t.pend))
			t.err = io.EOF
		case err != nil:
			// Broken off: not learned, nothing more to hold back.
			t.release(len(t.pend))
			t.err = err
		}
	}
}

// capture appends b to the copy to learn from.
func (t *turnTee) capture(b []byte) {
	t.buf = append(t.buf, b...)
	if !t.full && len(t.buf) > maxCapture {
		t.full = true
	}
	if t.full && len(t.buf) > 2*tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
}

// release moves the first n held bytes to the client.
func (t *turnTee) release(n int) {
	if n <= 0 {
		return
	}
	t.out = append(t.out, t.pend[:n]...)
	t.pend = t.pend[:copy(t.pend, t.pend[n:])]
	t.scanned = max(t.scanned-n, 0)
}

// releasable is how many held bytes may go to the client before the
// answer has ended: a plain response all but its last byte; a stream its
// complete lines up to its terminal event.
func (t *turnTee) releasable() int {
	if !t.stream {
		return len(t.pend) - 1
	}
	end := 0 // the end of the last complete line
	for !t.holding {
		i := bytes.IndexAny(t.pend[t.scanned:], "\r\n")
		if i < 0 {
			t.scanned = len(t.pend)
			break
		}
		line := t.pend[end : t.scanned+i]
		t.scanned += i + 1
		if terminalLine(line) {
			t.holding = true
			break
		}
		end = t.scanned
	}
	return end
}

// terminalLine reports whether a line of a stream starts the event that
// ends it: clients stop reading there (go-openai at the [DONE] line itself,
// before the blank line that dispatches it).
func terminalLine(line []byte) bool {
	field, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return false
	}
	value = bytes.TrimSpace(value)
	switch string(bytes.TrimSpace(field)) {
	case "event":
		return endsResponse(string(value))
	case "data":
		if string(value) == "[DONE]" {
			return true
		}
		return len(value) > 0 && value[0] == '{' && bytes.Contains(value, []byte(`"response.`)) &&
			endsResponse(gjson.GetBytes(value, "type").String())
	}
	return false
}

// endsResponse reports whether a Responses API event type ends a stream.
func endsResponse(typ string) bool {
	switch typ {
	case "response.completed", "response.failed", "response.incomplete", "error":
		return true
	}
	return false
}

// Close ends the relay. A body that did not reach EOF was cut short (the
// client went away, or the upstream broke off) and is not learned from.
func (t *turnTee) Close() error { return t.body.Close() }

// handOff queues the complete answer's turn, on disk, before the answer's
// end is released. A bug in reading one answer must not take the sidecar
// down, nor the response.
func (t *turnTee) handOff() {
	defer func() {
		if r := recover(); r != nil {
			t.log.ErrorContext(t.ctx, "turn not learned: reading the answer panicked", "panic", r)
		}
	}()
	t.finish(t.buf, t.full)
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
		// The response said learning was on: this is a broken promise, not
		// a routine refusal (those are said beforehand, in the header).
		t.log.ErrorContext(t.ctx, "turn promised to be learned was not queued", "turn_id", turn.ID, "err", err)
		if t.lost != nil {
			t.lost()
		}
	}
}
