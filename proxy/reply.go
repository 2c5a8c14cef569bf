package proxy

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// A reply is what the assistant answered, read from a captured response.
type reply struct {
	text      string
	toolCalls []toolCall
	// complete is set when the answer ended normally: a stream reached its
	// terminal event with no error in band; a plain response is a success.
	complete bool
}

// A toolCall is a function the assistant called. Tool calls are not
// learned from (their arguments are the model's words, often echoing
// personal data), and so never reach the outbox; they are read so that the
// log can say what an answer without text did.
type toolCall struct {
	Name      string
	Arguments string
}

// chatReply reads a Chat Completions response or stream (choice 0).
func chatReply(raw []byte, stream bool) reply {
	if !stream {
		if !gjson.ValidBytes(raw) {
			return reply{}
		}
		msg := gjson.GetBytes(raw, "choices.0.message")
		if !msg.Exists() || gjson.GetBytes(raw, "error").Exists() {
			return reply{}
		}
		r := reply{text: msg.Get("content").String(), complete: true}
		msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
			r.toolCalls = append(r.toolCalls, toolCall{
				Name: tc.Get("function.name").String(), Arguments: tc.Get("function.arguments").String(),
			})
			return true
		})
		return r
	}

	var (
		text     strings.Builder
		calls    []toolCall
		done     bool
		finished bool
		failed   bool
	)
	sseEvents(raw, func(_ string, data []byte) {
		if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
			done = true
			return
		}
		if !gjson.ValidBytes(data) {
			failed = true
			return
		}
		chunk := gjson.ParseBytes(data)
		if chunk.Get("error").Exists() {
			failed = true
			return
		}
		chunk.Get("choices").ForEach(func(_, ch gjson.Result) bool {
			if ch.Get("index").Int() != 0 {
				return true
			}
			delta := ch.Get("delta")
			text.WriteString(delta.Get("content").String())
			delta.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
				i := int(tc.Get("index").Int())
				if i < 0 || i > 127 {
					return true
				}
				for len(calls) <= i {
					calls = append(calls, toolCall{})
				}
				if n := tc.Get("function.name").String(); n != "" {
					calls[i].Name = n
				}
				calls[i].Arguments += tc.Get("function.arguments").String()
				return true
			})
			if fr := ch.Get("finish_reason"); fr.Exists() && fr.Type != gjson.Null {
				finished = true
			}
			return true
		})
	})
	return reply{text: text.String(), toolCalls: calls, complete: (done || finished) && !failed}
}

// responsesReply reads a Responses API response, or the response carried
// by the response.completed event of a stream.
func responsesReply(raw []byte, stream bool) reply {
	if !stream {
		if !gjson.ValidBytes(raw) {
			return reply{}
		}
		return responseOutput(gjson.ParseBytes(raw))
	}
	var r reply
	failed := false
	sseEvents(raw, func(event string, data []byte) {
		if !gjson.ValidBytes(data) {
			failed = true
			return
		}
		ev := gjson.ParseBytes(data)
		typ := ev.Get("type").String()
		if typ == "" {
			typ = event
		}
		switch typ {
		case "response.completed":
			r = responseOutput(ev.Get("response"))
		case "error", "response.failed", "response.incomplete":
			failed = true
		}
	})
	r.complete = r.complete && !failed
	return r
}

func responseOutput(resp gjson.Result) reply {
	if !resp.IsObject() || resp.Get("error").Type == gjson.JSON {
		return reply{}
	}
	if st := resp.Get("status").String(); st != "" && st != "completed" {
		return reply{}
	}
	var r reply
	var text strings.Builder
	resp.Get("output").ForEach(func(_, item gjson.Result) bool {
		switch item.Get("type").String() {
		case "message":
			item.Get("content").ForEach(func(_, part gjson.Result) bool {
				if part.Get("type").String() == "output_text" {
					text.WriteString(part.Get("text").String())
				}
				return true
			})
		case "function_call":
			r.toolCalls = append(r.toolCalls, toolCall{
				Name: item.Get("name").String(), Arguments: item.Get("arguments").String(),
			})
		}
		return true
	})
	r.text, r.complete = text.String(), true
	return r
}

// chatEnded reports whether the tail of a Chat Completions stream holds
// its [DONE] after the last in-band error, if any.
func chatEnded(tail []byte) bool {
	done := bytes.LastIndex(tail, []byte("data: [DONE]"))
	return done >= 0 && bytes.LastIndex(tail, []byte(`"error"`)) < done
}

// responsesEnded reports whether the tail of a Responses stream holds its
// response.completed event and no failure.
func responsesEnded(tail []byte) bool {
	return bytes.Contains(tail, []byte("event: response.completed")) &&
		!bytes.Contains(tail, []byte("event: response.failed")) && !bytes.Contains(tail, []byte("event: error"))
}

// sseEvents calls fn for each complete event of a server-sent event
// stream, as the HTML standard defines them: lines end with CRLF, LF or
// CR; "data:" lines accumulate, joined by LF; "event:" names the event; a
// blank line dispatches it; an event without data is not dispatched; an
// unterminated last event is dropped.
func sseEvents(raw []byte, fn func(event string, data []byte)) {
	var (
		event   string
		data    []byte
		hasData bool
	)
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, "\r\n")
		if i < 0 {
			return // unterminated line: the stream was cut
		}
		line := raw[:i]
		if raw[i] == '\r' && i+1 < len(raw) && raw[i+1] == '\n' {
			i++
		}
		raw = raw[i+1:]

		if len(line) == 0 {
			if hasData {
				fn(event, data)
			}
			event, data, hasData = "", nil, false
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "event":
			event = string(value)
		}
	}
}
