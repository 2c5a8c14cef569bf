package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// The memory API speaks the Mem0 platform's REST API, as the mem0ai SDKs
// call it (MemoryClient(host=...)), so that code written against Mem0 runs
// against the sidecar by changing the host. The wire format is in
// mem0.go, the filter language in mem0filter.go; the handlers here only
// decode, call Memories, and encode.

// The organisation and project the sidecar reports: it has one of each.
const (
	pingOrg     = "memproxy"
	pingProject = "default"
)

// apiAuth admits a memory API call that carries a configured key as
// "Authorization: Token <key>" (the SDKs' form) or "Bearer <key>".
func (s *Server) apiAuth(c *gin.Context) {
	if len(s.opts.APIKeys) == 0 {
		writeAPIError(c, http.StatusUnauthorized, "unauthorized",
			"the memory API is closed: no API keys are configured (set MEMPROXY_API_KEYS)")
		return
	}
	scheme, key, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !(strings.EqualFold(scheme, "Token") || strings.EqualFold(scheme, "Bearer")) || !matchKey(strings.TrimSpace(key), s.opts.APIKeys) {
		writeAPIError(c, http.StatusUnauthorized, "unauthorized",
			"missing or invalid API key: send Authorization: Token <key> with a key from MEMPROXY_API_KEYS")
		return
	}
	c.Next()
}

// needMemories answers 503 for the memory endpoints when no store is
// configured.
func (s *Server) needMemories(c *gin.Context) {
	if s.opts.Memories == nil {
		writeAPIError(c, http.StatusServiceUnavailable, "unavailable", "the memory store is not configured")
		return
	}
	c.Next()
}

// ping answers the key check the SDKs make when constructed. The Python
// SDK refuses to start without org_id and project_id, so the sidecar
// names its single organisation and project.
func (s *Server) ping(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{
		"status": "ok", "org_id": pingOrg, "project_id": pingProject, "user_email": "memproxy@localhost",
	})
}

// memoryError answers for an error of Memories: 400 for a request to
// change, 404 for an unknown id, 503 when the store or embedder failed.
func (s *Server) memoryError(c *gin.Context, what string, err error) {
	switch {
	case errors.Is(err, memory.ErrInvalid), errors.Is(err, memory.ErrNoScope):
		writeAPIError(c, http.StatusBadRequest, "invalid_request", strings.TrimPrefix(err.Error(), memory.ErrInvalid.Error()+": "))
	case errors.Is(err, memory.ErrNotFound):
		writeAPIError(c, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		c.AbortWithStatus(499) // the client left; for the log
	default:
		s.log.Error("memory API call failed", "request_id", requestID(c), "what", what, "err", err)
		writeAPIError(c, http.StatusServiceUnavailable, "unavailable", what+" failed: "+err.Error())
	}
}

func badRequest(c *gin.Context, err error) {
	writeAPIError(c, http.StatusBadRequest, "invalid_request", err.Error())
}

// decodeAPIBody reads a JSON object of at most MaxBodyBytes into v,
// answering 413 or 400 itself when it cannot.
func (s *Server) decodeAPIBody(c *gin.Context, v any) bool {
	body, ok := s.readBody(c, writeAPIError)
	if !ok {
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		writeAPIError(c, http.StatusBadRequest, "invalid_request", "the request needs a JSON object as its body")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" {
				writeAPIError(c, http.StatusBadRequest, "invalid_request", fmt.Sprintf("the body must be a JSON object, got %s", typeErr.Value))
				return false
			}
			writeAPIError(c, http.StatusBadRequest, "invalid_request", fmt.Sprintf("field %s: want %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value))
			return false
		}
		writeAPIError(c, http.StatusBadRequest, "invalid_request", "request body is not a valid JSON object: "+err.Error())
		return false
	}
	return true
}

// pathID reads and checks an id from the path.
func pathID(c *gin.Context, name, what string) (string, bool) {
	id := c.Param(name)
	if id == "" {
		writeAPIError(c, http.StatusBadRequest, "invalid_request", what+" is missing from the path")
		return "", false
	}
	if err := checkID(id); err != nil {
		writeAPIError(c, http.StatusBadRequest, "invalid_request", what+": "+err.Error())
		return "", false
	}
	return id, true
}

// addMemories stores memories (POST /v1/memories/, /v3/memories/add/).
// Adds complete before the answer, whatever async_mode asks: the caller
// can search for them at once. The answer carries an event id that GET
// /v1/event/{id}/ reports as SUCCEEDED.
func (s *Server) addMemories(c *gin.Context) {
	var req addRequest
	if !s.decodeAPIBody(c, &req) {
		return
	}
	add, err := req.toAdd()
	if err != nil {
		badRequest(c, err)
		return
	}
	add.RequestID = requestID(c)
	events, err := s.opts.Memories.Add(c.Request.Context(), add)
	if err != nil && !errors.Is(err, memory.ErrNoScope) {
		err = fmt.Errorf("nothing was added: %w", err)
	}
	if err != nil {
		s.memoryError(c, "storing memories", err)
		return
	}
	results := make([]addResult, 0, len(events))
	for _, e := range events {
		results = append(results, addResult{ID: e.ID, Memory: e.Text, Event: e.Kind, Data: map[string]any{"memory": e.Text}})
	}
	eventID := s.events.record(results)
	c.JSON(http.StatusOK, gin.H{"results": results, "status": "SUCCEEDED", "event_id": eventID})
}

// searchMemories answers POST /v2/memories/search/ and /v3/memories/search/
// with {"results": [memory with score, ...]}, best first.
func (s *Server) searchMemories(c *gin.Context) {
	var req queryRequest
	if !s.decodeAPIBody(c, &req) {
		return
	}
	q, err := req.query()
	if err != nil {
		badRequest(c, err)
		return
	}
	hits, err := s.opts.Memories.Search(c.Request.Context(), q)
	if err != nil {
		s.memoryError(c, "searching memories", err)
		return
	}
	results := make([]memoryJSON, len(hits))
	for i, h := range hits {
		results[i] = toHitJSON(h)
	}
	c.JSON(http.StatusOK, gin.H{"results": results})
}

// listMemories answers POST /v2/memories/ and /v3/memories/ with a page
// of memories, newest first: {"count", "next", "previous", "results"}.
func (s *Server) listMemories(c *gin.Context) {
	var req queryRequest
	if !s.decodeAPIBody(c, &req) {
		return
	}
	page, size, err := pageOf(c.Request.URL.Query(), &req)
	if err != nil {
		badRequest(c, err)
		return
	}
	f, err := req.filter()
	if err != nil {
		badRequest(c, err)
		return
	}
	ms, total, err := s.opts.Memories.List(c.Request.Context(), f, memory.Page{Offset: (page - 1) * size, Limit: size})
	if err != nil {
		s.memoryError(c, "listing memories", err)
		return
	}
	results := make([]memoryJSON, len(ms))
	for i, m := range ms {
		results[i] = toMemoryJSON(m)
	}
	c.JSON(http.StatusOK, newPage(c.Request.URL.Path, page, size, total, results))
}

// getMemory answers GET /v1/memories/{id}/.
func (s *Server) getMemory(c *gin.Context) {
	id, ok := pathID(c, "id", "the memory id")
	if !ok {
		return
	}
	m, err := s.opts.Memories.Get(c.Request.Context(), id)
	if err != nil {
		s.memoryError(c, "reading the memory", err)
		return
	}
	c.JSON(http.StatusOK, toMemoryJSON(m))
}

// updateMemory answers PUT /v1/memories/{id}/ with the updated memory.
func (s *Server) updateMemory(c *gin.Context) {
	id, ok := pathID(c, "id", "the memory id")
	if !ok {
		return
	}
	var req updateRequest
	if !s.decodeAPIBody(c, &req) {
		return
	}
	ch, err := req.change(id)
	if err != nil {
		badRequest(c, err)
		return
	}
	ms, err := s.opts.Memories.Update(c.Request.Context(), requestID(c), ch)
	if err != nil {
		s.memoryError(c, "updating the memory", err)
		return
	}
	c.JSON(http.StatusOK, toMemoryJSON(ms[0]))
}

// deleteMemory answers DELETE /v1/memories/{id}/. The memory's history
// goes with it.
func (s *Server) deleteMemory(c *gin.Context) {
	id, ok := pathID(c, "id", "the memory id")
	if !ok {
		return
	}
	if err := s.opts.Memories.Delete(c.Request.Context(), id); err != nil {
		s.memoryError(c, "deleting the memory", err)
		return
	}
	c.JSON(http.StatusOK, messageJSON{Message: "Memory deleted successfully!"})
}

// deleteParams are the query parameters DELETE /v1/memories/ reads; the
// SDKs add org_id and project_id, which say nothing here.
var deleteParams = map[string]bool{"user_id": true, "agent_id": true, "app_id": true, "run_id": true, "org_id": true, "project_id": true}

// deleteMemories answers DELETE /v1/memories/?user_id=...: every memory
// with all the ids given, and its history.
func (s *Server) deleteMemories(c *gin.Context) {
	q := c.Request.URL.Query()
	var ids scopeIDs
	for k, vs := range q {
		if k == "filters" {
			badRequest(c, errors.New("DELETE /v1/memories/ takes the scope as query parameters user_id, agent_id, app_id or run_id, not filters (the Python SDK sends filters= as Python text in the URL)"))
			return
		}
		if !deleteParams[k] {
			badRequest(c, fmt.Errorf("unknown query parameter %q: DELETE /v1/memories/ takes user_id, agent_id, app_id and run_id", k))
			return
		}
		if len(vs) > 1 {
			badRequest(c, fmt.Errorf("query parameter %s is given %d times; give it once", k, len(vs)))
			return
		}
		v := vs[0]
		switch k {
		case "user_id":
			ids.UserID = &v
		case "agent_id":
			ids.AgentID = &v
		case "app_id":
			ids.AppID = &v
		case "run_id":
			ids.RunID = &v
		}
	}
	f, err := ids.filter()
	if err != nil {
		badRequest(c, err)
		return
	}
	if f.IsZero() {
		badRequest(c, errors.New("name whose memories to delete: user_id, agent_id, app_id or run_id (to delete everything, delete each entity listed by GET /v1/entities/)"))
		return
	}
	n, err := s.opts.Memories.DeleteMatching(c.Request.Context(), f)
	if err != nil {
		s.memoryError(c, "deleting memories", err)
		return
	}
	c.JSON(http.StatusOK, messageJSON{Message: "Memories deleted successfully!", Count: &n})
}

// memoryHistory answers GET /v1/memories/{id}/history/: the changes,
// oldest first.
func (s *Server) memoryHistory(c *gin.Context) {
	id, ok := pathID(c, "id", "the memory id")
	if !ok {
		return
	}
	rs, err := s.opts.Memories.History(c.Request.Context(), id)
	if err != nil {
		s.memoryError(c, "reading the history", err)
		return
	}
	out := make([]historyJSON, len(rs))
	for i, r := range rs {
		out[i] = toHistoryJSON(r)
	}
	c.JSON(http.StatusOK, out)
}

// batchMemories reads the body of PUT and DELETE /v1/batch/.
func (s *Server) batchMemories(c *gin.Context) (batchRequest, bool) {
	var req batchRequest
	if !s.decodeAPIBody(c, &req) {
		return req, false
	}
	if len(req.Memories) == 0 {
		badRequest(c, errors.New("memories is required: a list of {\"memory_id\": ...}"))
		return req, false
	}
	if len(req.Memories) > maxBatch {
		badRequest(c, fmt.Errorf("a batch holds at most %d memories, got %d", maxBatch, len(req.Memories)))
		return req, false
	}
	for i, m := range req.Memories {
		if m.MemoryID == nil || *m.MemoryID == "" {
			badRequest(c, fmt.Errorf("memories[%d]: memory_id is required", i))
			return req, false
		}
		if err := checkID(*m.MemoryID); err != nil {
			badRequest(c, fmt.Errorf("memories[%d].memory_id: %w", i, err))
			return req, false
		}
	}
	return req, true
}

// batchUpdate answers PUT /v1/batch/: all the updates, or none.
func (s *Server) batchUpdate(c *gin.Context) {
	req, ok := s.batchMemories(c)
	if !ok {
		return
	}
	changes := make([]memory.Change, len(req.Memories))
	for i, m := range req.Memories {
		ch, err := m.change(*m.MemoryID)
		if err != nil {
			badRequest(c, fmt.Errorf("memories[%d]: %w", i, err))
			return
		}
		changes[i] = ch
	}
	if _, err := s.opts.Memories.Update(c.Request.Context(), requestID(c), changes...); err != nil {
		s.memoryError(c, "updating memories", err)
		return
	}
	n := len(changes)
	c.JSON(http.StatusOK, messageJSON{Message: fmt.Sprintf("Successfully updated %d memories", n), Count: &n})
}

// batchDelete answers DELETE /v1/batch/: all the deletes, or none.
func (s *Server) batchDelete(c *gin.Context) {
	req, ok := s.batchMemories(c)
	if !ok {
		return
	}
	ids := make([]string, len(req.Memories))
	for i, m := range req.Memories {
		ids[i] = *m.MemoryID
	}
	if err := s.opts.Memories.Delete(c.Request.Context(), ids...); err != nil {
		s.memoryError(c, "deleting memories", err)
		return
	}
	n := len(ids)
	c.JSON(http.StatusOK, messageJSON{Message: fmt.Sprintf("Successfully deleted %d memories", n), Count: &n})
}

// listEntities answers GET /v1/entities/: every user, agent, app and run
// with memories, in pages.
func (s *Server) listEntities(c *gin.Context) {
	page, size, err := pageOf(c.Request.URL.Query(), nil)
	if err != nil {
		badRequest(c, err)
		return
	}
	es, err := s.opts.Memories.Entities(c.Request.Context())
	if err != nil {
		s.memoryError(c, "listing entities", err)
		return
	}
	start := min((page-1)*size, len(es))
	end := min(start+size, len(es))
	results := make([]entityJSON, 0, end-start)
	for _, e := range es[start:end] {
		results = append(results, toEntityJSON(e))
	}
	c.JSON(http.StatusOK, newPage(c.Request.URL.Path, page, size, len(es), results))
}

// deleteEntity answers DELETE /v2/entities/{type}/{name}/: every memory of
// a user, agent, app or run, with its history.
func (s *Server) deleteEntity(c *gin.Context) {
	kind := c.Param("type")
	if _, ok := memory.EntityField(kind); !ok {
		badRequest(c, fmt.Errorf("entity type %q is not user, agent, app or run", kind))
		return
	}
	name, ok := pathID(c, "name", "the "+kind+" id")
	if !ok {
		return
	}
	n, err := s.opts.Memories.DeleteEntity(c.Request.Context(), kind, name)
	if err != nil {
		s.memoryError(c, "deleting the "+kind, err)
		return
	}
	c.JSON(http.StatusOK, messageJSON{Message: "Entity deleted successfully!", Count: &n})
}

// getEvent answers GET /v1/event/{id}/ for an add: adds complete before
// they answer, so a known event has SUCCEEDED.
func (s *Server) getEvent(c *gin.Context) {
	id, ok := pathID(c, "id", "the event id")
	if !ok {
		return
	}
	ev, ok := s.events.get(id)
	if !ok {
		writeAPIError(c, http.StatusNotFound, "not_found",
			fmt.Sprintf("event %s not found: the sidecar keeps the last %d add events in memory, and adds complete before they answer", id, maxEvents))
		return
	}
	c.JSON(http.StatusOK, ev)
}

// maxEvents is how many add events the sidecar remembers.
const maxEvents = 10000

// eventLog keeps the most recent add events for GET /v1/event/{id}/.
type eventLog struct {
	mu    sync.Mutex
	byID  map[string]addEventJSON
	order []string
}

func (l *eventLog) record(results []addResult) string {
	id := memory.NewID()
	now := formatTime(time.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = make(map[string]addEventJSON)
	}
	if len(l.order) >= maxEvents {
		delete(l.byID, l.order[0])
		l.order = l.order[1:]
	}
	l.byID[id] = addEventJSON{ID: id, EventType: "ADD", Status: "SUCCEEDED", Results: results, CreatedAt: now, UpdatedAt: now}
	l.order = append(l.order, id)
	return id
}

func (l *eventLog) get(id string) (addEventJSON, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev, ok := l.byID[id]
	return ev, ok
}
