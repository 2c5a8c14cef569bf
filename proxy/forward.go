package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// passthrough forwards a request the sidecar does not own: same method,
// path, query and body (streamed, not read), identity headers removed.
func (s *Server) passthrough(c *gin.Context) {
	s.proxy.ServeHTTP(c.Writer, c.Request)
}

// rewrite turns the client's request into the upstream's.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL = s.target(pr.In.URL)
	pr.Out.Host = "" // the Host header follows the upstream URL
	s.identity.strip(pr.Out.Header)
	if s.opts.UpstreamAPIKey != "" {
		pr.Out.Header.Set("Authorization", "Bearer "+s.opts.UpstreamAPIKey)
	}
	if pr.In.Context().Value(teeKey{}) != nil {
		// The answer will be read as well as relayed, so it must arrive
		// decoded. Without the client's Accept-Encoding, Go's transport asks
		// for gzip itself and decompresses transparently (dropping
		// Content-Encoding and Content-Length), so the client receives plain
		// bytes it can read whatever it accepts.
		pr.Out.Header.Del("Accept-Encoding")
	}
}

// target maps a sidecar URL to the upstream: /v1/X goes to Upstream/X, any
// other path keeps its path on the upstream's scheme and host.
func (s *Server) target(in *url.URL) *url.URL {
	base := s.opts.Upstream
	out := &url.URL{Scheme: base.Scheme, Host: base.Host, User: base.User, RawQuery: in.RawQuery}
	path, raw := in.Path, in.EscapedPath()
	if rest, ok := cutV1(path); ok {
		restRaw, _ := cutV1(raw)
		path = strings.TrimSuffix(base.Path, "/") + rest
		raw = strings.TrimSuffix(base.EscapedPath(), "/") + restRaw
	}
	out.Path = path
	if raw != path {
		out.RawPath = raw
	}
	return out
}

func cutV1(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v1")
	if !ok || rest != "" && rest[0] != '/' {
		return p, false
	}
	return rest, true
}

// modifyResponse tees a successful chat answer into the turn to learn from.
func (s *Server) modifyResponse(res *http.Response) error {
	if t, ok := res.Request.Context().Value(teeKey{}).(*turnTee); ok && res.StatusCode/100 == 2 {
		t.attach(res)
	}
	return nil
}

// upstreamError answers when the upstream could not be reached or broke
// off before its response headers: 502 in the OpenAI error shape, or
// nothing when the client has already gone.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody is listening. 499 is for the log.
		w.WriteHeader(499)
		return
	}
	s.log.Warn("upstream request failed", "request_id", w.Header().Get(HeaderRequestID), "url", r.URL.Redacted(), "err", err)
	writeJSONError(w, http.StatusBadGateway, "upstream_unreachable", "could not reach the upstream: "+err.Error())
}
