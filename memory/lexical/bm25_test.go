package lexical

import (
	"math"
	"testing"
)

func scores(query string, xs ...*Index) map[string]float64 {
	out := make(map[string]float64)
	Score(query, xs, func(id string, s float64) { out[id] = s })
	return out
}

func TestScoreRanksRareTermsAndShortTextsHigher(t *testing.T) {
	x := NewIndex()
	x.Add("marathon", "Sarah is training for the Boston marathon in April")
	x.Add("running1", "Sarah likes running in the park")
	x.Add("running2", "Sarah went running with her dog")
	x.Add("running3", "Sarah hates running on a treadmill when it rains outside all day long")
	x.Add("cooking", "Sarah cooks pasta on Fridays")

	s := scores("marathon running", x)
	if len(s) != 4 {
		t.Fatalf("got %d memories, want the 4 that share a term: %v", len(s), s)
	}
	if _, ok := s["cooking"]; ok {
		t.Error("a memory with no term of the query was scored")
	}
	// "marathon" is in one memory, "running" in three: the rarer term
	// weighs more.
	if s["marathon"] <= s["running1"] {
		t.Errorf("rare term %v <= common term %v", s["marathon"], s["running1"])
	}
	// Same term once, longer text: lower.
	if s["running3"] >= s["running1"] {
		t.Errorf("long text %v >= short text %v", s["running3"], s["running1"])
	}
}

func TestScoreMatchesTheBM25Formula(t *testing.T) {
	x := NewIndex()
	x.Add("a", "apple apple banana") // 3 terms
	x.Add("b", "cherry")             // 1 term
	got := scores("apple", x)["a"]
	n, df, avg, tf, dl := 2.0, 1.0, 2.0, 2.0, 3.0
	idf := math.Log(1 + (n-df+0.5)/(df+0.5))
	want := idf * tf * (K1 + 1) / (tf + K1*(1-B+B*dl/avg))
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("score %v, want %v", got, want)
	}
}

func TestRemoveAndReplaceKeepStatisticsExact(t *testing.T) {
	x := NewIndex()
	x.Add("a", "apple banana")
	x.Add("b", "apple cherry")
	before := scores("apple", x)

	x.Add("c", "apple apple apple durian")
	x.Remove("c")
	x.Remove("unknown")
	after := scores("apple", x)
	if len(after) != 2 || after["a"] != before["a"] || after["b"] != before["b"] {
		t.Errorf("after adding and removing a memory: %v, want %v", after, before)
	}

	x.Add("a", "elderberry fig") // replaces a's text
	s := scores("apple", x)
	if _, ok := s["a"]; ok || len(s) != 1 {
		t.Errorf("a replaced memory still matches its old text: %v", s)
	}
	if s := scores("elderberry", x); s["a"] == 0 {
		t.Errorf("a replaced memory does not match its new text: %v", s)
	}
	x.Remove("a")
	x.Remove("b")
	if x.Len() != 0 || len(x.postings) != 0 || x.total != 0 {
		t.Errorf("empty index keeps %d memories, %d terms, total %d", x.Len(), len(x.postings), x.total)
	}
}

func TestScoreOverSeveralIndexesUsesTheirJointStatistics(t *testing.T) {
	one, two := NewIndex(), NewIndex()
	one.Add("a", "apple banana")
	two.Add("b", "apple cherry")
	two.Add("c", "cherry durian")
	joint := NewIndex()
	joint.Add("a", "apple banana")
	joint.Add("b", "apple cherry")
	joint.Add("c", "cherry durian")
	got, want := scores("apple cherry", one, two), scores("apple cherry", joint)
	for id, w := range want {
		if math.Abs(got[id]-w) > 1e-12 {
			t.Errorf("%s: %v over two indexes, %v over one holding both", id, got[id], w)
		}
	}
	if len(scores("apple")) != 0 || len(scores("", one)) != 0 {
		t.Error("no index or no query term: want nothing")
	}
}
