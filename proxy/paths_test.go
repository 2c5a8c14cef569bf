package proxy

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

func TestCanonicalPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/v1/memories/", "/v1/memories"},
		{"//v1//memories/", "/v1/memories"},
		{"/v1/./memories/", "/v1/memories"},
		{"/v1/chat/../memories/", "/v1/memories"},
		{"/../../v1/memories", "/v1/memories"},
		{"/V1/Memories/", "/v1/memories"},
		{"/v1/memories;x=1/", "/v1/memories"},
		{"/v1/memories..;/", "/v1/memories"},
		{"/v1%2fmemories%2F", "/v1/memories"},
		{"/v1/%6Demories/", "/v1/memories"},
		{"/v1\\memories\\", "/v1/memories"},
		{"/v1%5Cmemories", "/v1/memories"},
		{"/v1/memories./", "/v1/memories"},
		{"/v1/memories%2e%2E/", "/v1/memories"},
		{"/v1/x/%252e%252e/memories", "/v1/memories"},
		{"/v1/memories%00.json", "/v1/memories"},
		{"/v1/memories%3fx", "/v1/memories"},
		{"/v1/memories%20%09/", "/v1/memories"},
		{"/%EF%BD%961/memories", "/v1/memories"}, // a fullwidth v
		{"/v1/memories%zz%2f", "/v1/memories%zz"},
		{"/v1/chat/completions", "/v1/chat/completions"},
		{"/v1/models/gpt-4o", "/v1/models/gpt-4o"},
		{"", "/"},
	} {
		if got := canonicalPath(tc.in); got != tc.want {
			t.Errorf("canonicalPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// stubAPI is a memory API of one route, /v1/ping/, keyed by apiKey.
type stubAPI struct{}

const apiKey = "mem-key-0123456789"

func (stubAPI) Register(r gin.IRouter) {
	r.GET("/v1/ping/", func(c *gin.Context) { c.JSON(200, gin.H{"status": "ok"}) })
}
func (stubAPI) Unserved(c *gin.Context) { c.AbortWithStatusJSON(501, gin.H{"detail": "unserved"}) }
func (stubAPI) Refuse(c *gin.Context, status int, code, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"detail": msg, "error": code})
}
func (stubAPI) Keys() []string { return []string{"", apiKey} }

// recordingTransport answers every request 200 and keeps it.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, r)
	rt.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

func (rt *recordingTransport) take() []*http.Request {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := rt.reqs
	rt.reqs = nil
	return out
}

// nopRecaller recalls nothing.
type nopRecaller struct{}

func (nopRecaller) Recall(context.Context, memory.RecallRequest) (memory.Recalled, error) {
	return memory.Recalled{}, nil
}

func newPathServer(t testing.TB) (*Server, *recordingTransport) {
	t.Helper()
	rt := &recordingTransport{}
	up, _ := url.Parse("http://upstream.invalid/v1")
	return New(Options{Upstream: up, Transport: rt, Recaller: nopRecaller{}, API: stubAPI{}}), rt
}

// serveRaw serves a request whose request line carries raw exactly, as
// net/http would hand it to the handler; ok is false when net/http would
// refuse the request line itself.
func serveRaw(s *Server, method, raw string, header http.Header) (code int, ok bool) {
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return 0, false
	}
	r := &http.Request{
		Method: method, URL: u, RequestURI: raw, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header.Clone(), Body: http.NoBody, Host: "sidecar",
	}
	w := recorder{httptest.NewRecorder()}
	s.ServeHTTP(w, r)
	return w.Code, true
}

// recorder is a ResponseRecorder that the reverse proxy can watch for
// the client going away, as it does a server's ResponseWriter.
type recorder struct{ *httptest.ResponseRecorder }

func (recorder) CloseNotify() <-chan bool { return nil }

// mutate spells path another way that some server might read as the
// same path, with the choices drawn from next. The result starts with a
// slash, as a request line's path must.
func mutate(path string, next func(n int) int) string {
	p := respell(path, next)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

func respell(path string, next func(n int) int) string {
	switch next(11) {
	case 0: // a repeated slash
		i := strings.Index(path[1:], "/") + 1
		return path[:i] + "/" + path[i:]
	case 1: // a dot segment
		return strings.Replace(path, "/", "/./", 1+next(2))
	case 2: // a detour
		i := strings.LastIndex(path, "/")
		if i < 0 {
			return path
		}
		return path[:i] + "/chat/.." + path[i:]
	case 3: // letter case
		b := []byte(path)
		i := next(len(b))
		if 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
		return string(b)
	case 4: // a percent-encoded character, separators included
		i := next(len(path))
		if path[i] == '%' {
			return path
		}
		hex := "%" + strings.ToUpper(fmt.Sprintf("%02x", path[i]))
		if next(2) == 0 {
			hex = strings.ToLower(hex)
		}
		return path[:i] + hex + path[i+1:]
	case 5: // a path parameter
		i := strings.Index(path[1:], "/") + 1
		return path[:i] + ";p=1" + path[i:]
	case 6: // a backslash
		return strings.Replace(path, "/", []string{`\`, "%5c"}[next(2)], 1+next(2))
	case 7: // a trailing dot on a segment
		i := strings.LastIndex(strings.TrimSuffix(path, "/"), "/")
		j := strings.Index(path[i+1:], "/")
		if j < 0 {
			return path + "."
		}
		return path[:i+1+j] + "." + path[i+1+j:]
	case 8: // double encoding
		return strings.Replace(path, "%", "%25", 1)
	case 9: // a fullwidth letter
		i := strings.IndexAny(path, "vm")
		if i < 0 {
			return path
		}
		fw := map[byte]string{'v': "%EF%BD%96", 'm': "%EF%BD%8D"}[path[i]]
		return path[:i] + fw + path[i+1:]
	}
	return path + []string{"%20", "%00", ";", "/."}[next(4)]
}

var ownSamples = []string{
	"/v1/memories/", "/v1/memories/abc/history/", "/v2/memories/search/", "/v3/memories/add/", "/v1/ping/",
	"/v1/batch/", "/v1/entities/user/sarah/", "/v2/entities/user/sarah/", "/v1/event/e1/", "/memproxy/outbox",
	"/memproxy/explain", "/memproxy/outbox/dead/1/retry",
}

// checkNeverForwarded serves path with each method and the memory key:
// nothing may reach the upstream.
// It reports false when net/http would refuse the path itself.
func checkNeverForwarded(t testing.TB, s *Server, rt *recordingTransport, path string) bool {
	t.Helper()
	for _, method := range []string{"GET", "POST", "DELETE"} {
		code, ok := serveRaw(s, method, path, http.Header{"Authorization": {"Token " + apiKey}})
		if !ok {
			return false
		}
		for _, r := range rt.take() {
			t.Errorf("%s %s (canonical %s) was forwarded as %s with Authorization %q",
				method, path, canonicalPath(path), r.URL, r.Header.Get("Authorization"))
		}
		if code != 200 && code != 400 && code != 501 {
			t.Errorf("%s %s: %d, want it served or refused", method, path, code)
		}
	}
	return true
}

// TestMutatedOwnPathsAreNeverForwarded: chains of random respellings of
// the sidecar's own paths never reach the upstream.
func TestMutatedOwnPathsAreNeverForwarded(t *testing.T) {
	s, rt := newPathServer(t)
	rng := rand.New(rand.NewPCG(15, 1))
	const n = 3000
	served := 0
	for range n {
		p := ownSamples[rng.IntN(len(ownSamples))]
		for range 1 + rng.IntN(4) {
			p = mutate(p, rng.IntN)
		}
		if checkNeverForwarded(t, s, rt, p) {
			served++
		}
		if t.Failed() {
			return
		}
	}
	// Respellings net/http refuses itself prove nothing here.
	if served < n*9/10 {
		t.Errorf("only %d of %d respellings were valid request lines", served, n)
	}
}

// FuzzOwnPathsAreNeverForwarded drives the respellings from the fuzzer's
// bytes, and checks besides that no path, the sidecar's or not, ever
// takes the memory key upstream.
func FuzzOwnPathsAreNeverForwarded(f *testing.F) {
	f.Add(uint8(0), []byte{0, 3, 5})
	f.Add(uint8(3), []byte{4, 4, 4, 8})
	f.Add(uint8(9), []byte{6, 1, 2, 7})
	s, rt := newPathServer(f)
	f.Fuzz(func(t *testing.T, pick uint8, ops []byte) {
		if len(ops) > 16 {
			ops = ops[:16]
		}
		i := 0
		next := func(n int) int {
			if n <= 0 {
				return 0
			}
			v := 0
			if i < len(ops) {
				v = int(ops[i])
			}
			i++
			return v % n
		}
		p := ownSamples[int(pick)%len(ownSamples)]
		for i < len(ops) {
			p = mutate(p, next)
		}
		checkNeverForwarded(t, s, rt, p)
		// Any path at all: forwarded or not, never with the key.
		tail := string(ops)
		for _, hdr := range []http.Header{
			{"Authorization": {"Bearer " + apiKey}},
			{"X-Api-Key": {apiKey}},
			{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+apiKey))}},
		} {
			serveRaw(s, "GET", "/v1/"+url.PathEscape(tail), hdr)
			for _, r := range rt.take() {
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, apiKey) || strings.Contains(v, base64.StdEncoding.EncodeToString([]byte("u:"+apiKey))) {
							t.Errorf("%s reached the upstream with %s: %s", r.URL, k, v)
						}
					}
				}
			}
		}
	})
}
