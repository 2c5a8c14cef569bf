package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

const (
	requestIDKey = "memproxy.request_id"
	startKey     = "memproxy.start"
)

// requestID gives every request an id, returned in X-Memory-Request-Id and
// carried by its log lines and its learned memories.
func (s *Server) requestID(c *gin.Context) {
	var b [12]byte
	rand.Read(b[:])
	id := "req_" + hex.EncodeToString(b[:])
	c.Set(requestIDKey, id)
	c.Set(startKey, time.Now())
	c.Writer.Header().Set(HeaderRequestID, id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

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
		s.log.Error("panic serving request", "request_id", requestID(c), "panic", v, "stack", string(debug.Stack()))
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
			slog.String("request_id", requestID(c)),
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
