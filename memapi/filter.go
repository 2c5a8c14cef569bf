package memapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/proxy"
)

// The Mem0 filter language, as the memory API reads it:
//
//	filters   = object
//	object    = { key: value, ... }            every entry must hold (AND)
//	"AND"/"OR": [object, ...]                   all / any of the conditions
//	"NOT":      [object, ...] or object         none of the conditions
//	field:      condition                       user_id, agent_id, app_id, run_id, id,
//	                                            memory, categories, created_at, updated_at
//	"metadata": { key: condition, ... }         metadata keys, every one must hold
//	"metadata.<key>": condition                 one metadata key, at any level
//	condition = value                           equal (a string, number or boolean)
//	          | "*"                             the field is set (any value)
//	          | { op: value, ... }              every operator must hold:
//	            eq ne in nin gt gte lt lte contains icontains
//
// Keys are matched exactly. At most one of AND, OR and NOT may appear at
// one level: {"AND": [...], "OR": [...]} is refused rather than guessed
// at; nest one inside the other. Any other key is refused with a 400 that
// names it: a misspelt field must not silently match nothing, or
// everything. Metadata keys are therefore written under "metadata" (as
// the Mem0 platform requires) or as "metadata.<key>".
//
// Dates (created_at, updated_at) are "2025-01-23" (midnight UTC; eq and
// ne then cover the whole day) or RFC 3339 times.
//
// Values only ever become memory.Filter values, never field names or
// operators, so no value can change the shape of the expression.

// Limits of one filter expression.
const (
	maxFilterDepth = 32
	maxFilterNodes = 2000
	maxListValues  = 1000
)

// filterFields are the Mem0 field names the language accepts, in the
// order error messages list them.
var filterFields = []string{
	memory.FieldUserID, memory.FieldAgentID, memory.FieldAppID, memory.FieldRunID, memory.FieldID,
	memory.FieldText, memory.FieldCategories, memory.FieldCreatedAt, memory.FieldUpdatedAt, "metadata",
}

// unsupportedFields are Mem0 fields memproxy does not keep.
var unsupportedFields = map[string]string{
	"keywords":  "memproxy does not extract keywords; use {\"memory\": {\"icontains\": ...}}",
	"timestamp": "use created_at",
}

var filterOps = map[string]memory.Op{
	"eq": memory.OpEq, "ne": memory.OpNe, "in": memory.OpIn, "nin": memory.OpNin,
	"gt": memory.OpGt, "gte": memory.OpGte, "lt": memory.OpLt, "lte": memory.OpLte,
	"contains": memory.OpContains, "icontains": memory.OpIContains,
}

// parseFilters compiles a JSON filter object. Empty input, null and {}
// give the empty filter. The result has passed memory.Filter.Validate.
func parseFilters(raw []byte) (memory.Filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return memory.Filter{}, nil
	}
	v, err := decodeJSONValue(raw)
	if err != nil {
		return memory.Filter{}, fmt.Errorf("filters: %w", err)
	}
	obj, ok := v.(jsonObject)
	if !ok {
		return memory.Filter{}, fmt.Errorf("filters must be a JSON object, got %s", jsonKind(v))
	}
	p := filterParser{}
	f, err := p.object(obj, "filters", 0, true)
	if err != nil {
		return memory.Filter{}, err
	}
	if err := f.Validate(); err != nil {
		return memory.Filter{}, fmt.Errorf("filters: %w", err)
	}
	return f, nil
}

type filterParser struct {
	nodes int
}

func (p *filterParser) count(path string) error {
	p.nodes++
	if p.nodes > maxFilterNodes {
		return fmt.Errorf("%s: the filter has more than %d conditions", path, maxFilterNodes)
	}
	return nil
}

// object compiles one filter object: the AND of its entries.
func (p *filterParser) object(obj jsonObject, path string, depth int, top bool) (memory.Filter, error) {
	if depth > maxFilterDepth {
		return memory.Filter{}, fmt.Errorf("%s: filters nest deeper than %d levels", path, maxFilterDepth)
	}
	if len(obj) == 0 {
		if top {
			return memory.Filter{}, nil
		}
		return memory.Filter{}, fmt.Errorf("%s: an empty condition {} matches everything; leave it out", path)
	}
	var logical []string
	for _, kv := range obj {
		switch kv.key {
		case "AND", "OR", "NOT":
			logical = append(logical, kv.key)
		}
	}
	if len(logical) > 1 {
		return memory.Filter{}, fmt.Errorf("%s: %s and %s cannot stand side by side at one level: it is ambiguous; nest one inside the other, e.g. {\"AND\": [{\"OR\": [...]}, ...]}",
			path, logical[0], logical[1])
	}
	var parts []memory.Filter
	for _, kv := range obj {
		f, err := p.entry(kv.key, kv.value, path, depth)
		if err != nil {
			return memory.Filter{}, err
		}
		parts = append(parts, f)
	}
	return memory.And(parts...), nil
}

// entry compiles one key of a filter object.
func (p *filterParser) entry(key string, v any, path string, depth int) (memory.Filter, error) {
	if err := p.count(path); err != nil {
		return memory.Filter{}, err
	}
	here := path + "." + key
	switch key {
	case "AND", "OR", "NOT":
		return p.logical(key, v, path+"."+key, depth)
	case "metadata":
		obj, ok := v.(jsonObject)
		if !ok || len(obj) == 0 {
			return memory.Filter{}, fmt.Errorf("%s: want an object of metadata keys, like {\"metadata\": {\"type\": \"relationship\"}}, got %s", here, jsonKind(v))
		}
		var parts []memory.Filter
		for _, kv := range obj {
			if err := checkMetaKey(kv.key, here); err != nil {
				return memory.Filter{}, err
			}
			f, err := p.condition(kv.key, true, kv.value, here+"."+kv.key)
			if err != nil {
				return memory.Filter{}, err
			}
			parts = append(parts, f)
		}
		return memory.And(parts...), nil
	}
	if mk, ok := strings.CutPrefix(key, "metadata."); ok {
		if err := checkMetaKey(mk, path); err != nil {
			return memory.Filter{}, err
		}
		return p.condition(mk, true, v, here)
	}
	if slices.Contains(filterFields, key) {
		return p.condition(key, false, v, here)
	}
	if why, ok := unsupportedFields[key]; ok {
		return memory.Filter{}, fmt.Errorf("%s: the field %s is not supported: %s", path, key, why)
	}
	switch strings.ToUpper(key) {
	case "AND", "OR", "NOT":
		return memory.Filter{}, fmt.Errorf("%s: unknown key %q: logical operators are written in capitals (%s)", path, key, strings.ToUpper(key))
	}
	if _, isOp := filterOps[key]; isOp || key == "*" {
		return memory.Filter{}, fmt.Errorf("%s: %q is an operator, not a field: write {\"<field>\": {%q: ...}}", path, key, key)
	}
	return memory.Filter{}, fmt.Errorf("%s: unknown filter key %q: fields are %s; a metadata key goes under \"metadata\", as in {\"metadata\": {%q: ...}}",
		path, key, strings.Join(filterFields, ", "), key)
}

func checkMetaKey(k, path string) error {
	if k == "" {
		return fmt.Errorf("%s: a metadata key must not be empty", path)
	}
	if len(k) > 256 {
		return fmt.Errorf("%s: a metadata key must be at most 256 bytes", path)
	}
	return nil
}

// logical compiles AND, OR and NOT.
func (p *filterParser) logical(op string, v any, path string, depth int) (memory.Filter, error) {
	var items []any
	switch x := v.(type) {
	case []any:
		items = x
	case jsonObject:
		if op != "NOT" {
			return memory.Filter{}, fmt.Errorf("%s: want a list of conditions, got an object", path)
		}
		items = []any{x}
	default:
		return memory.Filter{}, fmt.Errorf("%s: want a list of conditions, got %s", path, jsonKind(v))
	}
	if len(items) == 0 {
		return memory.Filter{}, fmt.Errorf("%s: the list of conditions is empty", path)
	}
	args := make([]memory.Filter, 0, len(items))
	for i, it := range items {
		ip := fmt.Sprintf("%s[%d]", path, i)
		obj, ok := it.(jsonObject)
		if !ok {
			return memory.Filter{}, fmt.Errorf("%s: want a condition object, got %s", ip, jsonKind(it))
		}
		f, err := p.object(obj, ip, depth+1, false)
		if err != nil {
			return memory.Filter{}, err
		}
		args = append(args, f)
	}
	switch op {
	case "AND":
		return memory.Filter{Op: memory.OpAnd, Args: args}, nil
	case "OR":
		return memory.Filter{Op: memory.OpOr, Args: args}, nil
	}
	return memory.Filter{Op: memory.OpNot, Args: args}, nil
}

// condition compiles the condition on one field or metadata key.
func (p *filterParser) condition(field string, meta bool, v any, path string) (memory.Filter, error) {
	if s, ok := v.(string); ok && s == "*" {
		return memory.Filter{Op: memory.OpExists, Field: field, Meta: meta}, nil
	}
	obj, isObj := v.(jsonObject)
	if !isObj {
		op := memory.OpEq
		if !meta && field == memory.FieldCategories {
			op = memory.OpContains // "categories": "x" means x is one of them
		}
		return p.compare(field, meta, op, "", v, path)
	}
	if len(obj) == 0 {
		return memory.Filter{}, fmt.Errorf("%s: an empty operator object; use one of eq, ne, in, nin, gt, gte, lt, lte, contains, icontains", path)
	}
	var parts []memory.Filter
	for _, kv := range obj {
		op, ok := filterOps[kv.key]
		if !ok {
			if meta {
				return memory.Filter{}, fmt.Errorf("%s: unknown operator %q (operators: eq, ne, in, nin, gt, gte, lt, lte, contains, icontains); metadata values are strings, numbers or booleans, not objects", path, kv.key)
			}
			return memory.Filter{}, fmt.Errorf("%s: unknown operator %q; use one of eq, ne, in, nin, gt, gte, lt, lte, contains, icontains", path, kv.key)
		}
		if err := p.count(path); err != nil {
			return memory.Filter{}, err
		}
		f, err := p.compare(field, meta, op, kv.key, kv.value, path+"."+kv.key)
		if err != nil {
			return memory.Filter{}, err
		}
		parts = append(parts, f)
	}
	return memory.And(parts...), nil
}

// compare compiles field op value, checking the value's type.
func (p *filterParser) compare(field string, meta bool, op memory.Op, opName string, v any, path string) (memory.Filter, error) {
	timeField := !meta && (field == memory.FieldCreatedAt || field == memory.FieldUpdatedAt)
	if op == memory.OpIn || op == memory.OpNin {
		list, ok := v.([]any)
		if !ok {
			return memory.Filter{}, fmt.Errorf("%s: %s wants a list, got %s", path, opName, jsonKind(v))
		}
		if len(list) > maxListValues {
			return memory.Filter{}, fmt.Errorf("%s: %s takes at most %d values", path, opName, maxListValues)
		}
		if timeField {
			return memory.Filter{}, fmt.Errorf("%s: %s does not apply to %s; use gte and lte", path, opName, field)
		}
		vals := make([]any, len(list))
		for i, x := range list {
			ip := fmt.Sprintf("%s[%d]", path, i)
			val, err := scalar(x, field, meta, ip)
			if err != nil {
				return memory.Filter{}, err
			}
			if err := checkIDValue(field, meta, val, ip); err != nil {
				return memory.Filter{}, err
			}
			vals[i] = val
		}
		return memory.Filter{Op: op, Field: field, Meta: meta, Value: vals}, nil
	}
	if timeField {
		s, ok := v.(string)
		if !ok {
			return memory.Filter{}, fmt.Errorf("%s: want a date like \"2025-01-23\" or an RFC 3339 time, got %s", path, jsonKind(v))
		}
		t, dateOnly, err := parseFilterTime(s)
		if err != nil {
			return memory.Filter{}, fmt.Errorf("%s: %w", path, err)
		}
		if dateOnly && (op == memory.OpEq || op == memory.OpNe) {
			day := memory.And(memory.Cmp(field, false, memory.OpGte, t), memory.Cmp(field, false, memory.OpLt, t.AddDate(0, 0, 1)))
			if op == memory.OpNe {
				return memory.Not(day), nil
			}
			return day, nil
		}
		switch op {
		case memory.OpEq, memory.OpNe, memory.OpGt, memory.OpGte, memory.OpLt, memory.OpLte:
			return memory.Cmp(field, false, op, t), nil
		}
		return memory.Filter{}, fmt.Errorf("%s: %s does not apply to %s", path, opName, field)
	}
	val, err := scalar(v, field, meta, path)
	if err != nil {
		return memory.Filter{}, err
	}
	if op == memory.OpEq || op == memory.OpNe {
		if err := checkIDValue(field, meta, val, path); err != nil {
			return memory.Filter{}, err
		}
	}
	switch op {
	case memory.OpContains, memory.OpIContains:
		if _, ok := val.(string); !ok {
			return memory.Filter{}, fmt.Errorf("%s: %s wants a string, got %s", path, opName, jsonKind(v))
		}
	case memory.OpGt, memory.OpGte, memory.OpLt, memory.OpLte:
		if !meta {
			return memory.Filter{}, fmt.Errorf("%s: %s does not apply to %s: it compares numbers in metadata, and created_at or updated_at", path, opName, field)
		}
		if _, ok := val.(float64); !ok {
			return memory.Filter{}, fmt.Errorf("%s: %s wants a number, got %s", path, opName, jsonKind(v))
		}
	}
	f := memory.Cmp(field, meta, op, val)
	if err := f.Validate(); err != nil {
		return memory.Filter{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// scalar checks one comparison value: fields hold strings; metadata
// values may also be numbers and booleans.
func scalar(v any, field string, meta bool, path string) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		if !meta {
			return nil, fmt.Errorf("%s: %s holds strings, got a number", path, field)
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s: %s is not a finite number", path, x)
		}
		return f, nil
	case bool:
		if !meta {
			return nil, fmt.Errorf("%s: %s holds strings, got a boolean", path, field)
		}
		return x, nil
	case nil:
		return nil, fmt.Errorf("%s: null is not a value; to match memories without %s use {\"NOT\": [{%q: \"*\"}]}", path, field, filterKey(field, meta))
	}
	return nil, fmt.Errorf("%s: want a string, number or boolean, got %s", path, jsonKind(v))
}

// idFields are the fields that hold ids.
var idFields = []string{memory.FieldUserID, memory.FieldAgentID, memory.FieldAppID, memory.FieldRunID, memory.FieldID}

// checkIDValue holds an id compared in a filter to the rule of ids
// everywhere (proxy.CheckID): no id is "*" (written as a condition of its
// own, "*" is the wildcard) or begins or ends with whitespace, so such a
// value could only ever match nothing, or mean something else.
func checkIDValue(field string, meta bool, v any, path string) error {
	s, ok := v.(string)
	if meta || !ok || !slices.Contains(idFields, field) {
		return nil
	}
	if err := proxy.CheckID(s); err != nil {
		if s == "*" {
			return fmt.Errorf("%s: %q is the wildcard only as a condition of its own, {%q: \"*\"}; %w", path, s, field, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func filterKey(field string, meta bool) string {
	if meta {
		return "metadata." + field
	}
	return field
}

// parseFilterTime reads a date (midnight UTC) or an RFC 3339 time.
func parseFilterTime(s string) (t time.Time, dateOnly bool, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date like \"2025-01-23\" or an RFC 3339 time like \"2025-01-23T10:00:00Z\"", s)
}

// A jsonObject is a decoded JSON object with its keys in order. Decoding
// refuses a repeated key: {"user_id": "a", "user_id": "b"} has no one
// meaning.
type jsonObject []jsonField

type jsonField struct {
	key   string
	value any
}

// decodeJSONValue decodes one JSON value into jsonObject, []any, string,
// json.Number, bool or nil.
func decodeJSONValue(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	v, err := decodeValue(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder, depth int) (any, error) {
	if depth > 4*maxFilterDepth {
		return nil, errors.New("JSON nests too deeply")
	}
	tok, err := d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("unexpected end of JSON")
		}
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var obj jsonObject
			seen := map[string]bool{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, fmt.Errorf("not valid JSON: %w", err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("not valid JSON: object key is not a string")
				}
				if seen[k] {
					return nil, fmt.Errorf("the key %q appears twice in one object", k)
				}
				seen[k] = true
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				obj = append(obj, jsonField{k, v})
			}
			if _, err := d.Token(); err != nil {
				return nil, fmt.Errorf("not valid JSON: %w", err)
			}
			if obj == nil {
				obj = jsonObject{}
			}
			return obj, nil
		case '[':
			list := []any{}
			for d.More() {
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, fmt.Errorf("not valid JSON: %w", err)
			}
			return list, nil
		}
		return nil, fmt.Errorf("not valid JSON: unexpected %v", t)
	}
	return tok, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case jsonObject:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
