package proxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/memproxy/memproxy/memory/learn"
)

// clientView is a Learner that records, when a turn is handed to it, what
// the client had received of the answer by then.
type clientView struct {
	received  *bytes.Buffer
	atEnqueue []string
	err       error
}

func (c *clientView) Enqueue(t learn.Turn) error {
	c.atEnqueue = append(c.atEnqueue, c.received.String())
	return c.err
}

// relay runs an answer through a tee, reading as the reverse proxy does
// (in chunks of size n), and returns what the client received.
func relay(t *testing.T, a api, contentType, answer string, n int, l *clientView) string {
	t.Helper()
	var got bytes.Buffer
	l.received = &got
	lost := 0
	tee := &turnTee{api: a, learner: l, log: slog.New(slog.DiscardHandler), ctx: t.Context(),
		turn: learn.Turn{ID: "t1", UserMessages: []string{"I collect vinyl records."}}, lost: func() { lost++ }}
	res := &http.Response{Header: http.Header{"Content-Type": {contentType}},
		Body: io.NopCloser(iotest.HalfReader(strings.NewReader(answer)))}
	tee.attach(res)
	buf := make([]byte, n)
	for {
		k, err := res.Body.Read(buf)
		got.Write(buf[:k])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	res.Body.Close()
	if l.err != nil && lost != 1 {
		t.Errorf("a turn that could not be queued was counted lost %d times, want 1", lost)
	}
	return got.String()
}

// TestAnswerEndWaitsForTheOutbox: the client receives the answer's end —
// the terminal event of a stream, the last byte of a plain response — only
// after the turn was handed to the outbox, and otherwise every byte as the
// upstream sent it.
func TestAnswerEndWaitsForTheOutbox(t *testing.T) {
	chunk := func(s string) string {
		return `data: {"choices":[{"index":0,"delta":{"content":"` + s + `"}}]}`
	}
	for _, tc := range []struct {
		name, contentType, answer string
		api                       api
		// before must have reached the client before the hand-off, end not.
		before, end string
	}{
		{"chat stream", "text/event-stream", chunk("Nice") + "\n\n" + chunk(" collection.") + "\n\n" +
			`data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
			`data: {"choices":[],"usage":{"total_tokens":9}}` + "\n\n" + "data: [DONE]\n\n",
			chatCompletions, `"usage"`, "[DONE]"},
		{"chat stream, CRLF, no space", "text/event-stream; charset=utf-8",
			strings.ReplaceAll(chunk("Nice")+"\n\n"+"data:[DONE]\n\n", "\n", "\r\n"), chatCompletions, "Nice", "[DONE]"},
		{"responses stream", "text/event-stream",
			"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"status\":\"in_progress\"}}\n\n" +
				"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Nice\"}\n\n" +
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Nice\"}]}]}}\n\n",
			responses, "output_text.delta", "response.completed"},
		{"responses stream without event lines", "text/event-stream",
			"data: {\"type\":\"response.output_text.delta\",\"delta\":\"Nice\"}\n\n" +
				"data: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Nice\"}]}]}}\n\n",
			responses, "output_text.delta", "response.completed"},
		{"chat response", "application/json",
			`{"choices":[{"index":0,"message":{"role":"assistant","content":"Nice collection."}}]}`,
			chatCompletions, `"Nice collection."}}]`, `"Nice collection."}}]}`},
	} {
		for _, n := range []int{1, 7, 32 << 10} {
			t.Run(tc.name, func(t *testing.T) {
				l := &clientView{}
				got := relay(t, tc.api, tc.contentType, tc.answer, n, l)
				if got != tc.answer {
					t.Fatalf("the client received\n%q\nwant the upstream's answer\n%q", got, tc.answer)
				}
				if len(l.atEnqueue) != 1 {
					t.Fatalf("%d turns handed off, want 1", len(l.atEnqueue))
				}
				seen := l.atEnqueue[0]
				if !strings.Contains(seen, tc.before) {
					t.Errorf("at the hand-off the client had %q: the answer was held back before its end", seen)
				}
				if strings.Contains(seen, tc.end) {
					t.Errorf("the client had the answer's end before the turn was queued: %q", seen)
				}
			})
		}
	}
}

// TestAnswerEndsWhenTheOutboxRefuses: a turn that cannot be queued does
// not fail the chat; its loss is counted.
func TestAnswerEndsWhenTheOutboxRefuses(t *testing.T) {
	answer := `data: {"choices":[{"index":0,"delta":{"content":"Nice"}}]}` + "\n\ndata: [DONE]\n\n"
	l := &clientView{err: errors.New("no space left on device")}
	if got := relay(t, chatCompletions, "text/event-stream", answer, 4096, l); got != answer {
		t.Fatalf("the client received %q, want %q", got, answer)
	}
}
