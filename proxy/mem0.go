package proxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// This file holds the Mem0 platform's wire format, as the mem0ai SDKs send
// and read it, and its conversion to and from package memory. The
// handlers are in memapi.go.

// Defaults and bounds of the memory API.
const (
	// defaultTopK is the platform's top_k.
	defaultTopK = 10
	maxTopK     = 1000
	// defaultThreshold: the platform's v2 default (0.3) would hide most
	// relevant memories under the built-in lexical embedder, whose scores
	// run lower than a semantic model's. The filters already scope a
	// search; a client that wants a floor sends threshold.
	defaultThreshold = 0.0
	defaultPageSize  = 100
	maxPageSize      = 1000
	maxBatch         = 1000
)

// timeLayout is how times are written: ISO 8601 with microseconds and a
// numeric zone, which every Python's datetime.fromisoformat reads.
const timeLayout = "2006-01-02T15:04:05.000000-07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// memoryJSON is a memory as the platform returns it. Ids a memory does
// not have are null.
type memoryJSON struct {
	ID             string         `json:"id"`
	Memory         string         `json:"memory"`
	UserID         *string        `json:"user_id"`
	AgentID        *string        `json:"agent_id"`
	AppID          *string        `json:"app_id"`
	RunID          *string        `json:"run_id"`
	Hash           string         `json:"hash"`
	Metadata       map[string]any `json:"metadata"`
	Categories     []string       `json:"categories"`
	CreatedAt      string         `json:"created_at"`
	UpdatedAt      string         `json:"updated_at"`
	ExpirationDate *string        `json:"expiration_date"`
	Immutable      bool           `json:"immutable"`
	Score          *float64       `json:"score,omitempty"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toMemoryJSON(m memory.Memory) memoryJSON {
	out := memoryJSON{
		ID: m.ID, Memory: m.Text, UserID: nullable(m.UserID), AgentID: nullable(m.AgentID),
		AppID: nullable(m.AppID), RunID: nullable(m.RunID), Hash: m.Hash, Metadata: m.Metadata,
		Categories: m.Categories, CreatedAt: formatTime(m.CreatedAt), UpdatedAt: formatTime(m.UpdatedAt),
	}
	if out.Categories == nil {
		out.Categories = []string{}
	}
	if !m.ExpiresAt.IsZero() {
		d := m.ExpiresAt.UTC().Format(time.DateOnly)
		out.ExpirationDate = &d
	}
	return out
}

func toHitJSON(h memory.Hit) memoryJSON {
	out := toMemoryJSON(h.Memory)
	score := math.Round(h.Score*1e6) / 1e6
	out.Score = &score
	return out
}

// addRequest is the body of POST /v1/memories/ and POST /v3/memories/add/.
// Fields the SDKs send that the sidecar has no use for (org_id,
// project_id, output_format, version, custom_categories, ...) are accepted
// and ignored.
type addRequest struct {
	Messages       json.RawMessage `json:"messages"`
	UserID         *string         `json:"user_id"`
	AgentID        *string         `json:"agent_id"`
	RunID          *string         `json:"run_id"`
	AppID          *string         `json:"app_id"`
	Filters        json.RawMessage `json:"filters"`
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

// scopeIDs are the four ids a request can name at its top level.
type scopeIDs struct {
	UserID  *string `json:"user_id"`
	AgentID *string `json:"agent_id"`
	RunID   *string `json:"run_id"`
	AppID   *string `json:"app_id"`
}

// scope checks the ids and returns them as a Scope.
func (ids scopeIDs) scope() (memory.Scope, error) {
	var sc memory.Scope
	for _, id := range []struct {
		name string
		src  *string
		dst  *string
	}{
		{"user_id", ids.UserID, &sc.UserID}, {"agent_id", ids.AgentID, &sc.AgentID},
		{"run_id", ids.RunID, &sc.RunID}, {"app_id", ids.AppID, &sc.AppID},
	} {
		if id.src == nil || *id.src == "" {
			continue
		}
		if err := checkID(*id.src); err != nil {
			return sc, fmt.Errorf("%s: %w", id.name, err)
		}
		*id.dst = *id.src
	}
	return sc, nil
}

// filter selects the memories with every id given (and any other ids).
func (ids scopeIDs) filter() (memory.Filter, error) {
	sc, err := ids.scope()
	if err != nil {
		return memory.Filter{}, err
	}
	var fs []memory.Filter
	for _, p := range []struct{ field, v string }{
		{memory.FieldUserID, sc.UserID}, {memory.FieldAgentID, sc.AgentID},
		{memory.FieldRunID, sc.RunID}, {memory.FieldAppID, sc.AppID},
	} {
		if p.v != "" {
			fs = append(fs, memory.Eq(p.field, p.v))
		}
	}
	return memory.And(fs...), nil
}

func (r *addRequest) toAdd() (memory.AddRequest, error) {
	var add memory.AddRequest
	ids := scopeIDs{UserID: r.UserID, AgentID: r.AgentID, RunID: r.RunID, AppID: r.AppID}
	if len(r.Filters) > 0 && string(r.Filters) != "null" {
		// The v3 SDKs may name the scope in filters: {"user_id": "..."}.
		var inFilters scopeIDs
		d := json.NewDecoder(bytes.NewReader(r.Filters))
		d.DisallowUnknownFields()
		if err := d.Decode(&inFilters); err != nil {
			return add, errors.New("filters of an add may only name the scope: user_id, agent_id, run_id, app_id (strings)")
		}
		for _, p := range []struct{ top, in **string }{
			{&ids.UserID, &inFilters.UserID}, {&ids.AgentID, &inFilters.AgentID},
			{&ids.RunID, &inFilters.RunID}, {&ids.AppID, &inFilters.AppID},
		} {
			if *p.in == nil {
				continue
			}
			if *p.top != nil && **p.top != **p.in {
				return add, errors.New("filters names another scope than the top-level ids")
			}
			*p.top = *p.in
		}
	}
	sc, err := ids.scope()
	if err != nil {
		return add, err
	}
	add.Scope = sc
	msgs, err := parseMessages(r.Messages)
	if err != nil {
		return add, err
	}
	add.Messages = msgs
	add.Infer = r.Infer == nil || *r.Infer
	if add.Metadata, err = parseMetadata(r.Metadata); err != nil {
		return add, err
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

// parseMetadata reads a metadata object; null or absent is none.
func parseMetadata(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("metadata must be a JSON object")
	}
	return m, nil
}

// parseMessages accepts what the SDKs send as messages: a list of
// {role, content} objects, one such object, or one string (the Node SDK's
// add("text")).
func parseMessages(raw json.RawMessage) ([]memory.Message, error) {
	raw = bytes.TrimSpace(raw)
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
	type message struct {
		Role    *string         `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	var list []message
	if raw[0] == '{' {
		var m message
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, errors.New("messages must be a string or a list of {role, content} objects")
		}
		list = []message{m}
	} else if err := json.Unmarshal(raw, &list); err != nil {
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

// queryRequest is what a search (POST /v2/memories/search/, POST
// /v3/memories/search/) and a listing (POST /v2/memories/, POST
// /v3/memories/) send: filters, and in the older SDK top-level ids.
type queryRequest struct {
	scopeIDs
	Query      *string         `json:"query"`
	Filters    json.RawMessage `json:"filters"`
	Metadata   json.RawMessage `json:"metadata"`
	Categories []string        `json:"categories"`
	TopK       *int            `json:"top_k"`
	Limit      *int            `json:"limit"`
	Threshold  *float64        `json:"threshold"`
	Page       *int            `json:"page"`
	PageSize   *int            `json:"page_size"`
	StartDate  *string         `json:"start_date"`
	EndDate    *string         `json:"end_date"`
}

// errNoEntity is the platform's refusal of a search or listing that names
// no entity.
var errNoEntity = errors.New("one of the filters user_id, agent_id, app_id, run_id is required, e.g. {\"filters\": {\"user_id\": \"alice\"}}; {\"user_id\": \"*\"} names every user")

// filter compiles the request's filters, the top-level ids, metadata,
// categories and dates into one filter, which must name an entity.
func (r *queryRequest) filter() (memory.Filter, error) {
	f, err := parseFilters(r.Filters)
	if err != nil {
		return memory.Filter{}, err
	}
	ids, err := r.scopeIDs.filter()
	if err != nil {
		return memory.Filter{}, err
	}
	parts := []memory.Filter{ids, f}
	meta, err := parseMetadata(r.Metadata)
	if err != nil {
		return memory.Filter{}, err
	}
	for k, v := range meta {
		switch v.(type) {
		case string, float64, bool:
			parts = append(parts, memory.MetaEq(k, v))
		default:
			return memory.Filter{}, fmt.Errorf("metadata.%s: want a string, number or boolean to match", k)
		}
	}
	if len(r.Categories) > 0 {
		vals := make([]any, len(r.Categories))
		for i, c := range r.Categories {
			vals[i] = c
		}
		parts = append(parts, memory.Cmp(memory.FieldCategories, false, memory.OpIn, vals))
	}
	for _, d := range []struct {
		name string
		v    *string
		op   memory.Op
	}{{"start_date", r.StartDate, memory.OpGte}, {"end_date", r.EndDate, memory.OpLte}} {
		if d.v == nil || *d.v == "" {
			continue
		}
		t, _, err := parseFilterTime(*d.v)
		if err != nil {
			return memory.Filter{}, fmt.Errorf("%s: %w", d.name, err)
		}
		parts = append(parts, memory.Cmp(memory.FieldCreatedAt, false, d.op, t))
	}
	all := memory.And(parts...)
	if !all.Mentions(memory.FieldUserID, memory.FieldAgentID, memory.FieldAppID, memory.FieldRunID) {
		return memory.Filter{}, errNoEntity
	}
	if err := all.Validate(); err != nil {
		return memory.Filter{}, fmt.Errorf("filters: %w", err)
	}
	return all, nil
}

func (r *queryRequest) query() (memory.Query, error) {
	if r.Query == nil || strings.TrimSpace(*r.Query) == "" {
		return memory.Query{}, errors.New("query is required: the text to search for")
	}
	f, err := r.filter()
	if err != nil {
		return memory.Query{}, err
	}
	q := memory.Query{Text: *r.Query, Filter: f, TopK: defaultTopK, MinScore: defaultThreshold}
	if r.TopK == nil && r.Limit != nil {
		r.TopK = r.Limit
	}
	if r.TopK != nil {
		if *r.TopK < 1 || *r.TopK > maxTopK {
			return memory.Query{}, fmt.Errorf("top_k must be between 1 and %d, got %d", maxTopK, *r.TopK)
		}
		q.TopK = *r.TopK
	}
	if r.Threshold != nil {
		if *r.Threshold < 0 || *r.Threshold > 1 {
			return memory.Query{}, fmt.Errorf("threshold must be between 0 and 1, got %g", *r.Threshold)
		}
		q.MinScore = *r.Threshold
	}
	return q, nil
}

// pageOf reads page and page_size from the query string, else the body.
func pageOf(q url.Values, body *queryRequest) (page, size int, err error) {
	page, size = 1, defaultPageSize
	if body != nil && body.Page != nil {
		page = *body.Page
	}
	if body != nil && body.PageSize != nil {
		size = *body.PageSize
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"page", &page}, {"page_size", &size}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, fmt.Errorf("%s must be a whole number, got %q", p.name, v)
		}
		*p.dst = n
	}
	if page < 1 {
		return 0, 0, fmt.Errorf("page must be 1 or more, got %d", page)
	}
	if size < 1 || size > maxPageSize {
		return 0, 0, fmt.Errorf("page_size must be between 1 and %d, got %d", maxPageSize, size)
	}
	return page, size, nil
}

// pageJSON is a page of a listing, as the platform paginates.
type pageJSON[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

func newPage[T any](path string, page, size, total int, results []T) pageJSON[T] {
	link := func(p int) *string {
		s := fmt.Sprintf("%s?page=%d&page_size=%d", path, p, size)
		return &s
	}
	out := pageJSON[T]{Count: total, Results: results}
	if page*size < total {
		out.Next = link(page + 1)
	}
	if page > 1 {
		out.Previous = link(page - 1)
	}
	return out
}

// updateRequest is the body of PUT /v1/memories/{id}/. expiration_date
// null clears the expiry.
type updateRequest struct {
	Text           *string         `json:"text"`
	Metadata       json.RawMessage `json:"metadata"`
	Timestamp      json.RawMessage `json:"timestamp"`
	ExpirationDate json.RawMessage `json:"expiration_date"`
}

func (r *updateRequest) change(id string) (memory.Change, error) {
	ch := memory.Change{ID: id, Text: r.Text}
	if len(r.Metadata) > 0 && string(r.Metadata) != "null" {
		m, err := parseMetadata(r.Metadata)
		if err != nil {
			return ch, err
		}
		ch.Metadata = m
	}
	if len(r.ExpirationDate) > 0 {
		var t time.Time
		if string(r.ExpirationDate) != "null" {
			var s string
			if err := json.Unmarshal(r.ExpirationDate, &s); err != nil {
				return ch, errors.New("expiration_date must be a date like 2025-06-30, or null to clear it")
			}
			if s != "" {
				var err error
				if t, err = parseDate(s); err != nil {
					return ch, fmt.Errorf("expiration_date: %w", err)
				}
			}
		}
		ch.ExpiresAt = &t
	}
	if len(r.Timestamp) > 0 && string(r.Timestamp) != "null" {
		t, err := parseTimestamp(r.Timestamp)
		if err != nil {
			return ch, err
		}
		ch.CreatedAt = &t
	}
	return ch, nil
}

// parseTimestamp reads a Unix time in seconds or an ISO 8601 time.
func parseTimestamp(raw json.RawMessage) (time.Time, error) {
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil {
		if n < 0 || n > 1e11 {
			return time.Time{}, fmt.Errorf("timestamp %g is not a Unix time in seconds", n)
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("timestamp must be a Unix time in seconds or an ISO 8601 time")
	}
	t, _, err := parseFilterTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp: %w", err)
	}
	return t, nil
}

// batchRequest is the body of PUT and DELETE /v1/batch/.
type batchRequest struct {
	Memories []struct {
		MemoryID *string `json:"memory_id"`
		updateRequest
	} `json:"memories"`
}

// historyJSON is one change of a memory, as the platform reports it.
type historyJSON struct {
	ID        string  `json:"id"`
	MemoryID  string  `json:"memory_id"`
	OldMemory *string `json:"old_memory"`
	NewMemory *string `json:"new_memory"`
	Event     string  `json:"event"`
	UserID    *string `json:"user_id"`
	AgentID   *string `json:"agent_id"`
	AppID     *string `json:"app_id"`
	RunID     *string `json:"run_id"`
	RequestID *string `json:"request_id"`
	Input     []any   `json:"input"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

func toHistoryJSON(r memory.HistoryRecord) historyJSON {
	return historyJSON{
		ID: r.ID, MemoryID: r.MemoryID, OldMemory: nullable(r.OldText), NewMemory: nullable(r.NewText),
		Event: r.Event, UserID: nullable(r.UserID), AgentID: nullable(r.AgentID), AppID: nullable(r.AppID),
		RunID: nullable(r.RunID), RequestID: nullable(r.RequestID), Input: []any{},
		CreatedAt: formatTime(r.CreatedAt), UpdatedAt: formatTime(r.CreatedAt),
	}
}

// entityJSON is a user, agent, app or run, as GET /v1/entities/ lists it.
type entityJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Type          string         `json:"type"`
	TotalMemories int            `json:"total_memories"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	Owner         string         `json:"owner"`
	Organization  string         `json:"organization"`
	Metadata      map[string]any `json:"metadata"`
}

func toEntityJSON(e memory.Entity) entityJSON {
	return entityJSON{
		ID: entityID(e.Kind, e.Name), Name: e.Name, Type: e.Kind, TotalMemories: e.Memories,
		CreatedAt: formatTime(e.CreatedAt), UpdatedAt: formatTime(e.UpdatedAt),
		Owner: pingOrg, Organization: pingOrg, Metadata: map[string]any{},
	}
}

// entityID is a stable UUID-shaped id for an entity: the platform gives
// entities ids; memproxy's entities are their kind and name.
func entityID(kind, name string) string {
	sum := sha256.Sum256([]byte("memproxy-entity\x00" + kind + "\x00" + name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// messageJSON is the platform's answer to a delete or a batch.
type messageJSON struct {
	Message string `json:"message"`
	Count   *int   `json:"count,omitempty"`
}

// addEventJSON is a completed add, as GET /v1/event/{id}/ reports it.
type addEventJSON struct {
	ID        string      `json:"id"`
	EventType string      `json:"event_type"`
	Status    string      `json:"status"`
	Results   []addResult `json:"results"`
	CreatedAt string      `json:"created_at"`
	UpdatedAt string      `json:"updated_at"`
}
