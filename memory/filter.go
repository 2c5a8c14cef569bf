package memory

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Op is the operator of a Filter node.
type Op uint8

// The operators. And, Or and Not combine Args; the rest compare one field
// with Value.
const (
	OpAnd Op = iota + 1
	OpOr
	OpNot // none of Args matches
	OpEq
	OpNe
	OpIn
	OpNin
	OpGt
	OpGte
	OpLt
	OpLte
	OpContains  // substring of a string field, or element of categories / a metadata array
	OpIContains // OpContains with case folded
	OpExists    // the field is set: a non-empty string, or a present metadata key ("*" in the API)
)

var opNames = [...]string{
	OpAnd: "AND", OpOr: "OR", OpNot: "NOT", OpEq: "eq", OpNe: "ne", OpIn: "in", OpNin: "nin",
	OpGt: "gt", OpGte: "gte", OpLt: "lt", OpLte: "lte", OpContains: "contains",
	OpIContains: "icontains", OpExists: "*",
}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Fields of a Memory that a Filter can test, named as in the Mem0 API.
const (
	FieldID         = "id"
	FieldUserID     = "user_id"
	FieldAgentID    = "agent_id"
	FieldRunID      = "run_id"
	FieldAppID      = "app_id"
	FieldText       = "memory"
	FieldHash       = "hash"
	FieldCategories = "categories"
	FieldCreatedAt  = "created_at"
	FieldUpdatedAt  = "updated_at"
)

// stringFields are the fields that hold one string.
var stringFields = []string{FieldID, FieldUserID, FieldAgentID, FieldRunID, FieldAppID, FieldText, FieldHash}

// A Filter is a boolean expression over memories. The zero Filter matches
// everything. Values are strings, float64, bool or time.Time (for
// created_at and updated_at); In and Nin take a []any of those.
//
// Every store evaluates a Filter to the same result; Match is the
// reference. Client-supplied values only ever sit in Value, never in a
// field or operator position, so a store that keeps them out of its query
// syntax keeps every scope closed.
type Filter struct {
	Op    Op
	Args  []Filter
	Field string // a Field* constant, or a metadata key when Meta is set
	Meta  bool
	Value any
}

// IsZero reports whether f is the empty filter, which matches everything.
func (f Filter) IsZero() bool { return f.Op == 0 }

// And matches when every filter matches; empty filters are dropped.
func And(fs ...Filter) Filter { return combine(OpAnd, fs) }

// Or matches when any filter matches.
func Or(fs ...Filter) Filter { return combine(OpOr, fs) }

// Not matches when none of fs matches.
func Not(fs ...Filter) Filter { return Filter{Op: OpNot, Args: fs} }

func combine(op Op, fs []Filter) Filter {
	var args []Filter
	for _, f := range fs {
		if !f.IsZero() {
			args = append(args, f)
		}
	}
	switch len(args) {
	case 0:
		return Filter{}
	case 1:
		return args[0]
	}
	return Filter{Op: op, Args: args}
}

// Eq matches memories whose field equals v. Eq(FieldUserID, "") matches
// memories with no user.
func Eq(field string, v any) Filter { return Filter{Op: OpEq, Field: field, Value: v} }

// MetaEq matches memories whose metadata key equals v.
func MetaEq(key string, v any) Filter { return Filter{Op: OpEq, Field: key, Meta: true, Value: v} }

// Cmp is the general comparison: field (or metadata key) op value.
func Cmp(field string, meta bool, op Op, v any) Filter {
	return Filter{Op: op, Field: field, Meta: meta, Value: v}
}

// Validate reports the first thing in f that no store can evaluate: an
// unknown field, an operator that does not apply to it, or a value of the
// wrong type. Stores may assume a validated filter.
func (f Filter) Validate() error {
	switch f.Op {
	case 0:
		return nil
	case OpAnd, OpOr, OpNot:
		if len(f.Args) == 0 {
			return fmt.Errorf("%s needs at least one condition", f.Op)
		}
		for i, a := range f.Args {
			if a.IsZero() {
				return fmt.Errorf("%s: condition %d is empty", f.Op, i)
			}
			if err := a.Validate(); err != nil {
				return err
			}
		}
		return nil
	}
	if f.Meta {
		if f.Field == "" {
			return fmt.Errorf("metadata key must not be empty")
		}
		return checkValue(f, "metadata."+f.Field, false)
	}
	switch {
	case slices.Contains(stringFields, f.Field):
		switch f.Op {
		case OpEq, OpNe, OpIn, OpNin, OpContains, OpIContains, OpExists:
			return checkValue(f, f.Field, false)
		}
	case f.Field == FieldCategories:
		switch f.Op {
		case OpContains, OpIContains, OpIn, OpExists:
			return checkValue(f, f.Field, false)
		}
	case f.Field == FieldCreatedAt || f.Field == FieldUpdatedAt:
		switch f.Op {
		case OpEq, OpNe, OpGt, OpGte, OpLt, OpLte, OpExists:
			return checkValue(f, f.Field, true)
		}
	default:
		return fmt.Errorf("unknown field %q", f.Field)
	}
	return fmt.Errorf("operator %s does not apply to %s", f.Op, f.Field)
}

func checkValue(f Filter, name string, timeField bool) error {
	scalar := func(v any) error {
		switch v.(type) {
		case string, bool:
			if timeField {
				return fmt.Errorf("%s: want a time, got %T", name, v)
			}
		case float64:
			if timeField {
				return fmt.Errorf("%s: want a time, got %T", name, v)
			}
		case time.Time:
			if !timeField {
				return fmt.Errorf("%s: a time only compares with created_at or updated_at", name)
			}
		default:
			return fmt.Errorf("%s: unsupported value type %T", name, v)
		}
		return nil
	}
	switch f.Op {
	case OpExists:
		return nil
	case OpIn, OpNin:
		list, ok := f.Value.([]any)
		if !ok {
			return fmt.Errorf("%s: %s wants a list", name, f.Op)
		}
		for _, v := range list {
			if err := scalar(v); err != nil {
				return err
			}
		}
		return nil
	case OpContains, OpIContains:
		if _, ok := f.Value.(string); !ok {
			return fmt.Errorf("%s: %s wants a string", name, f.Op)
		}
		return nil
	case OpGt, OpGte, OpLt, OpLte:
		if _, ok := f.Value.(float64); !ok && !timeField {
			return fmt.Errorf("%s: %s wants a number", name, f.Op)
		}
	}
	if !f.Meta && !timeField {
		if _, ok := f.Value.(string); !ok {
			return fmt.Errorf("%s: want a string, got %T", name, f.Value)
		}
	}
	return scalar(f.Value)
}

// Match reports whether m satisfies f. It is the reference semantics that
// every Store implements:
//   - string fields compare exactly and case-sensitively;
//   - a missing metadata key satisfies no comparison, not even ne or nin;
//   - numbers compare as float64; a number never equals a string;
//   - contains on a string is a substring test, on a list a membership test.
func (f Filter) Match(m *Memory) bool {
	switch f.Op {
	case 0:
		return true
	case OpAnd:
		for i := range f.Args {
			if !f.Args[i].Match(m) {
				return false
			}
		}
		return true
	case OpOr:
		for i := range f.Args {
			if f.Args[i].Match(m) {
				return true
			}
		}
		return false
	case OpNot:
		for i := range f.Args {
			if f.Args[i].Match(m) {
				return false
			}
		}
		return true
	}
	if f.Meta {
		v, ok := m.Metadata[f.Field]
		if !ok || v == nil {
			return false
		}
		return compare(f.Op, v, f.Value)
	}
	switch f.Field {
	case FieldCategories:
		switch f.Op {
		case OpExists:
			return len(m.Categories) > 0
		case OpIn:
			for _, c := range m.Categories {
				if slices.Contains(f.Value.([]any), any(c)) {
					return true
				}
			}
			return false
		}
		return compare(f.Op, stringsToAny(m.Categories), f.Value)
	case FieldCreatedAt, FieldUpdatedAt:
		t := m.CreatedAt
		if f.Field == FieldUpdatedAt {
			t = m.UpdatedAt
		}
		if f.Op == OpExists {
			return !t.IsZero()
		}
		want, _ := f.Value.(time.Time)
		c := t.Compare(want)
		return cmpResult(f.Op, c)
	}
	s := m.stringField(f.Field)
	if f.Op == OpExists {
		return s != ""
	}
	return compare(f.Op, s, f.Value)
}

func (m *Memory) stringField(name string) string {
	switch name {
	case FieldID:
		return m.ID
	case FieldUserID:
		return m.UserID
	case FieldAgentID:
		return m.AgentID
	case FieldRunID:
		return m.RunID
	case FieldAppID:
		return m.AppID
	case FieldText:
		return m.Text
	case FieldHash:
		return m.Hash
	}
	return ""
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// compare applies a comparison operator to a value held by a memory (a
// string, float64, bool, or []any from JSON metadata) and a filter value.
func compare(op Op, have, want any) bool {
	switch op {
	case OpExists:
		return true
	case OpEq:
		return equal(have, want)
	case OpNe:
		return !equal(have, want)
	case OpIn:
		return slices.ContainsFunc(want.([]any), func(w any) bool { return equal(have, w) })
	case OpNin:
		return !slices.ContainsFunc(want.([]any), func(w any) bool { return equal(have, w) })
	case OpContains, OpIContains:
		needle, _ := want.(string)
		fold := op == OpIContains
		switch h := have.(type) {
		case string:
			if fold {
				return strings.Contains(strings.ToLower(h), strings.ToLower(needle))
			}
			return strings.Contains(h, needle)
		case []any:
			for _, e := range h {
				if s, ok := e.(string); ok && (s == needle || fold && strings.EqualFold(s, needle)) {
					return true
				}
			}
		}
		return false
	case OpGt, OpGte, OpLt, OpLte:
		h, ok1 := toFloat(have)
		w, ok2 := toFloat(want)
		if !ok1 || !ok2 {
			return false
		}
		c := 0
		if h < w {
			c = -1
		} else if h > w {
			c = 1
		}
		return cmpResult(op, c)
	}
	return false
}

func cmpResult(op Op, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpNe:
		return c != 0
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	}
	return false
}

func equal(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch av := a.(type) {
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
