package milvus

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/memproxy/memproxy/memory"
)

// The expression compiler turns a memory.Filter into a Milvus boolean
// expression. It is a pure function, fuzzed in expr_test.go.
//
// Every value a client supplies (ids, filter values, metadata keys) enters
// the expression only as a double-quoted string literal built by quote, or
// as a number formatted here; field names and operators come from this
// file alone. Milvus template parameters ({name} placeholders) would keep
// values out of the expression altogether, but neither Milvus 2.3 nor
// Milvus Lite parses them, so values are escaped instead.
//
// Not every operator of the filter model has a native Milvus form that
// agrees with memory.Filter.Match on every server: Milvus 2.3 has no infix
// `like`, nothing folds case, and JSON comparisons differ between servers
// on nulls and on booleans compared with numbers. For those, the compiler
// keeps two native bounds of the node: upper, which every memory the node
// matches satisfies, and lower, which only memories it matches satisfy.
// The store asks Milvus for the upper bound of the whole filter and, when
// the filter is not exact, applies Filter.Match to what comes back. So a
// filter is always evaluated with the reference semantics, natively where
// that is proven equal, and in Go on a native pre-selection elsewhere.

// Names of the collection's fields.
const (
	fieldID         = "id"
	fieldVector     = "vector"
	fieldText       = "memory"
	fieldHash       = "hash"
	fieldUserID     = "user_id"
	fieldAgentID    = "agent_id"
	fieldRunID      = "run_id"
	fieldAppID      = "app_id"
	fieldCreatedAt  = "created_at"
	fieldUpdatedAt  = "updated_at"
	fieldExpiresAt  = "expires_at"
	fieldMetadata   = "metadata"
	fieldCategories = "categories"
	// How many categories a memory has: Milvus 2.3 evaluates
	// array_length(categories) wrongly inside an or.
	fieldCategoryCount = "category_count"
)

// columnOf maps the string fields of the filter model to their columns.
var columnOf = map[string]string{
	memory.FieldID:      fieldID,
	memory.FieldUserID:  fieldUserID,
	memory.FieldAgentID: fieldAgentID,
	memory.FieldRunID:   fieldRunID,
	memory.FieldAppID:   fieldAppID,
	memory.FieldText:    fieldText,
	memory.FieldHash:    fieldHash,
}

// A bound is a native expression, or a constant when known at compile time.
type bound struct {
	expr  string
	konst int8 // +1: true, -1: false, 0: expr
}

var (
	alwaysTrue  = bound{konst: 1}
	alwaysFalse = bound{konst: -1}
)

func native(e string) bound { return bound{expr: e} }

func (b bound) isTrue() bool  { return b.konst > 0 }
func (b bound) isFalse() bool { return b.konst < 0 }

func and(bs ...bound) bound {
	var parts []string
	for _, b := range bs {
		switch {
		case b.isFalse():
			return alwaysFalse
		case b.isTrue():
		default:
			parts = append(parts, b.expr)
		}
	}
	return join(parts, " and ", alwaysTrue)
}

func or(bs ...bound) bound {
	var parts []string
	for _, b := range bs {
		switch {
		case b.isTrue():
			return alwaysTrue
		case b.isFalse():
		default:
			parts = append(parts, b.expr)
		}
	}
	return join(parts, " or ", alwaysFalse)
}

func join(parts []string, sep string, empty bound) bound {
	switch len(parts) {
	case 0:
		return empty
	case 1:
		return native(parts[0])
	}
	return native("(" + strings.Join(parts, sep) + ")")
}

func not(b bound) bound {
	if b.konst != 0 {
		return bound{konst: -b.konst}
	}
	return native("not " + paren(b.expr))
}

func paren(e string) string {
	if strings.HasPrefix(e, "(") && strings.HasSuffix(e, ")") && balanced(e[1:len(e)-1]) {
		return e
	}
	return "(" + e + ")"
}

// balanced reports whether the parentheses of e outside string literals
// pair up, so that wrapping e in one pair keeps its meaning.
func balanced(e string) bool {
	depth := 0
	inString := false
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == '(':
			depth++
		case !inString && c == ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0 && !inString
}

// A plan is a compiled filter: the bounds of its memories and whether
// they are equal, in which case Milvus alone evaluates it exactly.
type plan struct {
	upper, lower bound
	exact        bool
}

func exactPlan(b bound) plan { return plan{upper: b, lower: b, exact: true} }

// inexact is a node Milvus evaluates only approximately: upper selects a
// superset of its memories, lower a subset.
func inexact(upper, lower bound) plan { return plan{upper: upper, lower: lower} }

// unknown is a node Milvus cannot narrow at all.
var unknown = inexact(alwaysTrue, alwaysFalse)

// compile returns the plan of a validated filter.
func compile(f memory.Filter) plan {
	switch f.Op {
	case 0:
		return exactPlan(alwaysTrue)
	case memory.OpAnd, memory.OpOr:
		uppers := make([]bound, len(f.Args))
		lowers := make([]bound, len(f.Args))
		exact := true
		for i, a := range f.Args {
			p := compile(a)
			uppers[i], lowers[i] = p.upper, p.lower
			exact = exact && p.exact
		}
		combine := and
		if f.Op == memory.OpOr {
			combine = or
		}
		p := plan{upper: combine(uppers...), lower: combine(lowers...), exact: exact}
		if exact {
			p.lower = p.upper
		}
		return p
	case memory.OpNot:
		// None of the arguments matches: the conjunction of their negations,
		// where negating swaps the bounds.
		uppers := make([]bound, len(f.Args))
		lowers := make([]bound, len(f.Args))
		exact := true
		for i, a := range f.Args {
			p := compile(a)
			uppers[i], lowers[i] = not(p.lower), not(p.upper)
			exact = exact && p.exact
		}
		p := plan{upper: and(uppers...), lower: and(lowers...), exact: exact}
		if exact {
			p.lower = p.upper
		}
		return p
	}
	if f.Meta {
		return compileMeta(f)
	}
	switch f.Field {
	case memory.FieldCategories:
		return compileCategories(f)
	case memory.FieldCreatedAt:
		return compileTime(fieldCreatedAt, f.Op, f.Value)
	case memory.FieldUpdatedAt:
		return compileTime(fieldUpdatedAt, f.Op, f.Value)
	}
	col, ok := columnOf[f.Field]
	if !ok {
		return unknown // Validate refuses it; Match decides
	}
	return compileString(col, f.Op, f.Value)
}

// compileString compiles an operator on a string column. Columns hold
// exactly the memory's string, "" when unset.
func compileString(col string, op memory.Op, v any) plan {
	switch op {
	case memory.OpExists:
		return exactPlan(native(col + ` != ""`))
	case memory.OpEq, memory.OpNe:
		s, ok := v.(string)
		if ok && !quotable(s) {
			return unknown
		}
		if !ok {
			// A string field never equals a non-string.
			return exactPlan(bound{konst: boolConst(op == memory.OpNe)})
		}
		sym := " == "
		if op == memory.OpNe {
			sym = " != "
		}
		return exactPlan(native(col + sym + quote(s)))
	case memory.OpIn, memory.OpNin:
		lits, ok := stringLiterals(v)
		if !ok {
			return unknown
		}
		in := alwaysFalse
		if len(lits) > 0 {
			in = native(col + " in [" + strings.Join(lits, ", ") + "]")
		}
		if op == memory.OpNin {
			return exactPlan(not(in))
		}
		return exactPlan(in)
	}
	// contains and icontains: Milvus 2.3 matches only prefixes with like,
	// and nothing folds case.
	return unknown
}

func boolConst(b bool) int8 {
	if b {
		return 1
	}
	return -1
}

// categoriesExist is true for a memory with at least one category.
const categoriesExist = fieldCategoryCount + " > 0"

func compileCategories(f memory.Filter) plan {
	switch f.Op {
	case memory.OpExists:
		return exactPlan(native(categoriesExist))
	case memory.OpContains:
		s, _ := f.Value.(string)
		if !quotable(s) {
			return unknown
		}
		return exactPlan(native("array_contains(" + fieldCategories + ", " + quote(s) + ")"))
	case memory.OpIn:
		lits, ok := stringLiterals(f.Value)
		if !ok {
			return unknown
		}
		if len(lits) == 0 {
			return exactPlan(alwaysFalse)
		}
		return exactPlan(native("array_contains_any(" + fieldCategories + ", [" + strings.Join(lits, ", ") + "])"))
	case memory.OpIContains:
		return inexact(native(categoriesExist), alwaysFalse)
	}
	return unknown
}

// Times are stored as Unix nanoseconds. An unset created_at or updated_at
// is stored as math.MinInt64, below every representable time, as the zero
// time.Time is before every other; an unset expires_at as math.MaxInt64,
// never. minNanos is the smallest stored value of a set time: Milvus 2.3
// cannot parse the literal -9223372036854775808, so expressions compare
// with minNanos instead.
const (
	unsetTime = math.MinInt64
	neverTime = math.MaxInt64
	minNanos  = math.MinInt64 + 1
)

var (
	minTime = time.Unix(0, math.MinInt64) // times must be after it
	maxTime = time.Unix(0, math.MaxInt64) // and before it
)

// representable reports whether t is set and can be stored in nanoseconds.
func representable(t time.Time) bool {
	return !t.IsZero() && t.After(minTime) && t.Before(maxTime)
}

// compileTime compiles a comparison of a time column with v, following
// time.Time.Compare, where the zero time (unset) is before every other
// time.
func compileTime(col string, op memory.Op, v any) plan {
	set := native(col + " >= " + strconv.FormatInt(minNanos, 10))
	unset := native(col + " < " + strconv.FormatInt(minNanos, 10))
	if op == memory.OpExists {
		return exactPlan(set)
	}
	t, ok := v.(time.Time)
	if !ok {
		return unknown // Validate refuses it
	}
	switch {
	case representable(t):
		return exactPlan(native(col + " " + cmpSymbol(op) + " " + strconv.FormatInt(t.UnixNano(), 10)))
	case t.IsZero():
		// Stored times are the zero time (unset) or after it.
		return exactPlan(map[memory.Op]bound{
			memory.OpEq: unset, memory.OpNe: set, memory.OpGt: set,
			memory.OpGte: alwaysTrue, memory.OpLt: alwaysFalse, memory.OpLte: unset,
		}[op])
	case t.Before(time.Time{}):
		// Before every stored time.
		return exactPlan(bound{konst: boolConst(op == memory.OpNe || op == memory.OpGt || op == memory.OpGte)})
	case !t.After(minTime):
		// After the zero time, before every set time.
		return exactPlan(map[memory.Op]bound{
			memory.OpEq: alwaysFalse, memory.OpNe: alwaysTrue, memory.OpGt: set,
			memory.OpGte: set, memory.OpLt: unset, memory.OpLte: unset,
		}[op])
	default:
		// After every stored time.
		return exactPlan(bound{konst: boolConst(op == memory.OpNe || op == memory.OpLt || op == memory.OpLte)})
	}
}

func cmpSymbol(op memory.Op) string {
	switch op {
	case memory.OpEq:
		return "=="
	case memory.OpNe:
		return "!="
	case memory.OpGt:
		return ">"
	case memory.OpGte:
		return ">="
	case memory.OpLt:
		return "<"
	case memory.OpLte:
		return "<="
	}
	panic("milvus: no comparison symbol for " + op.String())
}

// compileMeta compiles a test of a metadata key. Milvus agrees with Match
// on equality with a string, the relationship filter of every recall, and
// on json_contains for arrays; the rest is bounded natively and checked in
// Go.
func compileMeta(f memory.Filter) plan {
	if !safeKey(f.Field) {
		return unknown
	}
	ref := fieldMetadata + "[" + quote(f.Field) + "]"
	// Milvus 2.3 parses `exists a and b` as `exists (a and b)`.
	exists := native("(exists " + ref + ")")
	// A comparison with a missing key is neither true nor false to Milvus:
	// `not (k == v)` drops the memories without k, which Match keeps. A
	// comparison guarded by exists is false there, and negates soundly.
	guarded := func(e string) bound { return and(exists, native(e)) }
	switch f.Op {
	case memory.OpEq:
		lit, ok := literal(f.Value)
		if !ok {
			return unknown
		}
		eq := guarded(ref + " == " + lit)
		if _, isString := f.Value.(string); isString {
			return exactPlan(eq)
		}
		// Milvus Lite compares booleans with numbers (true == 1).
		return inexact(eq, alwaysFalse)
	case memory.OpIn:
		list, _ := f.Value.([]any)
		args := make([]memory.Filter, len(list))
		for i, v := range list {
			args[i] = memory.Filter{Op: memory.OpEq, Field: f.Field, Meta: true, Value: v}
		}
		if len(args) == 0 {
			return exactPlan(alwaysFalse)
		}
		return compile(memory.Filter{Op: memory.OpOr, Args: args})
	case memory.OpNe, memory.OpNin:
		// A missing or null key satisfies neither; Milvus disagrees with
		// itself on nulls (exists is true for a null in Milvus, false in
		// Lite), so the key's presence only bounds the node.
		upper := exists
		if s, ok := f.Value.(string); ok && f.Op == memory.OpNe && quotable(s) {
			upper = guarded(ref + " != " + quote(s))
		}
		return inexact(upper, alwaysFalse)
	case memory.OpGt, memory.OpGte, memory.OpLt, memory.OpLte:
		lit, ok := literal(f.Value)
		if _, isNumber := f.Value.(float64); !ok || !isNumber {
			return unknown
		}
		// Lite also orders booleans among numbers: a superset.
		return inexact(guarded(ref+" "+cmpSymbol(f.Op)+" "+lit), alwaysFalse)
	case memory.OpContains:
		// On an array, membership, which json_contains decides exactly; on
		// a string, a substring, which Milvus 2.3 cannot test.
		s, _ := f.Value.(string)
		if !quotable(s) {
			return inexact(exists, alwaysFalse)
		}
		return inexact(exists, guarded("json_contains("+ref+", "+quote(s)+")"))
	case memory.OpIContains, memory.OpExists:
		return inexact(exists, alwaysFalse)
	}
	return unknown
}

// safeKey reports whether a metadata key can be written in a JSON path:
// Milvus 2.3 misreads keys holding an escaped quote or backslash, so those
// keys are left to Go.
func safeKey(k string) bool {
	return quotable(k) && k != "" && !strings.ContainsAny(k, `"\`)
}

// literal formats a metadata comparison value.
func literal(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return quote(x), quotable(x)
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", false
		}
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'e', -1, 64), true
	}
	return "", false
}

// stringLiterals quotes the strings of an in list; the other values never
// equal a string and are dropped. It reports false if a string cannot be
// quoted.
func stringLiterals(v any) ([]string, bool) {
	var lits []string
	list, _ := v.([]any)
	for _, e := range list {
		if s, ok := e.(string); ok {
			if !quotable(s) {
				return nil, false
			}
			lits = append(lits, quote(s))
		}
	}
	return lits, true
}

// quotable reports whether quote can write s: valid UTF-8 without NUL.
// Milvus stores only valid UTF-8, so a value that is not never equals a
// stored one; such values are left to Go rather than mangled.
func quotable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// quote returns s, which must be quotable, as a Milvus string literal:
// double-quoted, with backslash, double quote and the control characters
// the parser refuses raw escaped. Other characters stay as UTF-8: Milvus
// Lite rejects \u escapes. Distinct strings give distinct literals.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
