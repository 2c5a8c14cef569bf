package memory

import (
	"math"
	"slices"
	"testing"
	"time"
)

func hits(ids ...string) []Hit {
	var out []Hit
	for _, id := range ids {
		out = append(out, Hit{Memory: Memory{ID: id}})
	}
	return out
}

func ids(hs []Hit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

func TestFuse(t *testing.T) {
	dense := hits("a", "b", "c")
	lexical := hits("c", "d", "a")
	got := Fuse(10, dense, lexical)
	// a: 1/61 + 1/63; c: 1/63 + 1/61; a and c tie, then b (1/62) and d (1/62) tie.
	if want := []string{"a", "c", "b", "d"}; !slices.Equal(ids(got), want) {
		t.Errorf("fused order %v, want %v", ids(got), want)
	}
	norm := 2.0 / 61
	if want := (1.0/61 + 1.0/63) / norm; math.Abs(got[0].Score-want) > 1e-12 {
		t.Errorf("score of a %v, want %v", got[0].Score, want)
	}
	if top := Fuse(1, hits("x"), hits("x")); top[0].Score != 1 {
		t.Errorf("first in both rankings scores %v, want 1", top[0].Score)
	}
	if one := Fuse(1, hits("x"), nil); math.Abs(one[0].Score-0.5) > 1e-12 {
		t.Errorf("first in one ranking of two scores %v, want 0.5", one[0].Score)
	}
	if got := Fuse(2, dense, lexical); len(got) != 2 {
		t.Errorf("topK 2 returned %d", len(got))
	}
	if Fuse(0, dense) != nil || Fuse(3) != nil {
		t.Error("topK 0 or no ranking: want nil")
	}
}

func TestFuseBreaksTiesByRecency(t *testing.T) {
	old, recent := Hit{Memory: Memory{ID: "a", UpdatedAt: time.Unix(1, 0)}}, Hit{Memory: Memory{ID: "b", UpdatedAt: time.Unix(2, 0)}}
	got := Fuse(2, []Hit{old}, []Hit{recent})
	if want := []string{"b", "a"}; !slices.Equal(ids(got), want) {
		t.Errorf("order %v, want %v: the more recent first on a tie", ids(got), want)
	}
}
