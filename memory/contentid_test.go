package memory

import (
	"testing"

	"github.com/google/uuid"
)

func TestContentID(t *testing.T) {
	sarah := Scope{UserID: "sarah"}
	id := ContentID(sarah, "Goal: half marathon by June.", 0)
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 8 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("ContentID = %q (version %d, %v), want a version 8 UUID", id, u.Version(), err)
	}
	same := []struct {
		name string
		s    Scope
		text string
	}{
		{"case and spacing", sarah, "  goal: half   marathon BY June. "},
	}
	for _, c := range same {
		if got := ContentID(c.s, c.text, 0); got != id {
			t.Errorf("%s: %s, want %s", c.name, got, id)
		}
	}
	differ := []struct {
		name string
		s    Scope
		text string
		slot int
	}{
		{"another user", Scope{UserID: "mike"}, "Goal: half marathon by June.", 0},
		{"the relationship scope", Scope{UserID: "sarah", AgentID: "fitcoach"}, "Goal: half marathon by June.", 0},
		{"a run", Scope{UserID: "sarah", RunID: "r1"}, "Goal: half marathon by June.", 0},
		{"an app", Scope{UserID: "sarah", AppID: "a"}, "Goal: half marathon by June.", 0},
		{"ids that run together", Scope{UserID: "sara", AgentID: "h"}, "Goal: half marathon by June.", 0},
		{"another text", sarah, "Goal: a full marathon by June.", 0},
		{"the next slot", sarah, "Goal: half marathon by June.", 1},
	}
	seen := map[string]string{id: "the first"}
	for _, c := range differ {
		got := ContentID(c.s, c.text, c.slot)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same id as %s", c.name, prev)
		}
		seen[got] = c.name
	}
	if a, b := AddRecordID(id), AddRecordID(ContentID(sarah, "x", 0)); a == b || a == id {
		t.Errorf("AddRecordID: %s and %s for two memories (memory %s)", a, b, id)
	}
	if again := AddRecordID(ContentID(sarah, "goal: half marathon by june.", 0)); again != AddRecordID(id) {
		t.Errorf("AddRecordID of the same memory: %s, then %s", AddRecordID(id), again)
	}
}
