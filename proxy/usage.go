package proxy

import (
	"bytes"
	"io"
	"mime"
	"net/http"

	"github.com/tidwall/gjson"
	"go.opentelemetry.io/otel/trace"
)

// maxUsageCapture bounds the copy of a plain (not streamed) answer kept to
// read its usage from; a larger answer's usage is not read.
const maxUsageCapture = 8 << 20

// A chatCall is one chat request's call to the upstream: the model asked
// for and, read from the answer as it passes, the model that answered and
// the tokens it counted. Both APIs are read: Chat Completions' usage
// (prompt_tokens, completion_tokens, in the last chunk of a stream when the
// client asked for stream_options.include_usage) and the Responses API's
// (input_tokens, output_tokens, in response.completed).
type chatCall struct {
	requestModel  string
	responseModel string
	inputTokens   int64
	outputTokens  int64
	hasUsage      bool
	status        int        // the upstream's HTTP status; 0: none came
	span          trace.Span // the upstream call's span, when tracing
}

func newChatCall(body []byte) *chatCall {
	return &chatCall{requestModel: gjson.GetBytes(body, "model").String()}
}

// model is the model to name in metrics: the one that answered.
func (c *chatCall) model() string {
	if c.responseModel != "" {
		return c.responseModel
	}
	return c.requestModel
}

// read takes the model and usage from one JSON object: a response, a
// stream's chunk, or a Responses API event.
func (c *chatCall) read(v gjson.Result) {
	if r := v.Get("response"); r.IsObject() {
		v = r // a Responses API event carries its response
	}
	if m := v.Get("model").String(); m != "" && c.responseModel == "" {
		c.responseModel = m
	}
	u := v.Get("usage")
	if !u.IsObject() {
		return
	}
	in, out := u.Get("prompt_tokens"), u.Get("completion_tokens")
	if !in.Exists() {
		in, out = u.Get("input_tokens"), u.Get("output_tokens")
	}
	if in.Exists() || out.Exists() {
		c.inputTokens, c.outputTokens, c.hasUsage = in.Int(), out.Int(), true
	}
}

// attach makes res's body report its model and usage to c as the client
// reads it. It copies nothing of a stream but the line being read.
func (c *chatCall) attach(res *http.Response) {
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	res.Body = &usageReader{ReadCloser: res.Body, call: c, stream: mt == "text/event-stream"}
}

// A usageReader reads the model and usage from an answer on its way to the
// client: a stream line by line, a plain answer whole at its end.
type usageReader struct {
	io.ReadCloser
	call   *chatCall
	stream bool
	buf    []byte // a stream's unfinished line; a plain answer so far
	over   bool   // a plain answer outgrew maxUsageCapture
	done   bool
}

func (r *usageReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 && !r.done {
		if r.stream {
			r.lines(p[:n])
		} else if !r.over {
			r.buf = append(r.buf, p[:n]...)
			if r.over = len(r.buf) > maxUsageCapture; r.over {
				r.buf = nil
			}
		}
	}
	if err == io.EOF && !r.done {
		r.done = true
		if !r.stream && !r.over && gjson.ValidBytes(r.buf) {
			r.call.read(gjson.ParseBytes(r.buf))
		}
		r.buf = nil
	}
	return n, err
}

// lines reads the complete data lines of a stream in b.
func (r *usageReader) lines(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(r.buf)+len(b) <= maxUsageCapture {
				r.buf = append(r.buf, b...)
			}
			return
		}
		line := b[:i]
		if len(r.buf) > 0 {
			line = append(r.buf, line...)
			r.buf = r.buf[:0]
		}
		b = b[i+1:]
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !ok {
			continue
		}
		// Most chunks carry neither news of the model nor usage: only
		// those that may are parsed.
		if r.call.responseModel == "" || bytes.Contains(data, []byte(`"usage"`)) {
			if data = bytes.TrimSpace(data); gjson.ValidBytes(data) {
				r.call.read(gjson.ParseBytes(data))
			}
		}
	}
}
