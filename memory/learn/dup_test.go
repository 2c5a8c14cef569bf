package learn

import "testing"

func TestAddsNoTerm(t *testing.T) {
	for _, c := range []struct {
		fact, stored string
		want         bool
	}{
		{"I ran 5K today.", "I ran 5K today", true},
		{"Today I ran 5K", "I ran 5K today.", true},
		{"Sarah loves sushi", "Sarah truly loves sushi", true},
		{"I ran 5K today.", "I ran 3K today.", false},
		{"Sarah truly loves sushi", "Sarah loves sushi", false},
		{"My sister lives in Oslo", "My brother lives in Oslo", false},
	} {
		if got := addsNoTerm(c.fact, c.stored); got != c.want {
			t.Errorf("addsNoTerm(%q, %q) = %v, want %v", c.fact, c.stored, got, c.want)
		}
	}
}
