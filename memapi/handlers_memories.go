package memapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/internal/requestid"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/proxy"
)

// addMemories stores memories (POST /v1/memories/, /v3/memories/add/).
// Adds complete before the answer, whatever async_mode asks: the caller
// can search for them at once. The answer carries an event id that GET
// /v1/event/{id}/ reports as SUCCEEDED.
func (a *API) addMemories(c *gin.Context) error {
	var req addRequest
	if err := a.decodeBody(c, &req); err != nil {
		return err
	}
	add, err := req.toAdd()
	if err != nil {
		return invalid(err)
	}
	add.RequestID = requestid.FromContext(c.Request.Context())
	events, err := a.opts.Memories.Add(c.Request.Context(), add)
	if err != nil && !errors.Is(err, memory.ErrNoScope) {
		err = fmt.Errorf("nothing was added: %w", err)
	}
	if err != nil {
		return failed("storing memories", err)
	}
	results := make([]addResult, 0, len(events))
	for _, e := range events {
		results = append(results, addResult{ID: e.ID, Memory: e.Text, Event: e.Kind, Data: map[string]any{"memory": e.Text}})
	}
	eventID := a.events.record(results)
	c.JSON(http.StatusOK, gin.H{"results": results, "status": "SUCCEEDED", "event_id": eventID})
	return nil
}

// searchMemories answers POST /v2/memories/search/ and /v3/memories/search/
// with {"results": [memory with score, ...]}, best first.
func (a *API) searchMemories(c *gin.Context) error {
	var req queryRequest
	if err := a.decodeBody(c, &req); err != nil {
		return err
	}
	q, err := req.query()
	if err != nil {
		return invalid(err)
	}
	hits, err := a.opts.Memories.Search(c.Request.Context(), q)
	if err != nil {
		return failed("searching memories", err)
	}
	results := make([]memoryJSON, len(hits))
	for i, h := range hits {
		results[i] = toHitJSON(h)
	}
	c.JSON(http.StatusOK, gin.H{"results": results})
	return nil
}

// listMemories answers POST /v2/memories/ and /v3/memories/ with a page
// of memories, newest first: {"count", "next", "previous", "results"}.
func (a *API) listMemories(c *gin.Context) error {
	var req queryRequest
	if err := a.decodeBody(c, &req); err != nil {
		return err
	}
	page, size, err := pageOf(c.Request.URL.Query(), &req)
	if err != nil {
		return invalid(err)
	}
	f, err := req.filter()
	if err != nil {
		return invalid(err)
	}
	ms, total, err := a.opts.Memories.List(c.Request.Context(), f, memory.Page{Offset: (page - 1) * size, Limit: size})
	if err != nil {
		return failed("listing memories", err)
	}
	results := make([]memoryJSON, len(ms))
	for i, m := range ms {
		results[i] = toMemoryJSON(m)
	}
	c.JSON(http.StatusOK, newPage(c.Request.URL.Path, page, size, total, results))
	return nil
}

// getMemory answers GET /v1/memories/{id}/.
func (a *API) getMemory(c *gin.Context) error {
	id, err := pathID(c, "id", "the memory id")
	if err != nil {
		return err
	}
	m, err := a.opts.Memories.Get(c.Request.Context(), id)
	if err != nil {
		return failed("reading the memory", err)
	}
	c.JSON(http.StatusOK, toMemoryJSON(m))
	return nil
}

// updateMemory answers PUT /v1/memories/{id}/ with the updated memory.
func (a *API) updateMemory(c *gin.Context) error {
	id, err := pathID(c, "id", "the memory id")
	if err != nil {
		return err
	}
	var req updateRequest
	if err := a.decodeBody(c, &req); err != nil {
		return err
	}
	ch, err := req.change(id)
	if err != nil {
		return invalid(err)
	}
	ms, err := a.opts.Memories.Update(c.Request.Context(), requestid.FromContext(c.Request.Context()), ch)
	if err != nil {
		return failed("updating the memory", err)
	}
	c.JSON(http.StatusOK, toMemoryJSON(ms[0]))
	return nil
}

// deleteMemory answers DELETE /v1/memories/{id}/. The memory's history
// goes with it.
func (a *API) deleteMemory(c *gin.Context) error {
	id, err := pathID(c, "id", "the memory id")
	if err != nil {
		return err
	}
	if err := a.opts.Memories.Delete(c.Request.Context(), id); err != nil {
		return failed("deleting the memory", err)
	}
	c.JSON(http.StatusOK, messageJSON{Message: "Memory deleted successfully!"})
	return nil
}

// deleteParams are the query parameters DELETE /v1/memories/ reads; the
// SDKs add org_id and project_id, which say nothing here.
var deleteParams = map[string]bool{"user_id": true, "agent_id": true, "app_id": true, "run_id": true, "org_id": true, "project_id": true}

// deleteMemories answers DELETE /v1/memories/?user_id=...: every memory
// with all the ids given, and its history.
func (a *API) deleteMemories(c *gin.Context) error {
	var ids scopeIDs
	for k, vs := range c.Request.URL.Query() {
		if k == "filters" {
			return invalid(errors.New("DELETE /v1/memories/ takes the scope as query parameters user_id, agent_id, app_id or run_id, not filters (the Python SDK sends filters= as Python text in the URL)"))
		}
		if !deleteParams[k] {
			return invalid(fmt.Errorf("unknown query parameter %q: DELETE /v1/memories/ takes user_id, agent_id, app_id and run_id", k))
		}
		if len(vs) > 1 {
			return invalid(fmt.Errorf("query parameter %s is given %d times; give it once", k, len(vs)))
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
		return invalid(err)
	}
	if f.IsZero() {
		return invalid(errors.New("name whose memories to delete: user_id, agent_id, app_id or run_id (to delete everything, delete each entity listed by GET /v1/entities/)"))
	}
	n, err := a.opts.Memories.DeleteMatching(c.Request.Context(), f)
	if err != nil {
		return failed("deleting memories", err)
	}
	c.JSON(http.StatusOK, messageJSON{Message: "Memories deleted successfully!", Count: &n})
	return nil
}

// memoryHistory answers GET /v1/memories/{id}/history/: the changes,
// oldest first.
func (a *API) memoryHistory(c *gin.Context) error {
	id, err := pathID(c, "id", "the memory id")
	if err != nil {
		return err
	}
	rs, err := a.opts.Memories.History(c.Request.Context(), id)
	if err != nil {
		return failed("reading the history", err)
	}
	out := make([]historyJSON, len(rs))
	for i, r := range rs {
		out[i] = toHistoryJSON(r)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// batchMemories reads the body of PUT and DELETE /v1/batch/.
func (a *API) batchMemories(c *gin.Context) (batchRequest, error) {
	var req batchRequest
	if err := a.decodeBody(c, &req); err != nil {
		return req, err
	}
	if len(req.Memories) == 0 {
		return req, invalid(errors.New("memories is required: a list of {\"memory_id\": ...}"))
	}
	if len(req.Memories) > maxBatch {
		return req, invalid(fmt.Errorf("a batch holds at most %d memories, got %d", maxBatch, len(req.Memories)))
	}
	for i, m := range req.Memories {
		if m.MemoryID == nil || *m.MemoryID == "" {
			return req, invalid(fmt.Errorf("memories[%d]: memory_id is required", i))
		}
		if err := proxy.CheckID(*m.MemoryID); err != nil {
			return req, invalid(fmt.Errorf("memories[%d].memory_id: %w", i, err))
		}
	}
	return req, nil
}

// batchUpdate answers PUT /v1/batch/: all the updates, or none.
func (a *API) batchUpdate(c *gin.Context) error {
	req, err := a.batchMemories(c)
	if err != nil {
		return err
	}
	changes := make([]memory.Change, len(req.Memories))
	for i, m := range req.Memories {
		ch, err := m.change(*m.MemoryID)
		if err != nil {
			return invalid(fmt.Errorf("memories[%d]: %w", i, err))
		}
		changes[i] = ch
	}
	if _, err := a.opts.Memories.Update(c.Request.Context(), requestid.FromContext(c.Request.Context()), changes...); err != nil {
		return failed("updating memories", err)
	}
	n := len(changes)
	c.JSON(http.StatusOK, messageJSON{Message: fmt.Sprintf("Successfully updated %d memories", n), Count: &n})
	return nil
}

// batchDelete answers DELETE /v1/batch/: all the deletes, or none.
func (a *API) batchDelete(c *gin.Context) error {
	req, err := a.batchMemories(c)
	if err != nil {
		return err
	}
	ids := make([]string, len(req.Memories))
	for i, m := range req.Memories {
		ids[i] = *m.MemoryID
	}
	if err := a.opts.Memories.Delete(c.Request.Context(), ids...); err != nil {
		return failed("deleting memories", err)
	}
	n := len(ids)
	c.JSON(http.StatusOK, messageJSON{Message: fmt.Sprintf("Successfully deleted %d memories", n), Count: &n})
	return nil
}
