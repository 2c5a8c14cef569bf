package proxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ownPaths are the path prefixes of the memory API and of the sidecar's
// own endpoints. A request there is never forwarded, so that a memory API
// key never reaches the upstream, even for an endpoint not served.
var ownPaths = []string{
	"/v1/memories", "/v2/memories", "/v3/memories", "/v1/entities", "/v2/entities", "/v1/batch",
	"/v1/event", "/v1/exports", "/v1/summary", "/v1/feedback", "/v1/ping", "/v2/profiles",
	"/api/v1/orgs", "/api/v1/webhooks", "/memproxy",
}

// ownSegments are ownPaths split into their segments.
var ownSegments = func() [][]string {
	out := make([][]string, len(ownPaths))
	for i, p := range ownPaths {
		out[i] = strings.Split(strings.TrimPrefix(p, "/"), "/")
	}
	return out
}()

// ownPath reports whether p, spelt exactly, is one of the sidecar's own
// paths.
func ownPath(p string) bool {
	for _, own := range ownPaths {
		if p == own || strings.HasPrefix(p, own+"/") {
			return true
		}
	}
	return false
}

// maxUnescapes bounds how often a path is percent-decoded: %252f is %2f
// decoded once, / twice. A server or proxy decodes at most once or twice;
// four rounds cover every chain of them.
const maxUnescapes = 4

// canonicalPath is the path escaped (as it came in the request line) as
// the most lenient server on the way could read it (see segments), with
// dot segments resolved and empty segments merged, as nginx and Go's
// path.Clean do.
func canonicalPath(escaped string) string {
	var out []string
	for _, seg := range segments(escaped) {
		if seg == ".." {
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		out = append(out, seg)
	}
	return "/" + strings.Join(out, "/")
}

// segments are the segments of the path escaped, read leniently:
// percent-escapes decoded until none is left (within maxUnescapes),
// fullwidth forms read as ASCII, backslashes as slashes, lower case, each
// segment cut at a ";" (path parameters), a decoded "?" or "#", or a NUL,
// and stripped of trailing blanks and dots (as Windows does). Empty and
// "." segments are dropped; ".." segments (any run of two or more dots)
// are kept as "..". This decides whether a path is the sidecar's; it is
// never what is forwarded.
func segments(escaped string) []string {
	p, _ := unescapeAll(escaped)
	p = strings.Map(func(r rune) rune {
		if r >= 0xFF01 && r <= 0xFF5E { // fullwidth ASCII, as NFKC reads it
			r -= 0xFEE0
		}
		if r == '\\' {
			return '/'
		}
		return r
	}, p)
	p = strings.ToLower(p)
	var segs []string
	for _, seg := range strings.Split(p, "/") {
		if i := strings.IndexAny(seg, ";?#\x00"); i >= 0 {
			seg = seg[:i]
		}
		seg = strings.TrimRight(seg, " \t")
		if len(seg) >= 2 && strings.Trim(seg, ".") == "" {
			segs = append(segs, "..")
			continue
		}
		if seg = strings.TrimRight(seg, ". \t"); seg != "" {
			segs = append(segs, seg)
		}
	}
	return segs
}

// unescapeAll decodes escaped until no escape is left, at most
// maxUnescapes times; done is false if escapes are left.
func unescapeAll(escaped string) (p string, done bool) {
	p = escaped
	for range maxUnescapes {
		d := unescapeLenient(p)
		if d == p {
			return p, true
		}
		p = d
	}
	return p, unescapeLenient(p) == p
}

// unescapeLenient decodes every valid %XX in s and keeps anything else as
// it is: one malformed escape must not hide the valid ones beside it.
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// ownCanonical reports whether a canonical path (see canonicalPath) is
// one of the sidecar's own.
func ownCanonical(canon string) bool {
	return ownAt(strings.Split(strings.TrimPrefix(canon, "/"), "/"), 0)
}

// ownAt reports whether segs[i:] starts with one of the sidecar's paths.
func ownAt(segs []string, i int) bool {
outer:
	for _, own := range ownSegments {
		if len(segs)-i < len(own) {
			continue
		}
		for j, s := range own {
			if segs[i+j] != s {
				continue outer
			}
		}
		return true
	}
	return false
}

// dotsReachOwn reports whether a path with ".." segments names one of the
// sidecar's paths anywhere in it (the last segment of one of ownPaths).
// Servers resolve ".." differently (before or after decoding, counting
// empty segments or not), and one of them may resolve it onto that path;
// no API path needs "..", so any such path is taken for the sidecar's.
func dotsReachOwn(segs []string) bool {
	if !slices.Contains(segs, "..") {
		return false
	}
	for _, s := range segs {
		for _, own := range ownSegments {
			if s == own[len(own)-1] {
				return true
			}
		}
	}
	return false
}

// misspeltOwnPath returns why a request to a path no route serves is not
// forwarded: nil when the path is not the sidecar's (it is forwarded), an
// errExactOwn when it is the sidecar's own path spelt exactly, and an
// error naming the canonical spelling when it is the sidecar's spelt
// another way. Serving those would make every spelling a route of its
// own to review; forwarding them would send the memory API key upstream.
func misspeltOwnPath(r *http.Request) error {
	escaped := r.URL.EscapedPath()
	if _, done := unescapeAll(escaped); !done {
		// No server reads a path decoded five times over, so nothing
		// legitimate is refused; but what it is cannot be decided.
		return fmt.Errorf("the path %s is percent-encoded more than %d times over; it is neither served nor forwarded", escaped, maxUnescapes)
	}
	canon := canonicalPath(escaped)
	if !ownCanonical(canon) && !dotsReachOwn(segments(escaped)) {
		return nil
	}
	if ownPath(r.URL.Path) && escaped == r.URL.Path && canonicalSpelling(r.URL.Path) {
		return errExactOwn
	}
	return fmt.Errorf("the path %s is the sidecar's own %s spelt another way (dot segments, repeated slashes, "+
		"letter case, percent-encoded characters, path parameters or backslashes); it is neither served nor forwarded: "+
		"send it as %s", escaped, canon, canon)
}

// errExactOwn: the path is the sidecar's, spelt exactly, and not served.
var errExactOwn = errors.New("the sidecar's own path, not served")

// canonicalSpelling reports whether p needs no reading at all: no empty,
// dot or dotted segments, no parameters, backslashes, blanks or controls.
func canonicalSpelling(p string) bool {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		if s == "" && i != len(segs)-1 || strings.HasSuffix(s, ".") {
			return false
		}
	}
	return !strings.ContainsFunc(p, func(r rune) bool {
		return r == ';' || r == '\\' || r <= ' ' || r == 0x7F || r >= 0xFF01 && r <= 0xFF5E
	})
}

// keyHolder finds the memory API's keys in request headers.
type keyHolder struct{ keys []string }

func newKeyHolder(keys []string) keyHolder {
	var kh keyHolder
	for _, k := range keys {
		if k != "" {
			kh.keys = append(kh.keys, k)
		}
	}
	return kh
}

// strip removes from h every header that carries a memory API key, in
// any scheme (Token, Bearer, bare, inside Basic credentials) and under
// any name (Authorization, X-API-Key, ...): the upstream is another
// party, and a memory API key opens every user's memories.
func (kh keyHolder) strip(h http.Header) {
	if len(kh.keys) == 0 {
		return
	}
	for name, vs := range h {
		for _, v := range vs {
			if kh.carries(v) {
				delete(h, name)
				break
			}
		}
	}
}

func (kh keyHolder) carries(v string) bool {
	for _, k := range kh.keys {
		if strings.Contains(v, k) {
			return true
		}
	}
	for _, f := range strings.Fields(v) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(f); err == nil {
				for _, k := range kh.keys {
					if strings.Contains(string(d), k) {
						return true
					}
				}
			}
		}
	}
	return false
}
