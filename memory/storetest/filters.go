package storetest

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// corpus is a fixed set of memories that exercises every filter.
func corpus() []memory.Memory {
	return []memory.Memory{
		mem(1, "I'm FitCoach - supportive and motivational", memory.Scope{AgentID: "fitcoach_v1"}, map[string]any{"type": "personality"}),
		mem(2, "I provide concrete metrics", memory.Scope{AgentID: "fitcoach_v2"}, map[string]any{"type": "personality", "version": 2.0}),
		mem(3, "Goal: Run a half marathon by June", memory.Scope{UserID: "sarah"}, map[string]any{"type": "profile"}, "goals", "running"),
		mem(4, "Inside joke: No pain, no protein shake", memory.Scope{UserID: "sarah"}, map[string]any{"agent_id": "fitcoach_v1", "type": "relationship"}),
		mem(5, "Completed 8K run in 45 minutes", memory.Scope{UserID: "sarah", RunID: "session-1"}, map[string]any{"type": "workout", "km": 8.0, "pr": true, "tags": []any{"run", "pr"}}, "workouts"),
		mem(6, "Bench press: 185 lbs x 10 reps", memory.Scope{UserID: "mike"}, map[string]any{"type": "workout", "km": 0.0, "lbs": 185.0}, "workouts", "strength"),
		mem(7, "Mike prefers data-driven feedback", memory.Scope{UserID: "mike", AgentID: "fitcoach_v2"}, map[string]any{"agent_id": "fitcoach_v2", "type": "relationship"}),
		mem(8, "Bought groceries for $127.43", memory.Scope{UserID: "sarah", AppID: "finance"}, nil),
		mem(9, "completed 5k RUN in 28 minutes", memory.Scope{UserID: "SARAH"}, map[string]any{"Type": "workout"}),
	}
}

func filterCases() []struct {
	name string
	f    memory.Filter
} {
	E, M, C := memory.Eq, memory.MetaEq, memory.Cmp
	return []struct {
		name string
		f    memory.Filter
	}{
		{"everything", memory.Filter{}},
		{"user eq", E(memory.FieldUserID, "sarah")},
		{"user eq is case-sensitive", E(memory.FieldUserID, "Sarah")},
		{"no user (personas)", E(memory.FieldUserID, "")},
		{"persona", memory.PersonaFilter("fitcoach_v1")},
		{"relationship", memory.RelationshipFilter("sarah", "fitcoach_v1")},
		{"relationship by field", memory.RelationshipFilter("mike", "fitcoach_v2")},
		{"user layer of a pair", memory.UserLayerFilter("sarah", "fitcoach_v1")},
		{"user layer of another agent", memory.UserLayerFilter("sarah", "tutor_v1")},
		{"user layer, relationship by field", memory.UserLayerFilter("mike", "fitcoach_v1")},
		{"user layer without agent", memory.UserLayerFilter("sarah", "")},
		{"OR agent or user", memory.Or(E(memory.FieldAgentID, "fitcoach_v1"), E(memory.FieldUserID, "sarah"))},
		{"user ne", C(memory.FieldUserID, false, memory.OpNe, "sarah")},
		{"user in", C(memory.FieldUserID, false, memory.OpIn, []any{"sarah", "mike"})},
		{"user nin", C(memory.FieldUserID, false, memory.OpNin, []any{"sarah", ""})},
		{"agent in", C(memory.FieldAgentID, false, memory.OpIn, []any{"fitcoach_v1", "fitcoach_v2"})},
		{"run eq", E(memory.FieldRunID, "session-1")},
		{"app eq", E(memory.FieldAppID, "finance")},
		{"run exists", C(memory.FieldRunID, false, memory.OpExists, nil)},
		{"agent exists", C(memory.FieldAgentID, false, memory.OpExists, nil)},
		{"text contains", C(memory.FieldText, false, memory.OpContains, "run")},
		{"text icontains", C(memory.FieldText, false, memory.OpIContains, "RUN")},
		{"text contains quote", C(memory.FieldText, false, memory.OpContains, `"`)},
		{"text contains percent", C(memory.FieldText, false, memory.OpContains, "%")},
		{"text contains underscore", C(memory.FieldText, false, memory.OpContains, "_")},
		{"hash eq", E(memory.FieldHash, memory.Hash("Bench press: 185 lbs x 10 reps"))},
		{"categories contains", C(memory.FieldCategories, false, memory.OpContains, "workouts")},
		{"categories in", C(memory.FieldCategories, false, memory.OpIn, []any{"goals", "strength"})},
		{"categories exist", C(memory.FieldCategories, false, memory.OpExists, nil)},
		{"meta eq", M("type", "workout")},
		{"meta key is case-sensitive", M("Type", "workout")},
		{"meta agent", M("agent_id", "fitcoach_v1")},
		{"meta ne (missing key matches nothing)", C("type", true, memory.OpNe, "workout")},
		{"meta in", C("type", true, memory.OpIn, []any{"profile", "personality"})},
		{"meta nin", C("type", true, memory.OpNin, []any{"profile", "personality"})},
		{"meta number eq", M("km", 8.0)},
		{"meta number gt", C("km", true, memory.OpGt, 1.0)},
		{"meta number gte", C("km", true, memory.OpGte, 0.0)},
		{"meta number lt", C("lbs", true, memory.OpLt, 200.0)},
		{"meta number lte", C("version", true, memory.OpLte, 2.0)},
		{"meta bool", M("pr", true)},
		{"meta exists", C("km", true, memory.OpExists, nil)},
		{"meta array contains", C("tags", true, memory.OpContains, "pr")},
		{"meta string contains", C("type", true, memory.OpContains, "ork")},
		{"meta icontains", C("type", true, memory.OpIContains, "WORK")},
		{"created gt", C(memory.FieldCreatedAt, false, memory.OpGt, clock.Add(4*time.Minute))},
		{"created lte", C(memory.FieldCreatedAt, false, memory.OpLte, clock.Add(2*time.Minute))},
		{"updated gte", C(memory.FieldUpdatedAt, false, memory.OpGte, clock.Add(8*time.Minute))},
		{"AND", memory.And(E(memory.FieldUserID, "sarah"), M("type", "workout"))},
		{"NOT", memory.Not(E(memory.FieldUserID, "sarah"))},
		{"NOT of two", memory.Not(E(memory.FieldUserID, "sarah"), E(memory.FieldUserID, ""))},
		{"nested", memory.And(memory.Or(E(memory.FieldUserID, "sarah"), E(memory.FieldUserID, "mike")),
			memory.Not(M("type", "relationship")), C("km", true, memory.OpGte, 0.0))},
		{"OR of metadata", memory.Or(M("type", "profile"), M("agent_id", "fitcoach_v2"))},
	}
}

// testFilters checks List, Count and Search against Filter.Match for every
// operator.
func testFilters(t *testing.T, s memory.Store) {
	ms := corpus()
	mustAdd(t, s, ms...)
	for _, tc := range filterCases() {
		if err := tc.f.Validate(); err != nil {
			t.Fatalf("%s: invalid filter: %v", tc.name, err)
		}
		var want []string
		for i := range ms {
			if tc.f.Match(&ms[i]) {
				want = append(want, ms[i].ID)
			}
		}
		sort.Strings(want)
		got, err := s.List(ctx(t), tc.f, memory.Page{Fresh: true})
		if err != nil {
			t.Errorf("%s: List: %v", tc.name, err)
			continue
		}
		if g := idsOf(got, memID); !slices.Equal(g, want) {
			t.Errorf("%s: List = %v, want %v", tc.name, texts(ms, g), texts(ms, want))
		}
		n, err := s.Count(ctx(t), tc.f)
		if err != nil || n != len(want) {
			t.Errorf("%s: Count = %d, %v; want %d", tc.name, n, err, len(want))
		}
		scanned, err := s.Scan(ctx(t), tc.f, "", 100)
		if err != nil {
			t.Errorf("%s: Scan: %v", tc.name, err)
		} else if g := idsInOrder(scanned); !slices.Equal(g, want) {
			t.Errorf("%s: Scan = %v, want %v in id order", tc.name, texts(ms, g), texts(ms, want))
		}
		hits, err := s.Search(ctx(t), memory.SearchRequest{Vector: Vec(1000), Filter: tc.f, TopK: 100, Fresh: true})
		if err != nil {
			t.Errorf("%s: Search: %v", tc.name, err)
			continue
		}
		if g := idsOf(hits, hitID); !slices.Equal(g, want) {
			t.Errorf("%s: Search = %v, want %v", tc.name, texts(ms, g), texts(ms, want))
		}
	}
}
