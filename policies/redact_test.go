package policies

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/internal/piicorpus"
)

func TestRedactCorpus(t *testing.T) {
	r, err := NewRedactor(RedactConfig{Types: RedactTypes})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range piicorpus.Cases {
		got := r.Redact(c.Text)
		if strings.Contains(got, c.Secret) || !strings.Contains(got, c.Placeholder) {
			t.Errorf("Redact(%q) = %q, want %s in place of %q", c.Text, got, c.Placeholder, c.Secret)
		}
	}
}

// TestRedactLeavesOrdinaryNumbers: checksums and digit counts keep the
// facts people tell a coach intact.
func TestRedactLeavesOrdinaryNumbers(t *testing.T) {
	r, _ := NewRedactor(RedactConfig{Types: RedactTypes})
	for _, s := range []string{
		"Completed 5K run in 28 minutes",
		"Bench press: 185 lbs x 10 reps, 3 sets",
		"Goal: half marathon by June 2025",
		"I ran 12.5 km on 2025-01-23",
		"Bought groceries for $127.43",
		"My order number is 1234 5678 9012 3456", // not a valid card number (Luhn)
		"I sleep 7 hours, 10 000 steps a day",
		"Room 1204, floor 12",
		"Sets of 100-1000 reps over the 2019-2020 season",
		"I ran 5.5 km in 31:45.30, at 10.30 this morning",
		"I weigh 180.5 lbs; my best deadlift is 405 lbs",
		"at 00:30 I woke up",
		"Ｍｙ ｆａｖｏｒｉｔｅ number is 7", // full-width, not personal
	} {
		if got := r.Redact(s); got != s {
			t.Errorf("Redact(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestRedactTypesAndCustom(t *testing.T) {
	r, err := NewRedactor(RedactConfig{Types: []string{RedactEmail}, Custom: []CustomPattern{{Name: "employee_id", Pattern: `EMP-\d{6}`}}})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Redact("I am EMP-123456, jane@example.com, 555-123-4567")
	if got != "I am [EMPLOYEE_ID], [EMAIL], 555-123-4567" {
		t.Errorf("got %q: custom and email redacted, phone not chosen", got)
	}
	for _, bad := range []RedactConfig{
		{Types: []string{"dna"}},
		{Custom: []CustomPattern{{Name: "x y", Pattern: "a"}}},
		{Custom: []CustomPattern{{Name: "empty", Pattern: "a*"}}},
	} {
		if _, err := NewRedactor(bad); err == nil {
			t.Errorf("NewRedactor(%+v) succeeded", bad)
		}
	}
	var none *Redactor
	if none.Redact("jane@example.com") != "jane@example.com" {
		t.Errorf("a nil Redactor must redact nothing")
	}
}
