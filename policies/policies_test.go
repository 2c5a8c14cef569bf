package policies

import "testing"

func TestDefault(t *testing.T) {
	p := Default()
	for name, l := range map[string]Layer{"persona": p.Recall.Persona, "user": p.Recall.User, "relationship": p.Recall.Relationship} {
		if !l.Enabled || l.TopK <= 0 || l.MinScore < 0 || l.MinScore > 1 {
			t.Errorf("default %s layer %+v: want on, with a positive top_k and a score floor in [0,1]", name, l)
		}
	}
	if p.Recall.TokenBudget <= 0 || !p.Learn.Enabled || p.Learn.MinChars <= 0 {
		t.Errorf("default policy %+v", p)
	}
	var s Source = Static(p)
	if s.For("fitcoach_v1").Name != "default" || s.For("").Name != "default" {
		t.Errorf("Static must give its policy for every agent")
	}
}
