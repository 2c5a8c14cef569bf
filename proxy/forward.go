package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/propagation"

	"github.com/memproxy/memproxy/internal/telemetry"
)

// passthrough forwards a request the sidecar does not own: same method,
// path, query and body (streamed, not read), identity headers removed.
// The sidecar's own paths are decided on the canonical path, as any
// server on the way might read it (see canonicalPath): spelt exactly, an
// own path no route serves is the API's to answer; spelt any other way,
// it is refused with a 400 that names the canonical spelling. Neither is
// forwarded.
func (s *Server) passthrough(c *gin.Context) {
	if why := misspeltOwnPath(c.Request); why != nil {
		switch {
		case why != errExactOwn && s.opts.API != nil:
			s.opts.API.Refuse(c, http.StatusBadRequest, "noncanonical_path", why.Error())
		case why != errExactOwn:
			writeError(c, http.StatusBadRequest, "noncanonical_path", why.Error())
		case s.opts.API != nil:
			s.opts.API.Unserved(c)
		default:
			writeError(c, http.StatusNotFound, "not_found",
				"this sidecar serves no memory API; "+c.Request.URL.Path+" is not forwarded upstream")
		}
		return
	}
	if s.clientKey(c); c.IsAborted() {
		return
	}
	s.serve(c, &reqState{})
}

// reqState carries what the sidecar decided about a request to the
// response, which the reverse proxy writes: the memory headers, and the
// tee for the answer.
type reqState struct {
	route     string
	start     time.Time // the request's arrival
	sent      time.Time // when it went upstream
	requestID string
	status    string // X-Memory-Status; empty on a passthrough
	injected  int
	learning  string // X-Memory-Learning
	timing    string // Server-Timing: the stages of recall, in ms
	tee       *turnTee
	chat      *chatCall // a chat's upstream call; nil on a passthrough
}

type stateKey struct{}

// serve forwards the request through the reverse proxy with its state.
// The memory headers are written with the upstream's response (see
// modifyResponse), not before it: an informational response from the
// upstream (100 Continue) clears the headers set before it.
func (s *Server) serve(c *gin.Context, st *reqState) {
	st.requestID = requestID(c)
	st.route, st.start = route(c), c.GetTime(startKey)
	c.Writer.Header().Del(HeaderRequestID)
	ctx := context.WithValue(c.Request.Context(), stateKey{}, st)
	if st.chat != nil && s.opts.Tracer != nil {
		ctx = s.startUpstream(ctx, st.chat)
	}
	s.proxy.ServeHTTP(c.Writer, c.Request.WithContext(ctx))
	// The answer has been relayed whole (or broken off): its usage is known.
	if st.chat != nil {
		s.opts.Metrics.used(st.chat)
		if st.chat.span != nil {
			endUpstream(st.chat)
		}
	}
}

// setHeaders writes the memory headers of st into h, replacing whatever
// the upstream sent under the sidecar's X-Memory- names.
func (st *reqState) setHeaders(h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, "X-Memory-") {
			delete(h, k)
		}
	}
	h.Set(HeaderRequestID, st.requestID)
	if st.status != "" {
		h.Set(HeaderStatus, st.status)
		h.Set(HeaderInjected, strconv.Itoa(st.injected))
	}
	if st.learning != "" {
		h.Set(HeaderLearning, st.learning)
	}
	if st.timing != "" {
		// Standard Server-Timing, which browsers' devtools show; added to
		// whatever timings the upstream reported.
		h.Add("Server-Timing", "memproxy-"+strings.ReplaceAll(st.timing, ", ", ", memproxy-"))
	}
}

// rewrite turns the client's request into the upstream's. It runs just
// before the request is sent: the sidecar's added latency ends here.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	st, _ := pr.In.Context().Value(stateKey{}).(*reqState)
	if st != nil {
		st.sent = time.Now()
		s.opts.Metrics.sent(st.route, st.sent.Sub(st.start))
	}
	pr.Out.URL = s.target(pr.In.URL)
	pr.Out.Host = "" // the Host header follows the upstream URL
	s.identity.strip(pr.Out.Header)
	s.memoryKeys.strip(pr.Out.Header)
	if s.opts.UpstreamAPIKey != "" {
		pr.Out.Header.Set("Authorization", "Bearer "+s.opts.UpstreamAPIKey)
	}
	if st != nil && st.chat != nil && st.chat.span != nil {
		// The upstream's spans, if it traces, are children of the call's.
		telemetry.Propagator.Inject(pr.In.Context(), propagation.HeaderCarrier(pr.Out.Header))
	}
	if st != nil && st.tee != nil {
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

// modifyResponse writes the memory headers and tees a successful chat
// answer into the turn to learn from.
func (s *Server) modifyResponse(res *http.Response) error {
	st, _ := res.Request.Context().Value(stateKey{}).(*reqState)
	if st == nil {
		return nil
	}
	s.opts.Metrics.answered(st.route, time.Since(st.sent), res.StatusCode)
	st.setHeaders(res.Header)
	if st.chat != nil {
		st.chat.status = res.StatusCode
		if res.StatusCode/100 == 2 {
			st.chat.attach(res) // under the tee: it reads the answer as it arrives
		}
	}
	if st.tee != nil && res.StatusCode/100 == 2 {
		st.tee.attach(res)
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
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	if st != nil {
		st.setHeaders(w.Header())
	}
	s.log.WarnContext(r.Context(), "upstream request failed", "url", r.URL.Redacted(), "err", err)
	writeJSONError(w, http.StatusBadGateway, "upstream_unreachable", "could not reach the upstream: "+err.Error())
}
