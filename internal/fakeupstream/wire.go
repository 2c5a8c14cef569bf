// The wire helpers: JSON answers, OpenAI-shaped errors, SSE framing, gzip.

package fakeupstream

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", fmt.Sprintf("upstream-%d", time.Now().UnixNano()))
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

// sse writes server-sent events, flushing each.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Request-Id", fmt.Sprintf("upstream-%d", time.Now().UnixNano()))
	w.WriteHeader(200)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

func (s *sse) write(b []byte) bool {
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

func (s *sse) data(v any) bool {
	b, _ := json.Marshal(v)
	return s.write(append(append([]byte("data: "), b...), '\n', '\n'))
}

func (s *sse) event(name string, v any) bool {
	b, _ := json.Marshal(v)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", name, b)
	return s.write(buf.Bytes())
}

func (s *sse) done() { s.write([]byte("data: [DONE]\n\n")) }

// gzipWriter compresses a response, flushing the compressor with every
// flush so that streamed events still arrive one by one.
type gzipWriter struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (g *gzipWriter) Write(b []byte) (int, error) { return g.gz.Write(b) }

func (g *gzipWriter) Flush() {
	g.gz.Flush()
	http.NewResponseController(g.ResponseWriter).Flush()
}

func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
