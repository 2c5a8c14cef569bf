package memapi

import (
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

// filterCorpus is a set of memories the parsed filters are evaluated on,
// with memory.Filter.Match as the reference semantics.
func filterCorpus() []memory.Memory {
	day := func(d int) time.Time { return time.Date(2025, 1, d, 12, 0, 0, 0, time.UTC) }
	return []memory.Memory{
		{ID: "persona", Text: "I'm FitCoach", AgentID: "fitcoach_v1", CreatedAt: day(1), UpdatedAt: day(1)},
		{ID: "sarah-goal", Text: "Goal: half marathon by June", UserID: "sarah", Metadata: map[string]any{"type": "profile"}, CreatedAt: day(2), UpdatedAt: day(2)},
		{ID: "sarah-rel", Text: "Sarah responds best to encouragement", UserID: "sarah", Metadata: map[string]any{"agent_id": "fitcoach_v1", "type": "relationship", "priority": 3.0}, Categories: []string{"preferences"}, CreatedAt: day(3), UpdatedAt: day(3)},
		{ID: "mike-rel", Text: "Mike prefers data-driven feedback", UserID: "mike", Metadata: map[string]any{"agent_id": "fitcoach_v2", "type": "relationship", "priority": 1.0, "vip": true}, CreatedAt: day(4), UpdatedAt: day(4)},
		{ID: "mike-run", Text: "Bench press 185", UserID: "mike", RunID: "r1", AppID: "gym", CreatedAt: day(5), UpdatedAt: day(5)},
	}
}

func matching(f memory.Filter) string {
	var ids []string
	for _, m := range filterCorpus() {
		if f.Match(&m) {
			ids = append(ids, m.ID)
		}
	}
	return strings.Join(ids, " ")
}

func TestParseFilters(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", `{}`, "persona sarah-goal sarah-rel mike-rel mike-run"},
		{"null", `null`, "persona sarah-goal sarah-rel mike-rel mike-run"},
		{"user", `{"user_id": "sarah"}`, "sarah-goal sarah-rel"},
		{"seed OR", `{"OR": [{"agent_id": "fitcoach_v1"}, {"user_id": "sarah"}]}`, "persona sarah-goal sarah-rel"},
		{"seed metadata", `{"metadata": {"agent_id": "fitcoach_v1"}}`, "sarah-rel"},
		{"two metadata keys", `{"metadata": {"type": "relationship", "agent_id": "fitcoach_v2"}}`, "mike-rel"},
		{"field beside AND", `{"user_id": "mike", "AND": [{"metadata.type": "relationship"}]}`, "mike-rel"},
		{"dotted metadata key", `{"metadata.type": "profile"}`, "sarah-goal"},
		{"in", `{"user_id": {"in": ["sarah", "nobody"]}}`, "sarah-goal sarah-rel"},
		{"nin on metadata", `{"metadata": {"type": {"nin": ["profile"]}}}`, "sarah-rel mike-rel"},
		{"ne", `{"AND": [{"user_id": "*"}, {"user_id": {"ne": "sarah"}}]}`, "mike-rel mike-run"},
		{"wildcard", `{"run_id": "*"}`, "mike-run"},
		{"not wildcard: personas", `{"AND": [{"agent_id": "fitcoach_v1"}, {"NOT": [{"user_id": "*"}]}]}`, "persona"},
		{"NOT with an object", `{"user_id": "mike", "NOT": {"run_id": "*"}}`, "mike-rel"},
		{"number range", `{"metadata": {"priority": {"gte": 1, "lt": 3}}}`, "mike-rel"},
		{"boolean", `{"metadata": {"vip": true}}`, "mike-rel"},
		{"contains", `{"memory": {"contains": "marathon"}}`, "sarah-goal"},
		{"icontains", `{"memory": {"icontains": "MIKE"}}`, "mike-rel"},
		{"categories", `{"categories": {"in": ["preferences"]}}`, "sarah-rel"},
		{"category shorthand", `{"categories": "preferences"}`, "sarah-rel"},
		{"date range", `{"created_at": {"gte": "2025-01-02", "lte": "2025-01-03T23:00:00Z"}}`, "sarah-goal sarah-rel"},
		{"date equality is the day", `{"created_at": "2025-01-04"}`, "mike-rel"},
		{"date ne", `{"user_id": "mike", "updated_at": {"ne": "2025-01-04"}}`, "mike-run"},
		{"nested", `{"OR": [{"AND": [{"user_id": "mike"}, {"app_id": "gym"}]}, {"id": "persona"}]}`, "persona mike-run"},
		{"the literal star", `{"metadata": {"type": {"eq": "*"}}}`, ""},
		{"injection is a value", `{"user_id": "x\" or user_id != \""}`, ""},
		{"an id that looks like JSON", `{"user_id": "{\"OR\":[]}"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFilters([]byte(tt.in))
			if err != nil {
				t.Fatalf("parseFilters(%s): %v", tt.in, err)
			}
			if got := matching(f); got != tt.want {
				t.Errorf("%s matches %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFiltersRefusesBadInput(t *testing.T) {
	deep := strings.Repeat(`{"NOT": [`, 40) + `{"user_id": "x"}` + strings.Repeat(`]}`, 40)
	manyValues := `{"user_id": {"in": [` + strings.Repeat(`"x",`, 1000) + `"y"]}}`
	tests := []struct {
		name, in, want string
	}{
		{"not an object", `["user_id"]`, "must be a JSON object"},
		{"not JSON", `{"user_id": }`, "not valid JSON"},
		{"trailing data", `{} {}`, "after the JSON value"},
		{"unknown key", `{"usr_id": "sarah"}`, `unknown filter key "usr_id"`},
		{"unknown key says where metadata goes", `{"type": "relationship"}`, `{"metadata": {"type": ...}}`},
		{"unknown key deep", `{"OR": [{"user_id": "a"}, {"agnet_id": "b"}]}`, `filters.OR[1]: unknown filter key "agnet_id"`},
		{"AND beside OR", `{"AND": [{"user_id": "a"}], "OR": [{"agent_id": "b"}]}`, "AND and OR cannot stand side by side"},
		{"OR beside NOT, nested", `{"AND": [{"OR": [{"user_id": "a"}], "NOT": [{"user_id": "b"}]}]}`, "filters.AND[0]: OR and NOT"},
		{"lower-case or", `{"or": [{"user_id": "a"}]}`, "written in capitals (OR)"},
		{"operator as a key", `{"in": ["a"]}`, `"in" is an operator`},
		{"repeated key", `{"user_id": "a", "user_id": "b"}`, `"user_id" appears twice`},
		{"id as number", `{"user_id": 5}`, "filters.user_id: user_id holds strings, got a number"},
		{"id as null", `{"user_id": null}`, `{"NOT": [{"user_id": "*"}]}`},
		{"id as list", `{"user_id": ["a"]}`, "got a list"},
		{"in not a list", `{"user_id": {"in": "sarah"}}`, "in wants a list, got a string"},
		{"unknown operator", `{"user_id": {"equals": "a"}}`, `unknown operator "equals"`},
		{"empty operator object", `{"user_id": {}}`, "empty operator object"},
		{"metadata not an object", `{"metadata": "x"}`, "want an object of metadata keys"},
		{"metadata nested object", `{"metadata": {"address": {"city": "x"}}}`, "metadata values are strings, numbers or booleans"},
		{"metadata empty key", `{"metadata": {"": 1}}`, "must not be empty"},
		{"gt on a string", `{"metadata": {"priority": {"gt": "3"}}}`, "gt wants a number"},
		{"gt on an id", `{"user_id": {"gt": "a"}}`, "does not apply"},
		{"contains a number", `{"memory": {"contains": 5}}`, "holds strings"},
		{"bad date", `{"created_at": {"gte": "last week"}}`, "not a date"},
		{"date as number", `{"created_at": {"gte": 1700000000}}`, "want a date"},
		{"empty AND", `{"AND": []}`, "list of conditions is empty"},
		{"AND of a string", `{"AND": ["user_id"]}`, "want a condition object"},
		{"AND not a list", `{"AND": {"user_id": "a"}}`, "want a list of conditions"},
		{"empty nested condition", `{"OR": [{}, {"user_id": "a"}]}`, "an empty condition {}"},
		{"unsupported field", `{"keywords": {"contains": "x"}}`, "not supported"},
		{"too deep", deep, "nest deeper"},
		{"too many values", manyValues, "at most 1000 values"},
		{"number too large", `{"metadata": {"n": 1e999}}`, "not a finite number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFilters([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFilters(%.80s) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

// FuzzParseFilters checks that the parser never panics, and that whatever
// it accepts is a valid filter every store can evaluate.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"user_id": "sarah"}`, `{"OR": [{"agent_id": "fitcoach_v1"}, {"user_id": "sarah"}]}`,
		`{"metadata": {"agent_id": "fitcoach_v1", "n": {"gte": 1, "lt": 2.5}}}`,
		`{"AND": [{"created_at": {"gte": "2025-01-02"}}, {"NOT": [{"run_id": "*"}]}]}`,
		`{"categories": {"in": ["a"]}, "memory": {"icontains": "x"}, "metadata.vip": true}`,
		`{"AND": [], "OR": []}`, `{"user_id": null}`, `[1, {"a": [true]}]`,
	} {
		f.Add([]byte(s))
	}
	ms := filterCorpus()
	f.Fuzz(func(t *testing.T, data []byte) {
		filter, err := parseFilters(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if err := filter.Validate(); err != nil {
			t.Fatalf("parseFilters(%q) accepted an invalid filter: %v", data, err)
		}
		for i := range ms {
			filter.Match(&ms[i])
		}
	})
}
