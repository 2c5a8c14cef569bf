package proxy

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// The memory API speaks the Mem0 platform's REST API, as the mem0ai SDKs
// call it (MemoryClient(host=...)), so that code written against Mem0 runs
// against the sidecar by changing the host.

// apiAuth admits a memory API call that carries a configured key as
// "Authorization: Token <key>" (the SDKs' form) or "Bearer <key>".
func (s *Server) apiAuth(c *gin.Context) {
	if len(s.opts.APIKeys) == 0 {
		writeAPIError(c, http.StatusUnauthorized, "unauthorized",
			"the memory API is closed: no API keys are configured (set MEMPROXY_API_KEYS)")
		return
	}
	scheme, key, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !(strings.EqualFold(scheme, "Token") || strings.EqualFold(scheme, "Bearer")) || !s.validKey(strings.TrimSpace(key)) {
		writeAPIError(c, http.StatusUnauthorized, "unauthorized",
			"missing or invalid API key: send Authorization: Token <key> with a key from MEMPROXY_API_KEYS")
		return
	}
	c.Next()
}

// validKey compares key with every configured key in constant time.
func (s *Server) validKey(key string) bool {
	ok := 0
	for _, k := range s.opts.APIKeys {
		ok |= subtle.ConstantTimeCompare([]byte(key), []byte(k))
	}
	return ok == 1
}

// ping answers the key check the SDKs make when constructed. The Python
// SDK refuses to start without org_id and project_id, so the sidecar
// names its single organisation and project.
func (s *Server) ping(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{
		"status": "ok", "org_id": "memproxy", "project_id": "default", "user_email": "memproxy@localhost",
	})
}

// addRequest is the body of POST /v1/memories/ and POST /v3/memories/add/.
// Fields the SDKs send that the sidecar has no use for (org_id,
// project_id, output_format, version) are accepted and ignored.
type addRequest struct {
	Messages       json.RawMessage `json:"messages"`
	UserID         *string         `json:"user_id"`
	AgentID        *string         `json:"agent_id"`
	RunID          *string         `json:"run_id"`
	AppID          *string         `json:"app_id"`
	Metadata       json.RawMessage `json:"metadata"`
	Infer          *bool           `json:"infer"`
	AsyncMode      *bool           `json:"async_mode"`
	ExpirationDate *string         `json:"expiration_date"`
}

type addResult struct {
	ID     string         `json:"id"`
	Memory string         `json:"memory"`
	Event  string         `json:"event"`
	Data   map[string]any `json:"data"`
}

// addMemories stores memories. Adds complete before the answer, whatever
// async_mode asks: the caller can search for them at once.
func (s *Server) addMemories(c *gin.Context) {
	if s.opts.Memories == nil {
		writeAPIError(c, http.StatusServiceUnavailable, "unavailable", "the memory store is not configured")
		return
	}
	var req addRequest
	if !s.decodeAPIBody(c, &req) {
		return
	}
	add, err := req.toAdd()
	if err != nil {
		writeAPIError(c, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	add.RequestID = requestID(c)
	events, err := s.opts.Memories.Add(c.Request.Context(), add)
	if errors.Is(err, memory.ErrNoScope) {
		writeAPIError(c, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if err != nil {
		s.log.Error("memory API add failed", "request_id", requestID(c), "err", err)
		writeAPIError(c, http.StatusServiceUnavailable, "unavailable", "storing memories failed; nothing was added: "+err.Error())
		return
	}
	results := make([]addResult, 0, len(events))
	for _, e := range events {
		results = append(results, addResult{ID: e.ID, Memory: e.Text, Event: e.Kind, Data: map[string]any{"memory": e.Text}})
	}
	c.JSON(http.StatusOK, gin.H{"results": results, "status": "SUCCEEDED"})
}

// decodeAPIBody reads a JSON object of at most MaxBodyBytes into v,
// answering 413 or 400 itself when it cannot.
func (s *Server) decodeAPIBody(c *gin.Context, v any) bool {
	body, ok := s.readBody(c, writeAPIError)
	if !ok {
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			writeAPIError(c, http.StatusBadRequest, "invalid_request", fmt.Sprintf("field %s: want %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value))
			return false
		}
		writeAPIError(c, http.StatusBadRequest, "invalid_request", "request body is not a valid JSON object: "+err.Error())
		return false
	}
	return true
}

func (r *addRequest) toAdd() (memory.AddRequest, error) {
	var add memory.AddRequest
	ids := []struct {
		name string
		src  *string
		dst  *string
	}{
		{"user_id", r.UserID, &add.Scope.UserID}, {"agent_id", r.AgentID, &add.Scope.AgentID},
		{"run_id", r.RunID, &add.Scope.RunID}, {"app_id", r.AppID, &add.Scope.AppID},
	}
	for _, id := range ids {
		if id.src == nil {
			continue
		}
		if err := checkID(*id.src); err != nil {
			return add, fmt.Errorf("%s: %w", id.name, err)
		}
		*id.dst = *id.src
	}
	msgs, err := parseMessages(r.Messages)
	if err != nil {
		return add, err
	}
	add.Messages = msgs
	add.Infer = r.Infer == nil || *r.Infer
	if len(r.Metadata) > 0 && string(r.Metadata) != "null" {
		if err := json.Unmarshal(r.Metadata, &add.Metadata); err != nil {
			return add, fmt.Errorf("metadata must be a JSON object")
		}
	}
	if r.ExpirationDate != nil && *r.ExpirationDate != "" {
		t, err := parseDate(*r.ExpirationDate)
		if err != nil {
			return add, fmt.Errorf("expiration_date: %w", err)
		}
		add.ExpiresAt = t
	}
	return add, nil
}

// parseMessages accepts what the SDKs send as messages: a list of
// {role, content} objects, or one string (the Node SDK's add("text")).
func parseMessages(raw json.RawMessage) ([]memory.Message, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("messages is required")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if strings.TrimSpace(one) == "" {
			return nil, errors.New("messages must not be empty")
		}
		return []memory.Message{{Role: "user", Content: one}}, nil
	}
	var list []struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("messages must be a string or a list of {role, content} objects")
	}
	if len(list) == 0 {
		return nil, errors.New("messages must not be empty")
	}
	out := make([]memory.Message, 0, len(list))
	for i, m := range list {
		if m.Role == nil {
			return nil, fmt.Errorf("messages[%d]: role is required", i)
		}
		switch *m.Role {
		case "user", "assistant", "system":
		default:
			return nil, fmt.Errorf("messages[%d]: role %q is not user, assistant or system", i, *m.Role)
		}
		var content string
		if err := json.Unmarshal(m.Content, &content); err != nil {
			return nil, fmt.Errorf("messages[%d]: content must be a string", i)
		}
		out = append(out, memory.Message{Role: *m.Role, Content: content})
	}
	return out, nil
}

// parseDate reads a date as the Mem0 API writes it (2025-06-30) or an
// RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date like 2025-06-30", s)
}
