// Package fakeupstream is an OpenAI-compatible server for tests and
// benchmarks: a real HTTP handler that speaks the wire format faithfully
// (JSON bodies, server-sent events with [DONE], usage chunks with empty
// choices, tool-call deltas, the Responses API's event sequence, float and
// base64 embeddings) and records exactly what it received.
//
// Replies are deterministic. The model name selects scripted failures, so
// that tests driving real SDKs from other languages can ask for them:
//
//	error-429     a 429 rate-limit error
//	error-500     a 500 server error
//	error-inband  a stream that sends one chunk, then an in-band error
//	slow-<dur>    waits <dur> (a Go duration) before answering
package fakeupstream

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A Request is what the upstream received.
type Request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Upstream is the fake server's handler.
type Upstream struct {
	// Hook, when set, sees every request first; returning true means it
	// answered.
	Hook func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// Reply makes the assistant's text from the last user message; nil
	// means "You said: <message>".
	Reply func(lastUser string) string
	// ChunkDelay is slept between stream events; Latency before answering.
	ChunkDelay time.Duration
	Latency    time.Duration
	// Gzip compresses responses for clients that accept it.
	Gzip bool
	// Record keeps received requests for Requests; on by default.
	NoRecord bool

	mu   sync.Mutex
	reqs []Request
	seq  atomic.Int64
}

// New returns an Upstream with default behaviour.
func New() *Upstream { return &Upstream{} }

// Requests returns what was received so far, oldest first.
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.reqs...)
}

// Last returns the last request received to path, and whether there was one.
func (u *Upstream) Last(path string) (Request, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := len(u.reqs) - 1; i >= 0; i-- {
		if u.reqs[i].Path == path {
			return u.reqs[i], true
		}
	}
	return Request{}, false
}

// Reset forgets the recorded requests.
func (u *Upstream) Reset() {
	u.mu.Lock()
	u.reqs = nil
	u.mu.Unlock()
}

func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !u.NoRecord {
		u.mu.Lock()
		u.reqs = append(u.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		u.mu.Unlock()
	}
	if u.Hook != nil && u.Hook(w, r, body) {
		return
	}
	if u.Latency > 0 && !sleep(r, u.Latency) {
		return
	}
	if u.Gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		gz := &gzipWriter{ResponseWriter: w, gz: gzip.NewWriter(w)}
		defer gz.gz.Close()
		w.Header().Set("Content-Encoding", "gzip")
		w = gz
	}
	route := r.Method + " " + strings.TrimSuffix(r.URL.Path, "/")
	switch route {
	case "POST /v1/chat/completions":
		u.chat(w, r, body)
	case "POST /v1/responses":
		u.responses(w, r, body)
	case "POST /v1/embeddings":
		u.embeddings(w, body)
	case "GET /v1/models":
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "gpt-4o-mini", "object": "model", "created": 1700000000, "owned_by": "fakeupstream"},
			map[string]any{"id": "text-embedding-3-small", "object": "model", "created": 1700000000, "owned_by": "fakeupstream"},
		}})
	case "POST /v1/completions":
		u.completions(w, r, body)
	default:
		writeError(w, 404, "invalid_request_error", "unknown_url", fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	}
}

func sleep(r *http.Request, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

// scripted answers the model names that ask for a failure; it reports
// whether it answered (or the client left while it waited).
func (u *Upstream) scripted(w http.ResponseWriter, r *http.Request, model string) bool {
	switch {
	case model == "error-429":
		writeError(w, 429, "requests", "rate_limit_exceeded", "Rate limit reached for requests")
		return true
	case model == "error-500":
		writeError(w, 500, "server_error", "server_error", "The server had an error while processing your request.")
		return true
	case strings.HasPrefix(model, "slow-"):
		d, err := time.ParseDuration(strings.TrimPrefix(model, "slow-"))
		if err == nil {
			return !sleep(r, d)
		}
	}
	return false
}

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice json.RawMessage `json:"tool_choice"`
}

// text returns a message content's text: a string, or its text parts.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var out []string
	for _, p := range parts {
		if p.Text != "" {
			out = append(out, p.Text)
		}
	}
	return strings.Join(out, "\n")
}

func (u *Upstream) reply(lastUser string) string {
	if u.Reply != nil {
		return u.Reply(lastUser)
	}
	if len(lastUser) > 200 {
		lastUser = lastUser[:200]
	}
	return "You said: " + lastUser
}

// words splits text into stream deltas the way models do: word by word,
// each with its leading space.
func words(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i] == ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	return append(out, text[start:])
}

func tokens(s string) int { return (len(s) + 3) / 4 }

func (u *Upstream) id(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, u.seq.Add(1))
}

func (u *Upstream) chat(w http.ResponseWriter, r *http.Request, body []byte) {
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, 400, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request.")
		return
	}
	if len(req.Messages) == 0 {
		writeError(w, 400, "invalid_request_error", "empty_array", "[] is too short - 'messages'")
		return
	}
	if u.scripted(w, r, req.Model) {
		return
	}
	var lastUser string
	for _, m := range req.Messages {
		if m.Role == "user" {
			lastUser = text(m.Content)
		}
	}
	last := req.Messages[len(req.Messages)-1].Role
	useTool := len(req.Tools) > 0 && string(req.ToolChoice) != `"none"` && last != "tool"
	content := u.reply(lastUser)
	toolName, toolArgs := "", `{"location":"Paris","unit":"celsius"}`
	if useTool {
		toolName = req.Tools[0].Function.Name
	}
	id, created := u.id("chatcmpl-"), time.Now().Unix()
	usage := map[string]any{
		"prompt_tokens": tokens(string(body)), "completion_tokens": tokens(content),
		"total_tokens":          tokens(string(body)) + tokens(content),
		"prompt_tokens_details": map[string]any{"cached_tokens": 0, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{
			"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
		},
	}
	callID := u.id("call_")

	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": content, "refusal": nil, "annotations": []any{}}
		finish := "stop"
		if useTool {
			msg["content"] = nil
			msg["tool_calls"] = []any{map[string]any{"id": callID, "type": "function",
				"function": map[string]any{"name": toolName, "arguments": toolArgs}}}
			finish = "tool_calls"
		}
		writeJSON(w, 200, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": req.Model,
			"system_fingerprint": "fp_fake", "service_tier": "default",
			"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
			"usage":   usage,
		})
		return
	}

	sse := newSSE(w)
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": "fp_fake", "service_tier": "default",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		}
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	send := func(v any) bool {
		if !sse.data(v) {
			return false
		}
		return u.ChunkDelay == 0 || sleep(r, u.ChunkDelay)
	}
	finish := "stop"
	if useTool {
		finish = "tool_calls"
		if !send(chunk(map[string]any{"role": "assistant", "content": nil, "refusal": nil, "tool_calls": []any{
			map[string]any{"index": 0, "id": callID, "type": "function", "function": map[string]any{"name": toolName, "arguments": ""}},
		}}, nil)) {
			return
		}
		for i := 0; i < len(toolArgs); i += 8 {
			part := toolArgs[i:min(i+8, len(toolArgs))]
			if !send(chunk(map[string]any{"tool_calls": []any{
				map[string]any{"index": 0, "function": map[string]any{"arguments": part}},
			}}, nil)) {
				return
			}
		}
	} else {
		if !send(chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)) {
			return
		}
		for i, wd := range words(content) {
			if req.Model == "error-inband" && i == 1 {
				sse.data(map[string]any{"error": map[string]any{
					"message": "The server had an error while processing your request.", "type": "server_error", "param": nil, "code": nil,
				}})
				return
			}
			if !send(chunk(map[string]any{"content": wd}, nil)) {
				return
			}
		}
	}
	if !send(chunk(map[string]any{}, finish)) {
		return
	}
	if includeUsage {
		if !send(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"system_fingerprint": "fp_fake", "service_tier": "default", "choices": []any{}, "usage": usage,
		}) {
			return
		}
	}
	sse.done()
}

func (u *Upstream) completions(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Model  string `json:"model"`
		Prompt string `json:"prompt"`
		Stream bool   `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, 400, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request.")
		return
	}
	content := u.reply(req.Prompt)
	id, created := u.id("cmpl-"), time.Now().Unix()
	if !req.Stream {
		writeJSON(w, 200, map[string]any{"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"text": content, "index": 0, "logprobs": nil, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": tokens(req.Prompt), "completion_tokens": tokens(content), "total_tokens": tokens(req.Prompt) + tokens(content)}})
		return
	}
	sse := newSSE(w)
	for _, wd := range words(content) {
		if !sse.data(map[string]any{"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"text": wd, "index": 0, "logprobs": nil, "finish_reason": nil}}}) {
			return
		}
	}
	sse.done()
}
