package inspector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/internal/requestid"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/proxy"
)

// This file is the inspector's JSON API: thin handlers over the memory
// service, proxy.Explain and the learning queue.

const (
	defaultPage = 20
	maxPage     = 100
	defaultTopK = 10
	maxTopK     = 100
	// agentScan bounds how many of a user's agent-scoped memories are read
	// to find the agents they concern.
	agentScan = 10_000
)

// memoryView is a memory as the page shows it.
type memoryView struct {
	ID         string         `json:"id"`
	Memory     string         `json:"memory"`
	UserID     string         `json:"user_id,omitempty"`
	AgentID    string         `json:"agent_id,omitempty"`
	RunID      string         `json:"run_id,omitempty"`
	AppID      string         `json:"app_id,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	Categories []string       `json:"categories,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ExpiresAt  *time.Time     `json:"expires_at,omitempty"`
	Score      *float64       `json:"score,omitempty"`
}

func viewOf(m memory.Memory) memoryView {
	v := memoryView{
		ID: m.ID, Memory: m.Text, UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID, AppID: m.AppID,
		Metadata: m.Metadata, Categories: m.Categories, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
	if !m.ExpiresAt.IsZero() {
		v.ExpiresAt = &m.ExpiresAt
	}
	return v
}

func viewsOf(ms []memory.Memory) []memoryView {
	out := make([]memoryView, len(ms))
	for i, m := range ms {
		out[i] = viewOf(m)
	}
	return out
}

// answer writes v, or maps err to a status: an invalid request 400, an
// unknown memory 404, anything else 500 (logged).
func (in *Inspector) answer(c *gin.Context, v any, err error) {
	switch {
	case err == nil:
		c.JSON(http.StatusOK, v)
	case errors.Is(err, memory.ErrInvalid), errors.Is(err, errBadRequest):
		fail(c, http.StatusBadRequest, err.Error())
	case errors.Is(err, memory.ErrNotFound):
		fail(c, http.StatusNotFound, err.Error())
	default:
		in.log.ErrorContext(c.Request.Context(), "inspector: request failed", "path", c.FullPath(), "err", err)
		fail(c, http.StatusInternalServerError, err.Error())
	}
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// id reads an id from the query or the path and checks it as the proxy
// checks identities.
func id(v, what string) (string, error) {
	if err := proxy.CheckID(v); err != nil {
		return "", badRequest("%s: %v", what, err)
	}
	return v, nil
}

// intParam reads a non-negative integer query parameter.
func intParam(c *gin.Context, name string, def, limit int) (int, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > limit {
		return 0, badRequest("%s must be a whole number from 0 to %d", name, limit)
	}
	return n, nil
}

// entities answers GET /api/entities?q=&kind=&offset=&limit=: the users,
// agents, apps and runs with memories, those whose name contains q, a
// page of them, and how many of each kind there are.
func (in *Inspector) entities(c *gin.Context) {
	if in.opts.Memories == nil {
		fail(c, http.StatusServiceUnavailable, "the memory store is not configured")
		return
	}
	offset, err := intParam(c, "offset", 0, 1<<30)
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	limit, err := intParam(c, "limit", defaultPage, maxPage)
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	es, err := in.opts.Memories.Entities(c.Request.Context())
	if err != nil {
		in.answer(c, nil, fmt.Errorf("listing entities: %w", err))
		return
	}
	q, kind := strings.ToLower(c.Query("q")), c.Query("kind")
	type entityView struct {
		Kind      string    `json:"kind"`
		Name      string    `json:"name"`
		Memories  int       `json:"memories"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	counts := map[string]int{}
	matched := []entityView{}
	for _, e := range es {
		if q != "" && !strings.Contains(strings.ToLower(e.Name), q) {
			continue
		}
		counts[e.Kind]++
		if kind == "" || e.Kind == kind {
			matched = append(matched, entityView{e.Kind, e.Name, e.Memories, e.UpdatedAt})
		}
	}
	start := min(offset, len(matched))
	end := min(start+limit, len(matched))
	in.answer(c, gin.H{"counts": counts, "total": len(matched), "offset": start, "entities": matched[start:end]}, nil)
}

// A layer names one group of a user's memories.
type layer struct {
	Layer   string `json:"layer"` // persona, user or relationship
	AgentID string `json:"agent_id,omitempty"`
	UserID  string `json:"user_id,omitempty"`
}

// filter is the layer's filter, the one recall uses for it.
func (l layer) filter() (memory.Filter, error) {
	switch {
	case l.Layer == "persona" && l.AgentID != "":
		return memory.PersonaFilter(l.AgentID), nil
	case l.Layer == "user" && l.UserID != "":
		// The user's own facts: not about any agent.
		return memory.And(memory.UserFilter(l.UserID), memory.Eq(memory.FieldAgentID, ""),
			memory.Not(memory.Filter{Op: memory.OpExists, Field: memory.FieldAgentID, Meta: true})), nil
	case l.Layer == "relationship" && l.UserID != "" && l.AgentID != "":
		return memory.RelationshipFilter(l.UserID, l.AgentID), nil
	}
	return memory.Filter{}, badRequest("a layer is persona (with agent_id), user (with user_id) or relationship (with both)")
}

// section is one page of a layer.
type section struct {
	layer
	Total    int          `json:"total"`
	Offset   int          `json:"offset"`
	Limit    int          `json:"limit"`
	Memories []memoryView `json:"memories"`
}

func (in *Inspector) section(c *gin.Context, l layer, offset, limit int) (section, error) {
	f, err := l.filter()
	if err != nil {
		return section{}, err
	}
	ms, total, err := in.opts.Memories.List(c.Request.Context(), f, memory.Page{Offset: offset, Limit: limit})
	if err != nil {
		return section{}, fmt.Errorf("listing the %s layer: %w", l.Layer, err)
	}
	return section{layer: l, Total: total, Offset: offset, Limit: limit, Memories: viewsOf(ms)}, nil
}

// userLayers answers GET /api/users/{user}?agent_id=: the first page of
// each layer of the user's memories: each agent's persona, the user's
// own facts, the relationship with each agent. The agents are those the
// user's memories concern, and agent_id if given.
func (in *Inspector) userLayers(c *gin.Context) {
	user, err := id(c.Param("user"), "the user id")
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	agents, err := in.agentsOf(c, user)
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	if a := c.Query("agent_id"); a != "" {
		if _, err := id(a, "agent_id"); err != nil {
			in.answer(c, nil, err)
			return
		}
		if !slices.Contains(agents, a) {
			agents = append(agents, a)
		}
	}
	slices.Sort(agents)
	var ls []layer
	for _, a := range agents {
		ls = append(ls, layer{Layer: "persona", AgentID: a})
	}
	ls = append(ls, layer{Layer: "user", UserID: user})
	for _, a := range agents {
		ls = append(ls, layer{Layer: "relationship", UserID: user, AgentID: a})
	}
	out := make([]section, 0, len(ls))
	for _, l := range ls {
		s, err := in.section(c, l, 0, defaultPage)
		if err != nil {
			in.answer(c, nil, err)
			return
		}
		out = append(out, s)
	}
	in.answer(c, gin.H{"user_id": user, "agents": agents, "sections": out}, nil)
}

// agentsOf returns the agents the user's memories concern: their agent_id
// or metadata agent_id, read a page at a time.
func (in *Inspector) agentsOf(c *gin.Context, user string) ([]string, error) {
	f := memory.And(memory.UserFilter(user), memory.Or(
		memory.Filter{Op: memory.OpNe, Field: memory.FieldAgentID, Value: ""},
		memory.Filter{Op: memory.OpExists, Field: memory.FieldAgentID, Meta: true}))
	seen := map[string]bool{}
	var out []string
	for offset := 0; offset < agentScan; offset += maxPage * 10 {
		ms, _, err := in.opts.Memories.List(c.Request.Context(), f, memory.Page{Offset: offset, Limit: maxPage * 10})
		if err != nil {
			return nil, fmt.Errorf("finding the agents of %s: %w", user, err)
		}
		for _, m := range ms {
			for _, a := range []string{m.AgentID, metaString(m.Metadata, memory.FieldAgentID)} {
				if a != "" && !seen[a] {
					seen[a] = true
					out = append(out, a)
				}
			}
		}
		if len(ms) < maxPage*10 {
			break
		}
	}
	return out, nil
}

func metaString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// layerPage answers GET /api/layer?layer=&user_id=&agent_id=&offset=&limit=:
// one page of one layer, newest first.
func (in *Inspector) layerPage(c *gin.Context) {
	l := layer{Layer: c.Query("layer"), UserID: c.Query("user_id"), AgentID: c.Query("agent_id")}
	for _, v := range []string{l.UserID, l.AgentID} {
		if _, err := id(v, "the id"); err != nil {
			in.answer(c, nil, err)
			return
		}
	}
	offset, err := intParam(c, "offset", 0, 1<<30)
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	limit, err := intParam(c, "limit", defaultPage, maxPage)
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	s, err := in.section(c, l, offset, max(limit, 1))
	in.answer(c, s, err)
}

// search answers GET /api/search?q=&user_id=&agent_id=&top_k=: the memory
// API's search (memory.Service.Search), with scores, best first.
func (in *Inspector) search(c *gin.Context) {
	var fs []memory.Filter
	for _, field := range []string{memory.FieldUserID, memory.FieldAgentID} {
		if v := c.Query(field); v != "" {
			if _, err := id(v, field); err != nil {
				in.answer(c, nil, err)
				return
			}
			fs = append(fs, memory.Eq(field, v))
		}
	}
	topK, err := intParam(c, "top_k", defaultTopK, maxTopK)
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	hits, err := in.opts.Memories.Search(c.Request.Context(), memory.Query{
		Text: c.Query("q"), Filter: memory.And(fs...), TopK: max(topK, 1),
	})
	if err != nil {
		in.answer(c, nil, fmt.Errorf("searching: %w", err))
		return
	}
	out := make([]memoryView, len(hits))
	for i, h := range hits {
		out[i] = viewOf(h.Memory)
		out[i].Score = &h.Score
	}
	in.answer(c, gin.H{"results": out}, nil)
}

// history answers GET /api/memories/{id}/history: its changes, oldest
// first.
func (in *Inspector) history(c *gin.Context) {
	mid, err := id(c.Param("id"), "the memory id")
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	rs, err := in.opts.Memories.History(c.Request.Context(), mid)
	if err != nil {
		in.answer(c, nil, fmt.Errorf("reading the history: %w", err))
		return
	}
	type record struct {
		Event     string    `json:"event"`
		OldMemory string    `json:"old_memory,omitempty"`
		NewMemory string    `json:"new_memory,omitempty"`
		ActorID   string    `json:"actor_id,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	out := make([]record, len(rs))
	for i, r := range rs {
		out[i] = record{Event: r.Event, OldMemory: r.OldText, NewMemory: r.NewText, ActorID: r.ActorID, CreatedAt: r.CreatedAt}
	}
	in.answer(c, gin.H{"memory_id": mid, "history": out}, nil)
}

// updateMemory answers PUT /api/memories/{id} {"memory": text}.
func (in *Inspector) updateMemory(c *gin.Context) {
	mid, err := id(c.Param("id"), "the memory id")
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	var body struct {
		Memory *string `json:"memory"`
	}
	if err := decode(c, &body); err != nil || body.Memory == nil {
		in.answer(c, nil, badRequest(`send {"memory": the new text}`))
		return
	}
	ms, err := in.opts.Memories.Update(c.Request.Context(), requestid.FromContext(c.Request.Context()),
		memory.Change{ID: mid, Text: body.Memory})
	if err != nil {
		in.answer(c, nil, fmt.Errorf("updating the memory: %w", err))
		return
	}
	in.answer(c, viewOf(ms[0]), nil)
}

// deleteMemory answers DELETE /api/memories/{id}; its history goes with
// it.
func (in *Inspector) deleteMemory(c *gin.Context) {
	mid, err := id(c.Param("id"), "the memory id")
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	if err := in.opts.Memories.Delete(c.Request.Context(), mid); err != nil {
		in.answer(c, nil, fmt.Errorf("deleting the memory: %w", err))
		return
	}
	in.log.InfoContext(c.Request.Context(), "inspector: memory deleted", "memory_id", mid)
	in.answer(c, gin.H{"deleted": 1}, nil)
}

// deleteUser answers DELETE /api/users/{user} {"confirm": user}: every
// memory of the user, once the operator has typed the user's id.
func (in *Inspector) deleteUser(c *gin.Context) {
	user, err := id(c.Param("user"), "the user id")
	if err != nil {
		in.answer(c, nil, err)
		return
	}
	var body struct {
		Confirm string `json:"confirm"`
	}
	if err := decode(c, &body); err != nil || body.Confirm != user {
		in.answer(c, nil, badRequest(`to delete every memory of a user, send {"confirm": the user id}`))
		return
	}
	n, err := in.opts.Memories.DeleteEntity(c.Request.Context(), memory.EntityUser, user)
	if err != nil {
		in.answer(c, nil, fmt.Errorf("deleting the memories of %s: %w", user, err))
		return
	}
	in.log.InfoContext(c.Request.Context(), "inspector: user's memories deleted", "user_id", user, "count", n)
	in.answer(c, gin.H{"deleted": n}, nil)
}

// decode reads a small JSON body.
func decode(c *gin.Context, v any) error {
	return json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20)).Decode(v)
}

// explain answers GET /api/explain?user_id=&agent_id=&run_id=&message=:
// what the chat proxy would inject for that message, layer by layer, and
// the policy rule that matched (proxy.Explain, as /memproxy/explain).
func (in *Inspector) explain(c *gin.Context) {
	req := proxy.ExplainRequest{
		UserID: c.Query("user_id"), AgentID: c.Query("agent_id"), RunID: c.Query("run_id"),
		Query: c.Query("message"), Message: c.Query("message"),
	}
	for _, v := range []string{req.UserID, req.AgentID, req.RunID} {
		if _, err := id(v, "the id"); err != nil {
			in.answer(c, nil, err)
			return
		}
	}
	in.answer(c, proxy.Explain(c.Request.Context(), in.opts.Policies, in.opts.Recaller, req), nil)
}

// outbox answers GET /api/outbox: pending, in flight, dead letters (ids
// and the error, never what the user said).
func (in *Inspector) outbox(c *gin.Context) {
	dead, err := in.opts.Queue.DeadLetters()
	if err != nil {
		in.answer(c, nil, fmt.Errorf("reading the dead letters: %w", err))
		return
	}
	in.answer(c, learn.Report(in.opts.Queue.Stats(), dead), nil)
}

// retryDead answers POST /api/outbox/dead/{seq}/retry.
func (in *Inspector) retryDead(c *gin.Context) { in.onDead(c, Queue.Retry, "retried") }

// discardDead answers DELETE /api/outbox/dead/{seq}.
func (in *Inspector) discardDead(c *gin.Context) { in.onDead(c, Queue.Discard, "dropped") }

func (in *Inspector) onDead(c *gin.Context, do func(Queue, uint64) error, done string) {
	seq, err := strconv.ParseUint(c.Param("seq"), 10, 64)
	if err != nil {
		in.answer(c, nil, badRequest("seq must be the number of a dead letter"))
		return
	}
	if err := do(in.opts.Queue, seq); errors.Is(err, learn.ErrNoDeadLetter) {
		fail(c, http.StatusNotFound, fmt.Sprintf("no dead letter %d", seq))
		return
	} else if err != nil {
		in.answer(c, nil, fmt.Errorf("dead letter %d: %w", seq, err))
		return
	}
	in.log.InfoContext(c.Request.Context(), "inspector: dead letter "+done, "seq", seq)
	in.answer(c, gin.H{done: seq}, nil)
}
