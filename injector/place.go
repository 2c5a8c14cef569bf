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
	if err := Check(body, "messages"); err != nil {
		return nil, err
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
	if err := noDuplicates(target, "role", "content"); err != nil {
		return nil, err
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
	if err := Check(body, "instructions"); err != nil {
		return nil, err
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

// raw returns where the value r sits in body, without the white space
// gjson may include around it, checking that gjson's offset is right;
// every edit goes through it.
func raw(body []byte, r gjson.Result) (start, end int, err error) {
	v := bytes.TrimRight([]byte(r.Raw), " \t\r\n")
	start = r.Index
	if start == 0 {
		// The root value: gjson reports no offset for it.
		start = len(body) - len(bytes.TrimLeft(body, " \t\r\n"))
		v = bytes.TrimLeft(v, " \t\r\n")
	}
	end = start + len(v)
	if len(v) == 0 || end > len(body) || !bytes.Equal(body[start:end], v) {
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
		return nil, err
	}
	if len(bytes.TrimSpace(body[start+1:end-1])) > 0 {
		member += ","
	}
	return splice(body, start+1, start+1, member), nil
}

// Check reports whether the block can be placed in a request body of this
// API reliably: the body is JSON, and none of the keys the sidecar reads
// appears twice at one level (JSON parsers disagree about which copy
// counts, and the upstream might read the other one).
func Check(body []byte, keys ...string) error {
	if !gjson.ValidBytes(body) {
		return ErrNotJSON
	}
	return noDuplicates(gjson.ParseBytes(body), keys...)
}

func noDuplicates(obj gjson.Result, keys ...string) error {
	if !obj.IsObject() {
		return nil
	}
	seen := map[string]bool{}
	var dup string
	obj.ForEach(func(k, _ gjson.Result) bool {
		for _, want := range keys {
			if k.String() == want {
				if seen[want] {
					dup = want
					return false
				}
				seen[want] = true
			}
		}
		return true
	})
	if dup != "" {
		return fmt.Errorf("%w: the key %q appears twice", ErrBadShape, dup)
	}
	return nil
}
