package main

import (
	"strings"
	"testing"
)

func TestTableString(t *testing.T) {
	tb := newTable("a", "b")
	tb.add("1", "two")
	tb.add("3", "")
	want := "| a | b |\n| --- | --- |\n| 1 | two |\n| 3 |  |\n"
	if got := tb.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestSectionString(t *testing.T) {
	s := &section{title: "T"}
	s.printf("x %d\n\n", 1)
	if got := s.String(); got != "## T\n\nx 1\n" {
		t.Errorf("section = %q", got)
	}
}

func TestCounts(t *testing.T) {
	got := counts(map[string]int{"queued": 3, "": 1, "failed-open: outbox full": 2})
	want := "(none): 1, failed-open: outbox full: 2, queued: 3"
	if got != want {
		t.Errorf("counts = %q, want %q", got, want)
	}
}

func TestGoalTableOrderAndMissing(t *testing.T) {
	b := &bench{goals: map[string]*goal{}}
	b.setGoal("pass99", goal{what: "second", target: "t", measured: "m", met: false})
	b.setGoal("pass50", goal{what: "first", target: "t", measured: "m", met: true})
	got := b.goalTable()
	i, j := strings.Index(got, "first"), strings.Index(got, "second")
	if i < 0 || j < 0 || i > j {
		t.Errorf("goals out of order:\n%s", got)
	}
	if !strings.Contains(got, "| second | t | m | **no** |") || !strings.Contains(got, "| first | t | m | yes |") {
		t.Errorf("goal rows:\n%s", got)
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("%d lines, want 4 (head, separator, two goals):\n%s", n, got)
	}
	b.setGoal("memE", goal{what: "third", target: "t", measured: "m", unjudged: true})
	if got := b.goalTable(); !strings.Contains(got, "| third | t | m | – |") {
		t.Errorf("a goal with nothing to judge it against:\n%s", got)
	}
}
