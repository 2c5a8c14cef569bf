package injector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// Errors for bodies the block cannot be placed in. The caller forwards such
// a request unchanged: the upstream is the judge of its own API.
var (
	ErrNotJSON    = errors.New("request body is not valid JSON")
	ErrNoMessages = errors.New("request has no messages array")
	ErrBadShape   = errors.New("request has an unexpected shape")
)

// Chat places block at the start of the first system or developer message
// of a Chat Completions request, or inserts a system message first when
// there is none. A string content gets the block and a blank line in front
// of it; an array of content parts gets a text part in front. Every other
// byte of body is kept: key order, number formatting, unknown fields,
// escaping.
func Chat(body []byte, block string) ([]byte, error) {
	if block == "" {
		return body, nil
	}
	if !gjson.ValidBytes(body) {
		return nil, ErrNotJSON
	}
	msgs := gjson.GetBytes(body, "messages")
	if !msgs.IsArray() {
		return nil, ErrNoMessages
	}
	var target gjson.Result
	msgs.ForEach(func(_, m gjson.Result) bool {
		if role := m.Get("role").String(); m.IsObject() && (role == "system" || role == "developer") {
			target = m
			return false
		}
		return true
	})
	if !target.Exists() {
		msg := `{"role":"system","content":` + jsonString(block) + `}`
		return insertFirst(body, msgs, msg)
	}
	content := target.Get("content")
	switch {
	case content.Type == gjson.String:
		return prependToString(body, content, block+"\n\n")
	case content.IsArray():
		return insertFirst(body, content, `{"type":"text","text":`+jsonString(block)+`}`)
	case !content.Exists(): // checked before Null: a missing key has type Null too
		return insertKey(body, target, `"content":`+jsonString(block))
	case content.Type == gjson.Null:
		return replace(body, content, jsonString(block))
	}
	return nil, fmt.Errorf("%w: the %s message's content is %s, not a string or an array", ErrBadShape, target.Get("role").String(), content.Type)
}

// Responses places block at the start of the instructions of a Responses
// API request, creating them when absent.
func Responses(body []byte, block string) ([]byte, error) {
	if block == "" {
		return body, nil
	}
	if !gjson.ValidBytes(body) {
		return nil, ErrNotJSON
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, fmt.Errorf("%w: the body is not a JSON object", ErrBadShape)
	}
	instr := root.Get("instructions")
	switch {
	case instr.Type == gjson.String:
		return prependToString(body, instr, block+"\n\n")
	case !instr.Exists():
		return insertKey(body, root, `"instructions":`+jsonString(block))
	case instr.Type == gjson.Null:
		return replace(body, instr, jsonString(block))
	}
	return nil, fmt.Errorf("%w: instructions is %s, not a string", ErrBadShape, instr.Type)
}

// jsonString encodes s as a JSON string literal. HTML characters are left
// as they are: the block's own delimiters should read plainly in the body,
// and memory texts inside it are already escaped by quote.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// raw returns the exact bytes of r within body, checking that gjson's
// offset is known and right; every edit goes through it.
func raw(body []byte, r gjson.Result) (start, end int, err error) {
	start, end = r.Index, r.Index+len(r.Raw)
	if r.Index <= 0 || end > len(body) || !bytes.Equal(body[start:end], []byte(r.Raw)) {
		return 0, 0, fmt.Errorf("%w: cannot locate a value in the body", ErrBadShape)
	}
	return start, end, nil
}

func splice(body []byte, at, end int, insert string) []byte {
	out := make([]byte, 0, len(body)-(end-at)+len(insert))
	out = append(out, body[:at]...)
	out = append(out, insert...)
	return append(out, body[end:]...)
}

// prependToString inserts text after the opening quote of the string s,
// so that the original escaping of the rest is kept.
func prependToString(body []byte, s gjson.Result, text string) ([]byte, error) {
	start, _, err := raw(body, s)
	if err != nil {
		return nil, err
	}
	lit := jsonString(text)
	return splice(body, start+1, start+1, lit[1:len(lit)-1]), nil
}

func replace(body []byte, v gjson.Result, with string) ([]byte, error) {
	start, end, err := raw(body, v)
	if err != nil {
		return nil, err
	}
	return splice(body, start, end, with), nil
}

// insertFirst makes elem the first element of the array arr.
func insertFirst(body []byte, arr gjson.Result, elem string) ([]byte, error) {
	start, end, err := raw(body, arr)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body[start+1:end-1])) > 0 {
		elem += ","
	}
	return splice(body, start+1, start+1, elem), nil
}

// insertKey makes member ("key":value) the first member of the object obj.
func insertKey(body []byte, obj gjson.Result, member string) ([]byte, error) {
	start, end, err := raw(body, obj)
	if err != nil {
		// The root object has Index 0, which raw cannot tell from unknown.
		if obj.Index != 0 || !bytes.Equal(bytes.TrimSpace(body), []byte(obj.Raw)) {
			return nil, err
		}
		start = bytes.IndexByte(body, '{')
		end = bytes.LastIndexByte(body, '}') + 1
	}
	if len(bytes.TrimSpace(body[start+1:end-1])) > 0 {
		member += ","
	}
	return splice(body, start+1, start+1, member), nil
}
