package memapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/proxy"
)

// This file holds the request bodies of the Mem0 platform's wire format,
// as the mem0ai SDKs send them, how they are read, and their conversion to
// package memory.

// decodeBody reads a JSON object of at most MaxBodyBytes into v.
func (a *API) decodeBody(c *gin.Context, v any) error {
	body, err := proxy.ReadBody(c, a.opts.MaxBodyBytes)
	var refused *proxy.BodyError
	if errors.As(err, &refused) {
		return &httpError{refused.Status, refused.Code, refused.Msg}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return invalid(errors.New("the request needs a JSON object as its body"))
	}
	if err := checkDuplicateKeys(body); err != nil {
		return invalid(err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" {
				return invalid(fmt.Errorf("the body must be a JSON object, got %s", typeErr.Value))
			}
			return invalid(fmt.Errorf("field %s: want %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value))
		}
		return invalid(errors.New("request body is not a valid JSON object: " + err.Error()))
	}
	return nil
}

// pathID reads and checks an id from the path.
func pathID(c *gin.Context, name, what string) (string, error) {
	id := c.Param(name)
	if id == "" {
		return "", &httpError{http.StatusBadRequest, "invalid_request", what + " is missing from the path"}
	}
	if err := proxy.CheckID(id); err != nil {
		return "", invalid(fmt.Errorf("%s: %w", what, err))
	}
	return id, nil
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
		if err := proxy.CheckID(*id.src); err != nil {
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
