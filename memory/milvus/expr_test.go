package milvus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/storetest"
)

// unquote reads the string literal at the start of s, as Milvus does, and
// returns its value and the rest of s.
func unquote(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, errors.New("not a string literal")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\n', '\r':
			return "", "", errors.New("raw line break in a literal")
		case '\\':
			if i+1 == len(s) {
				return "", "", errors.New("unterminated escape")
			}
			i++
			switch s[i] {
			case '\\', '"':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				return "", "", fmt.Errorf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated literal")
}

// skeleton splits an expression into its literals and the text around
// them, where a literal is replaced by "$".
func skeleton(expr string) (string, []string, error) {
	var out strings.Builder
	var lits []string
	for len(expr) > 0 {
		i := strings.IndexByte(expr, '"')
		if i < 0 {
			out.WriteString(expr)
			break
		}
		out.WriteString(expr[:i])
		v, rest, err := unquote(expr[i:])
		if err != nil {
			return "", nil, err
		}
		lits = append(lits, v)
		out.WriteString("$")
		expr = rest
	}
	return out.String(), lits, nil
}

// skeletonWords are all that may appear outside literals: the compiler's
// own field names, operators and functions, and numbers.
var skeletonWords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "exists": true, "true": true, "false": true,
	"json_contains": true, "array_contains": true, "array_contains_any": true, fieldCategoryCount: true,
	fieldID: true, fieldText: true, fieldHash: true, fieldUserID: true, fieldAgentID: true, fieldRunID: true,
	fieldAppID: true, fieldCreatedAt: true, fieldUpdatedAt: true, fieldExpiresAt: true, fieldMetadata: true,
	fieldCategories: true,
}

// checkExpr checks that expr is well formed and that client values appear
// in it only as literals.
func checkExpr(t *testing.T, expr string) []string {
	t.Helper()
	skel, lits, err := skeleton(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	if !balanced(skel) {
		t.Fatalf("%s: unbalanced parentheses", expr)
	}
	for _, w := range strings.FieldsFunc(skel, func(r rune) bool {
		return strings.ContainsRune(" ()[],$=!<>", r)
	}) {
		if !skeletonWords[w] && strings.Trim(w, "0123456789.e+-") != "" {
			t.Fatalf("%s: %q outside a literal", expr, w)
		}
	}
	return lits
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "sarah", `x" or user_id != "`, `\`, `\"`, `\\"`, "a\nb\r\tc", "☃ é 用户 \u202e 𝔘", `{uid}`, "\x01\x7f", `%_*`} {
		q := quote(s)
		got, rest, err := unquote(q)
		if err != nil || got != s || rest != "" {
			t.Errorf("quote(%q) = %s, reads back as %q (rest %q, %v)", s, q, got, rest, err)
		}
		if strings.Contains(q, `\u`) {
			t.Errorf("quote(%q) = %s: Milvus Lite rejects \\u escapes", s, q)
		}
	}
}

func TestCompile(t *testing.T) {
	at := time.Date(2025, 1, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		f     memory.Filter
		upper string
		exact bool
	}{
		{memory.UserFilter(`x" or user_id != "`), `user_id == "x\" or user_id != \""`, true},
		{memory.RelationshipFilter("sarah", "fitcoach_v1"),
			`(user_id == "sarah" and (((exists metadata["agent_id"]) and metadata["agent_id"] == "fitcoach_v1") or agent_id == "fitcoach_v1"))`, true},
		{memory.PersonaFilter("a"), `(user_id == "" and agent_id == "a" and run_id == "" and app_id == "")`, true},
		{memory.Cmp(memory.FieldUserID, false, memory.OpIn, []any{}), "false", true},
		{memory.Cmp(memory.FieldUserID, false, memory.OpNin, []any{"a", 1.0}), `not (user_id in ["a"])`, true},
		{memory.Cmp(memory.FieldText, false, memory.OpContains, "run"), "true", false},
		{memory.And(memory.UserFilter("u"), memory.Cmp(memory.FieldText, false, memory.OpIContains, "RUN")), `user_id == "u"`, false},
		{memory.Not(memory.Cmp(memory.FieldText, false, memory.OpContains, "run")), "true", false},
		{memory.Cmp("type", true, memory.OpNe, "x"), `((exists metadata["type"]) and metadata["type"] != "x")`, false},
		{memory.Cmp("km", true, memory.OpGt, 1.5), `((exists metadata["km"]) and metadata["km"] > 1.5e+00)`, false},
		{memory.MetaEq(`a"b`, "x"), "true", false},
		{memory.Cmp(memory.FieldCategories, false, memory.OpExists, nil), "category_count > 0", true},
		{memory.Cmp(memory.FieldCreatedAt, false, memory.OpGt, at), fmt.Sprintf("created_at > %d", at.UnixNano()), true},
		{memory.Cmp(memory.FieldCreatedAt, false, memory.OpLte, time.Time{}), "created_at < -9223372036854775807", true},
		{memory.Cmp(memory.FieldCreatedAt, false, memory.OpLt, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)), "true", true},
		{memory.Cmp(memory.FieldCreatedAt, false, memory.OpGt, time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)), "created_at >= -9223372036854775807", true},
		{memory.UserFilter("bad\xffutf8"), "true", false},
	}
	for _, tc := range tests {
		if err := tc.f.Validate(); err != nil {
			t.Fatalf("%+v: %v", tc.f, err)
		}
		p := compile(tc.f)
		got := p.upper.expr
		if p.upper.konst != 0 {
			got = fmt.Sprint(p.upper.isTrue())
		}
		if got != tc.upper || p.exact != tc.exact {
			t.Errorf("compile(%+v) = %s (exact %v), want %s (exact %v)", tc.f, got, p.exact, tc.upper, tc.exact)
		}
		if p.upper.konst == 0 {
			checkExpr(t, p.upper.expr)
		}
	}
}

// FuzzCompile builds filters from arbitrary values and checks that every
// compiled expression is well formed, carries each client value only as a
// literal that reads back to the value, and differs for different values.
func FuzzCompile(f *testing.F) {
	f.Add(uint8(0), uint8(0), `x" or user_id != "`, "agent_id", 1.5)
	f.Add(uint8(1), uint8(3), `\`, `a"b`, math.Copysign(0, -1))
	f.Add(uint8(5), uint8(7), "☃\n\t\r", "Type", 1e21)
	f.Add(uint8(7), uint8(9), "", "", math.Inf(1))
	f.Fuzz(func(t *testing.T, field, op uint8, value, key string, number float64) {
		ops := []memory.Op{memory.OpEq, memory.OpNe, memory.OpIn, memory.OpNin, memory.OpGt, memory.OpGte,
			memory.OpLt, memory.OpLte, memory.OpContains, memory.OpIContains, memory.OpExists}
		fields := []string{memory.FieldID, memory.FieldUserID, memory.FieldAgentID, memory.FieldRunID, memory.FieldAppID,
			memory.FieldText, memory.FieldHash, memory.FieldCategories, memory.FieldCreatedAt}
		o := ops[int(op)%len(ops)]
		build := func(v string) memory.Filter {
			var val any = v
			switch {
			case o == memory.OpIn || o == memory.OpNin:
				val = []any{v, "other", number}
			case field%4 == 3 && o != memory.OpContains && o != memory.OpIContains:
				val = number
			}
			var leaf memory.Filter
			if field%2 == 1 {
				leaf = memory.Cmp(key, true, o, val)
			} else {
				name := fields[int(field/2)%len(fields)]
				if name == memory.FieldCreatedAt {
					val = time.Unix(0, int64(number*1e9)).UTC()
					if o == memory.OpIn || o == memory.OpNin || o == memory.OpContains || o == memory.OpIContains {
						return memory.Filter{}
					}
				}
				leaf = memory.Cmp(name, false, o, val)
			}
			return memory.And(memory.UserFilter(v), memory.Or(leaf, memory.Not(memory.MetaEq(key, v))))
		}
		flt := build(value)
		if flt.Validate() != nil {
			return
		}
		p := compile(flt)
		for _, b := range []bound{p.upper, p.lower} {
			if b.konst == 0 {
				lits := checkExpr(t, b.expr)
				if quotable(value) && !slices.Contains(lits, value) {
					t.Fatalf("%s: the value %q is not among its literals %q", b.expr, value, lits)
				}
			}
		}
		// Another value never compiles to the same expression.
		other := build(value + "x")
		if po := compile(other); p.upper.konst == 0 && quotable(value) && po.upper == p.upper {
			t.Fatalf("%q and %q compile to the same %s", value, value+"x", p.upper.expr)
		}
	})
}

// TestRandomFiltersAgainstServers compiles random filters and checks that
// what the store returns is exactly what Filter.Match selects, over a
// corpus with the JSON values servers disagree on (nulls, booleans,
// numbers as strings, arrays, nested objects).
func TestRandomFiltersAgainstServers(t *testing.T) {
	eachServer(t, func(t *testing.T, addr string) {
		s := openStore(t, addr, Config{})
		ctx := context.Background()
		users := []string{"sarah", "mike", "", `x" or user_id != "`}
		values := []any{"workout", "Workout", "8", 8.0, 0.5, -1.0, true, false, nil, []any{"run", "pr", 8.0}, map[string]any{"a": 1.0}, ""}
		keys := []string{"type", "km", "pr", "tags", "Type", "a/b", `q"k`}
		r := rand.New(rand.NewPCG(7, 11))
		var ms []memory.Memory
		for i := range 60 {
			meta := map[string]any{}
			for _, k := range keys {
				if r.IntN(3) == 0 {
					meta[k] = values[r.IntN(len(values))]
				}
			}
			var cats []string
			for _, c := range []string{"goals", "Running", "workouts"} {
				if r.IntN(3) == 0 {
					cats = append(cats, c)
				}
			}
			at := time.Date(2025, 1, 1, 0, i, 0, 0, time.UTC)
			text := []string{"Completed 8K run", "bench press 185 lbs", `quote " and \ backslash`, "RUN fast", "50% done_now"}[r.IntN(5)]
			ms = append(ms, memory.Memory{
				ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: users[r.IntN(len(users))],
				AgentID: []string{"", "fitcoach_v1", "fitcoach_v2"}[r.IntN(3)], RunID: []string{"", "s1"}[r.IntN(2)],
				Metadata: meta, Categories: cats, CreatedAt: at, UpdatedAt: at, Vector: storetest.Vec(uint64(i)),
			})
		}
		if err := s.Add(ctx, ms...); err != nil {
			t.Fatal(err)
		}
		leaf := func() memory.Filter {
			ops := []memory.Op{memory.OpEq, memory.OpNe, memory.OpIn, memory.OpNin, memory.OpGt, memory.OpGte,
				memory.OpLt, memory.OpLte, memory.OpContains, memory.OpIContains, memory.OpExists}
			for {
				var f memory.Filter
				op := ops[r.IntN(len(ops))]
				scalar := []any{"workout", "8", 8.0, 0.5, true, "run", "RUN", "sarah", "", "fitcoach_v1", "goals", "running"}
				v := scalar[r.IntN(len(scalar))]
				if op == memory.OpIn || op == memory.OpNin {
					v = []any{scalar[r.IntN(len(scalar))], scalar[r.IntN(len(scalar))]}
				}
				switch r.IntN(4) {
				case 0, 1:
					f = memory.Cmp(keys[r.IntN(len(keys))], true, op, v)
				case 2:
					f = memory.Cmp([]string{memory.FieldUserID, memory.FieldAgentID, memory.FieldRunID, memory.FieldText, memory.FieldCategories}[r.IntN(5)], false, op, v)
				default:
					f = memory.Cmp(memory.FieldCreatedAt, false, op, time.Date(2025, 1, 1, 0, r.IntN(70)-5, 0, 0, time.UTC))
				}
				if f.Validate() == nil {
					return f
				}
			}
		}
		var gen func(depth int) memory.Filter
		gen = func(depth int) memory.Filter {
			if depth == 0 || r.IntN(3) == 0 {
				return leaf()
			}
			args := []memory.Filter{gen(depth - 1), gen(depth - 1)}
			switch r.IntN(3) {
			case 0:
				return memory.Filter{Op: memory.OpAnd, Args: args}
			case 1:
				return memory.Filter{Op: memory.OpOr, Args: args}
			}
			return memory.Filter{Op: memory.OpNot, Args: args[:1+r.IntN(2)]}
		}
		for range 300 {
			f := gen(3)
			var want []string
			for i := range ms {
				if f.Match(&ms[i]) {
					want = append(want, ms[i].ID)
				}
			}
			sort.Strings(want)
			got, err := s.List(ctx, f, memory.Page{Fresh: true})
			if err != nil {
				t.Fatalf("%+v (%s): %v", f, compile(f).upper.expr, err)
			}
			ids := make([]string, len(got))
			for i, m := range got {
				ids[i] = m.ID
			}
			sort.Strings(ids)
			if !slices.Equal(ids, want) {
				var walk func(f memory.Filter, depth int)
				walk = func(f memory.Filter, depth int) {
					var w []string
					for i := range ms {
						if f.Match(&ms[i]) {
							w = append(w, ms[i].ID)
						}
					}
					g, _ := s.List(ctx, f, memory.Page{Fresh: true})
					t.Logf("%*s%v %s meta=%v val=%v: store %d, match %d; upper %s", depth*2, "", f.Op, f.Field, f.Meta, f.Value, len(g), len(w), compile(f).upper.expr)
					for _, a := range f.Args {
						walk(a, depth+1)
					}
				}
				walk(f, 0)
				t.Errorf("filter %+v\ncompiled %s (exact %v)\nfound %d memories, Match selects %d", f, compile(f).upper.expr, compile(f).exact, len(ids), len(want))
			}
			if n, err := s.Count(ctx, f); err != nil || n != len(want) {
				t.Errorf("filter %+v: Count = %d, %v; want %d", f, n, err, len(want))
			}
		}
	})
}
