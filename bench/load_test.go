package main

import (
	"testing"
	"time"
)

func TestEventEnds(t *testing.T) {
	for _, c := range []struct {
		name  string
		reads []string
		want  []int
	}{
		{"one event", []string{"data: a\n\n"}, []int{1}},
		{"two in one read", []string{"data: a\n\ndata: b\n\n"}, []int{2}},
		{"blank line split across reads", []string{"data: a\n", "\ndata: b\n", "\n"}, []int{0, 1, 1}},
		{"named event", []string{"event: x\ndata: a\n\n"}, []int{1}},
		{"three newlines end one event", []string{"data: a\n\n\n", "data: b\n\n"}, []int{1, 1}},
		{"no event yet", []string{"data: a", "bc\n"}, []int{0, 0}},
	} {
		prev := false
		for i, r := range c.reads {
			var n int
			n, prev = eventEnds([]byte(r), prev)
			if n != c.want[i] {
				t.Errorf("%s: read %d (%q): %d events, want %d", c.name, i, r, n, c.want[i])
			}
		}
	}
}

func TestStageTimes(t *testing.T) {
	got := stageTimes("memproxy-embed;dur=0.012, memproxy-search;dur=1.5,memproxy-inject;desc=\"x\";dur=0.25, other;dur=9, memproxy-bad;dur=x, memproxy-none")
	want := map[string]time.Duration{"embed": 12 * time.Microsecond, "search": 1500 * time.Microsecond, "inject": 250 * time.Microsecond}
	if len(got) != len(want) {
		t.Errorf("stageTimes = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stage %s = %v, want %v", k, got[k], v)
		}
	}
	if got := stageTimes(""); len(got) != 0 {
		t.Errorf("stageTimes(\"\") = %v", got)
	}
}
