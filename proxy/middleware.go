package proxy

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/internal/requestid"
)

const (
	startKey    = "memproxy.start"
	clientIDKey = "memproxy.client_request_id"
)

// requestID gives every request an id: the client's X-Request-Id when it
// is sane, else a new one. The id goes into the request's context, where
// the logger finds it (see requestid.NewHandler), and back to the client
// in X-Memory-Request-Id.
func (s *Server) requestID(c *gin.Context) {
	id, fromClient := requestid.FromHeader(c.Request.Header)
	c.Request = c.Request.WithContext(requestid.NewContext(c.Request.Context(), id))
	c.Set(clientIDKey, fromClient)
	c.Set(startKey, time.Now())
	c.Writer.Header().Set(HeaderRequestID, id)
	c.Next()
}

func requestID(c *gin.Context) string { return requestid.FromContext(c.Request.Context()) }

// turnID is the id of the turn a chat request hands to the learner: the
// request's id when the sidecar chose it, else a new one. A turn's id keys
// its exactly-once application and seeds the ids of what is learned from
// it, so it must be unique, and a client's id may be reused, or sent by
// two clients alike.
func turnID(c *gin.Context) string {
	if c.GetBool(clientIDKey) {
		return requestid.New()
	}
	return requestID(c)
}

// route names a request's route for metrics: the route's pattern, or
// "passthrough" for a forwarded path, so that labels stay few.
func route(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return "passthrough"
}

// recovery turns a panic into a 500, except http.ErrAbortHandler, which the
// reverse proxy raises to abort a response it cannot finish (the upstream
// broke off mid-stream): net/http must see it to cut the connection, so
// that the client knows the answer is incomplete.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.ErrorContext(c.Request.Context(), "panic serving request", "panic", v, "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			writeError(c, http.StatusInternalServerError, "internal_error", "internal error")
		}
		c.Abort()
	}()
	c.Next()
}

// accessLog logs one line per request, from a deferred call so that a
// response aborted mid-stream (the reverse proxy's http.ErrAbortHandler)
// is logged too. It names ids and counts, never memory text or content.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	completed := false
	defer func() {
		s.opts.Metrics.request(route(c), strconv.Itoa(c.Writer.Status()), time.Since(start))
		level := slog.LevelInfo
		if !completed || c.Writer.Status() >= 500 {
			level = slog.LevelWarn
		}
		h := c.Writer.Header()
		s.log.LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", c.Writer.Status()),
			slog.Bool("aborted", !completed),
			slog.Duration("duration", time.Since(start)),
			slog.String("memory", h.Get(HeaderStatus)),
			slog.String("injected", h.Get(HeaderInjected)),
		)
	}()
	c.Next()
	completed = true
}
