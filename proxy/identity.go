package proxy

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/memproxy/memproxy/memory"
)

// IdentityOptions say which headers carry who a request is for. Each list
// is tried in order; the first header present wins.
type IdentityOptions struct {
	UserHeaders  []string
	AgentHeaders []string
	RunHeaders   []string
	ModeHeaders  []string
	// FromBody takes the user id from the body's "user" or
	// "safety_identifier" when no header names one.
	FromBody bool
}

// Mode is what a request may do with memory (X-Memory-Mode).
type Mode string

const (
	ModeOn    Mode = "on"    // recall and learn
	ModeOff   Mode = "off"   // neither
	ModeRead  Mode = "read"  // recall only
	ModeWrite Mode = "write" // learn only
)

func (m Mode) reads() bool  { return m == ModeOn || m == ModeRead }
func (m Mode) writes() bool { return m == ModeOn || m == ModeWrite }

// maxIDBytes bounds an id: ids name people and agents, not documents.
const maxIDBytes = 256

type identityReader struct {
	user, agent, run, modes []string // canonical header names
	all                     []string
	fromBody                bool
}

func newIdentityReader(o IdentityOptions) *identityReader {
	canon := func(hs []string, def string) []string {
		if len(hs) == 0 {
			hs = []string{def}
		}
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = textproto.CanonicalMIMEHeaderKey(h)
		}
		return out
	}
	ir := &identityReader{
		user:     canon(o.UserHeaders, "X-Memory-User-Id"),
		agent:    canon(o.AgentHeaders, "X-Memory-Agent-Id"),
		run:      canon(o.RunHeaders, "X-Memory-Run-Id"),
		modes:    canon(o.ModeHeaders, "X-Memory-Mode"),
		fromBody: o.FromBody,
	}
	for _, l := range [][]string{ir.user, ir.agent, ir.run, ir.modes} {
		ir.all = append(ir.all, l...)
	}
	return ir
}

// read returns the identity a request's headers assert. A value that
// cannot be an id (control characters, invalid UTF-8, too long) is an
// error that names the header.
func (ir *identityReader) read(h http.Header) (memory.Identity, error) {
	var id memory.Identity
	var err error
	if id.UserID, err = first(h, ir.user); err != nil {
		return id, err
	}
	if id.AgentID, err = first(h, ir.agent); err != nil {
		return id, err
	}
	if id.RunID, err = first(h, ir.run); err != nil {
		return id, err
	}
	return id, nil
}

// mode returns what the request may do with memory: on unless a mode
// header says otherwise; an unknown mode is an error naming the header.
func (ir *identityReader) mode(h http.Header) (Mode, error) {
	m, err := first(h, ir.modes)
	if err != nil || m == "" {
		return ModeOn, err
	}
	switch mode := Mode(strings.ToLower(strings.TrimSpace(m))); mode {
	case ModeOn, ModeOff, ModeRead, ModeWrite:
		return mode, nil
	}
	return "", fmt.Errorf("%s: %q is not on, off, read or write", headerNamed(h, ir.modes), m)
}

// userFromBody returns the user id a request body carries, for
// deployments that opted in to it.
func (ir *identityReader) userFromBody(body []byte) (string, error) {
	if !ir.fromBody {
		return "", nil
	}
	for _, key := range []string{"user", "safety_identifier"} {
		if v := gjson.GetBytes(body, key); v.Type == gjson.String && v.Str != "" {
			if err := CheckID(v.Str); err != nil {
				return "", fmt.Errorf("body field %s: %w", key, err)
			}
			return v.Str, nil
		}
	}
	return "", nil
}

// strip removes every identity and control header, the configured ones
// and all of the sidecar's X-Memory- namespace (keys, signatures): the
// upstream must not learn who the sidecar's users are from them.
func (ir *identityReader) strip(h http.Header) {
	for _, k := range ir.all {
		delete(h, k)
	}
	for k := range h {
		if strings.HasPrefix(k, "X-Memory-") {
			delete(h, k)
		}
	}
}

func first(h http.Header, names []string) (string, error) {
	for _, n := range names {
		vs := h[n]
		if len(vs) == 0 || vs[0] == "" {
			continue
		}
		if len(vs) > 1 {
			return "", fmt.Errorf("%s: sent %d times; send it once", n, len(vs))
		}
		if err := CheckID(vs[0]); err != nil {
			return "", fmt.Errorf("%s: %w", n, err)
		}
		return vs[0], nil
	}
	return "", nil
}

func headerNamed(h http.Header, names []string) string {
	for _, n := range names {
		if _, ok := h[n]; ok {
			return n
		}
	}
	return names[0]
}

// CheckID accepts an id of a user, agent, run or app, from a header, the
// body or the memory API: any printable UTF-8 text up to maxIDBytes that
// is not "*" and neither begins nor ends with whitespace or an invisible
// character. Ids are never interpreted: stores compare them as opaque
// values, so quotes, operators and the like are harmless. The rule is one
// for every channel, so that one person is one scope however the id
// arrives: "sarah " would be another user than "sarah" (and HTTP drops
// the blanks around a header value, so the same id would be two users
// depending on the channel), and "*" is the filters' wildcard, so a user
// of that name would be listed as everyone. Control characters (C0, DEL,
// C1), line and paragraph separators and broken encodings are refused
// because no legitimate id has them and logs should not carry them.
func CheckID(s string) error {
	if len(s) > maxIDBytes {
		return fmt.Errorf("id is %d bytes long; at most %d", len(s), maxIDBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("id is not valid UTF-8")
	}
	if s == "*" {
		return fmt.Errorf(`id is "*", the filters' wildcard for any id; no user, agent, run or app may be named "*"`)
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	for _, r := range []rune{first, last} {
		if unicode.IsSpace(r) {
			return fmt.Errorf("id %q begins or ends with whitespace, so it would name another scope than the id without it; trim it", s)
		}
		if unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("id %q begins or ends with an invisible character (%U), so it would name another scope than the id without it; remove it", s, r)
		}
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("id contains a control character")
		}
	}
	return nil
}
